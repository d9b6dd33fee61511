#include "console/web/web.h"

#include <fmt/format.h>

#include <strings.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <system_error>

namespace akvo::console {

namespace fs = std::filesystem;

void WebAssets::Config::read(ConfigReader& r) {
  r.field("web-root", web_root);
  r.field("url-prefix", url_prefix);
  std::string normalized = normalizeUrlPrefix(url_prefix);
  if (normalized.empty())
    r.fail("url-prefix", fmt::format("\"{}\" is not a URL path such as /akvo/ (letters, digits "
                                     "and -._~ between slashes)",
                                     url_prefix));
  url_prefix = normalized;
}

std::string normalizeUrlPrefix(const std::string& prefix) {
  std::string out = "/";
  size_t i = 0;
  while (i < prefix.size()) {
    size_t slash = prefix.find('/', i);
    if (slash == std::string::npos) slash = prefix.size();
    std::string seg = prefix.substr(i, slash - i);
    i = slash + 1;
    if (seg.empty()) continue;  // leading, trailing or doubled slashes
    if (seg == "." || seg == "..") return "";
    for (char c : seg)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_' && c != '~')
        return "";
    out += seg + "/";
  }
  return out;
}

namespace {
/// Position of `needle` in `hay`, ASCII case-insensitively, from `from`.
size_t findNoCase(const std::string& hay, std::string_view needle, size_t from = 0) {
  for (size_t i = from; i + needle.size() <= hay.size(); i++)
    if (strncasecmp(hay.data() + i, needle.data(), needle.size()) == 0) return i;
  return std::string::npos;
}
}  // namespace

std::string withBaseHref(std::string html, const std::string& prefix) {
  std::string tag = fmt::format("<base href=\"{}\">", prefix);
  size_t base = findNoCase(html, "<base");
  if (base != std::string::npos && base + 5 < html.size() &&
      (std::isspace(static_cast<unsigned char>(html[base + 5])) || html[base + 5] == '>' || html[base + 5] == '/')) {
    size_t end = html.find('>', base);
    if (end != std::string::npos) return html.replace(base, end + 1 - base, tag);
  }
  if (prefix == "/") return html;  // relative URLs already resolve from the root
  size_t at = 0;
  size_t head = findNoCase(html, "<head");
  if (head != std::string::npos) {
    at = html.find('>', head);
    at = at == std::string::npos ? html.size() : at + 1;
  } else if (size_t doctype = findNoCase(html, "<!doctype"); doctype != std::string::npos) {
    at = html.find('>', doctype);
    at = at == std::string::npos ? html.size() : at + 1;
  }
  return html.insert(at, tag);
}

namespace {
/// Where `make build` leaves the web console: web/dist of the source tree, found from the
/// binary (build/release/akvo) or, failing that, from the current folder.
fs::path defaultWebRoot() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path();
         dir = dir.parent_path()) {
      if (fs::exists(dir / "web" / "dist" / "index.html", ec)) return dir / "web" / "dist";
    }
  }
  return fs::current_path(ec) / "web" / "dist";
}
}  // namespace

WebAssets::WebAssets(Config config) {
  root_ = config.web_root.empty() ? defaultWebRoot() : fs::path(config.web_root);
  std::string prefix = normalizeUrlPrefix(config.url_prefix);
  url_prefix_ = prefix.empty() ? std::string(1, '/') : std::move(prefix);  // read() refuses it first
}

void WebAssets::registerRoutes(HttpServer& http) {
  http.prefix("GET", "/", [this](const HttpRequest& req) { return serve(req); });
}

std::string contentTypeFor(const std::string& name) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
  };
  std::string ext = fs::path(name).extension().string();
  for (auto& [e, t] : kTypes)
    if (ext == e) return t;
  return "application/octet-stream";
}

namespace {

/// Reads a regular file; false when it is missing or not a regular file.
bool readFile(const fs::path& p, std::string& out) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return false;
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

/// Weak validator from size and modification time.
std::string etagOf(const fs::path& p) {
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  auto mtime = fs::last_write_time(p, ec).time_since_epoch().count();
  return fmt::format("W/\"{:x}-{:x}\"", size, static_cast<uint64_t>(mtime));
}

}  // namespace

HttpResponse WebAssets::serve(const HttpRequest& req) const {
  const std::string& path = req.path;
  if (path.rfind("/api/", 0) == 0 || path == "/api")
    return HttpResponse::error(404, fmt::format("no API route for {}", path));

  // Only plain relative segments: no "..", no empty or hidden segments reach the disk.
  fs::path rel;
  bool clean = !path.empty() && path[0] == '/';
  std::string_view rest = path;
  while (clean && !rest.empty()) {
    rest.remove_prefix(1);
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (seg.empty()) continue;
    if (seg[0] == '.' || seg.find('\\') != std::string_view::npos || seg.find('\0') != std::string_view::npos) {
      clean = false;
      break;
    }
    rel /= std::string(seg);
  }

  HttpResponse resp;
  fs::path file;
  bool asset = false;
  std::string body;
  if (clean && !rel.empty() && readFile(root_ / rel, body)) {
    file = root_ / rel;
    asset = path.rfind("/assets/", 0) == 0;
  } else {
    // A file-looking path under /assets/ that does not exist is a real 404 (a stale page asking
    // for an old bundle must not get HTML as JavaScript).
    if (path.rfind("/assets/", 0) == 0)
      return HttpResponse::error(404, fmt::format("no such asset: {}", path));
    file = root_ / "index.html";
    if (!readFile(file, body)) {
      resp.status = 503;
      resp.content_type = "text/html; charset=utf-8";
      resp.body = fmt::format(
          "<!doctype html><title>akvo</title><h1>The web console is not built</h1>"
          "<p>No <code>index.html</code> in <code>{}</code>. Run <code>make build</code> (it runs "
          "<code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>) or set "
          "<code>console.web-root</code>. The API answers under <code>/api/v0/</code>.</p>",
          root_.string());
      resp.headers.emplace_back("Cache-Control", "no-store");
      return resp;
    }
  }
  std::string etag = etagOf(file);
  if (file == root_ / "index.html") {
    // The page names the prefix it is served under: a new prefix is a new page.
    body = withBaseHref(std::move(body), url_prefix_);
    if (url_prefix_ != "/")
      etag.insert(etag.size() - 1, fmt::format("-{:x}", std::hash<std::string>{}(url_prefix_)));
  }
  // Vite names assets by content hash: they never change under the same name.
  resp.headers.emplace_back("Cache-Control",
                            asset ? "public, max-age=31536000, immutable" : "no-cache");
  resp.headers.emplace_back("ETag", etag);
  resp.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (req.header("if-none-match") == etag) {
    resp.status = 304;
    resp.content_type = contentTypeFor(file.string());
    return resp;
  }
  resp.content_type = contentTypeFor(file.string());
  resp.body = std::move(body);
  return resp;
}

}  // namespace akvo::console
