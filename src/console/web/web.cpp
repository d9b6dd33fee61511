#include "console/web/web.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <system_error>

namespace akvo::console {

namespace fs = std::filesystem;

void WebAssets::Config::read(ConfigReader& r) { r.field("web-root", web_root); }

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
