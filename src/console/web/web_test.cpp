#include "console/web/web.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace akvo::console {
namespace {

namespace fs = std::filesystem;

class WebAssetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("akvo-web-test-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(root_ / "assets");
    write("index.html", "<!doctype html><div id=app></div>");
    write("assets/index-3f2a.js", "console.log(1)");
    write("favicon.svg", "<svg/>");
    fs::create_directories(root_.parent_path() / "secret-dir");
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& content) {
    std::ofstream(root_ / rel, std::ios::binary) << content;
  }
  HttpResponse get(const std::string& path, std::map<std::string, std::string> headers = {},
                   const std::string& url_prefix = "/") {
    WebAssets w({root_.string(), url_prefix});
    HttpRequest req;
    req.method = "GET";
    req.path = path;
    req.headers = std::move(headers);
    return w.serve(req);
  }
  static std::string header(const HttpResponse& r, const std::string& name) {
    for (auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }
  fs::path root_;
};

TEST_F(WebAssetsTest, ServesHashedAssetsWithLongCache) {
  auto r = get("/assets/index-3f2a.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "console.log(1)");
  EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(header(r, "Cache-Control"), "public, max-age=31536000, immutable");
}

TEST_F(WebAssetsTest, IndexAndOtherFilesAreRevalidated) {
  auto r = get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
  auto svg = get("/favicon.svg");
  EXPECT_EQ(svg.body, "<svg/>");
  EXPECT_EQ(svg.content_type, "image/svg+xml");
  EXPECT_EQ(header(svg, "Cache-Control"), "no-cache");
}

TEST_F(WebAssetsTest, SpaRoutesFallBackToIndex) {
  for (const char* p : {"/visualize", "/visualize/v1-abc", "/docs/intro"}) {
    auto r = get(p);
    EXPECT_EQ(r.status, 200) << p;
    EXPECT_EQ(r.body, "<!doctype html><div id=app></div>") << p;
  }
}

TEST_F(WebAssetsTest, MissingAssetIsNotFoundAndApiIsJson) {
  EXPECT_EQ(get("/assets/old-1234.js").status, 404);
  auto api = get("/api/v0/console/nothing");
  EXPECT_EQ(api.status, 404);
  EXPECT_EQ(api.content_type, "application/json");
  EXPECT_NE(api.body.find("\"message\""), std::string::npos);
}

TEST_F(WebAssetsTest, TraversalNeverLeavesTheRoot) {
  std::ofstream(root_.parent_path() / "akvo-web-secret.txt") << "secret";
  for (const char* p : {"/../akvo-web-secret.txt", "/assets/../../akvo-web-secret.txt",
                        "/.hidden", "/..%2fakvo-web-secret.txt"}) {
    auto r = get(p);
    EXPECT_NE(r.body, "secret") << p;
    EXPECT_NE(r.status == 200 && r.content_type == "text/plain; charset=utf-8", true) << p;
  }
  fs::remove(root_.parent_path() / "akvo-web-secret.txt");
}

TEST_F(WebAssetsTest, EtagGivesNotModified) {
  auto r = get("/assets/index-3f2a.js");
  std::string etag = header(r, "ETag");
  ASSERT_FALSE(etag.empty());
  auto again = get("/assets/index-3f2a.js", {{"if-none-match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
}

// console.url-prefix, as Akvorado's: behind a proxy that strips /akvo/, index.html says
// <base href="/akvo/"> so that the page's relative URLs (assets, API, routes) take the prefix.
TEST_F(WebAssetsTest, IndexGetsTheBaseHrefOfTheUrlPrefix) {
  write("index.html",
        "<!doctype html><html><head><meta charset=\"UTF-8\" /><base href=\"/\" />"
        "<script type=\"module\" src=\"./assets/index-3f2a.js\"></script></head><body></body></html>");
  for (const char* p : {"/", "/index.html", "/visualize/v1-abc", "/docs/intro"}) {
    auto r = get(p, {}, "/akvo/");
    EXPECT_EQ(r.status, 200) << p;
    EXPECT_EQ(r.body,
              "<!doctype html><html><head><meta charset=\"UTF-8\" /><base href=\"/akvo/\">"
              "<script type=\"module\" src=\"./assets/index-3f2a.js\"></script></head><body></body></html>")
        << p;
  }
  // Without a prefix the page is as built; assets are never rewritten.
  EXPECT_NE(get("/").body.find("<base href=\"/\">"), std::string::npos);
  EXPECT_EQ(get("/assets/index-3f2a.js", {}, "/akvo/").body, "console.log(1)");
  // A page changed by the prefix is another page for caches.
  EXPECT_NE(header(get("/", {}, "/akvo/"), "ETag"), header(get("/"), "ETag"));
  auto again = get("/", {{"if-none-match", header(get("/", {}, "/akvo/"), "ETag")}}, "/akvo/");
  EXPECT_EQ(again.status, 304);
}

TEST(WebAssets, BaseHrefInsertedWhereThePageHasNone) {
  EXPECT_EQ(withBaseHref("<html><HEAD lang=x><title>t</title></HEAD></html>", "/a/b/"),
            "<html><HEAD lang=x><base href=\"/a/b/\"><title>t</title></HEAD></html>");
  EXPECT_EQ(withBaseHref("<!doctype html><div id=app></div>", "/a/"),
            "<!doctype html><base href=\"/a/\"><div id=app></div>");
  EXPECT_EQ(withBaseHref("<!doctype html><div id=app></div>", "/"), "<!doctype html><div id=app></div>");
  EXPECT_EQ(withBaseHref("<head><BASE HREF='/old/'></head>", "/new/"), "<head><base href=\"/new/\"></head>");
  // <basefont> is not <base>.
  EXPECT_EQ(withBaseHref("<head><basefont size=3></head>", "/p/"), "<head><base href=\"/p/\"><basefont size=3></head>");
}

TEST(WebAssets, UrlPrefixIsNormalizedOrRefused) {
  EXPECT_EQ(normalizeUrlPrefix(""), "/");
  EXPECT_EQ(normalizeUrlPrefix("/"), "/");
  EXPECT_EQ(normalizeUrlPrefix("akvo"), "/akvo/");
  EXPECT_EQ(normalizeUrlPrefix("/akvo"), "/akvo/");
  EXPECT_EQ(normalizeUrlPrefix("//tools//akvo-1.2_x~/"), "/tools/akvo-1.2_x~/");
  for (const char* bad : {"/a/../b", "/a b/", "/\"><script>", "/a?x=1", "/%2e%2e/", "http://x/"})
    EXPECT_EQ(normalizeUrlPrefix(bad), "") << bad;
  auto read = [](const std::string& yaml) {
    WebAssets::Config c;
    ConfigReader r(YAML::Load(yaml), "akvo.yaml", "console");
    c.read(r);
    return c.url_prefix;
  };
  EXPECT_EQ(read("url-prefix: /akvo"), "/akvo/");
  EXPECT_EQ(read("{}"), "/");
  EXPECT_THROW(read("url-prefix: /a/../b"), ConfigError);
}

TEST_F(WebAssetsTest, UnbuiltConsoleExplainsItself) {
  fs::remove(root_ / "index.html");
  auto r = get("/visualize");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("make build"), std::string::npos);
}

TEST(WebAssets, ApiRoutesWinOverTheCatchAll) {
  Metrics metrics;
  HttpServer::Config hc;
  hc.listen = "127.0.0.1:0";
  HttpServer http(hc, metrics);
  http.route("GET", "/api/v0/healthcheck",
             [](const HttpRequest&) { return HttpResponse::json(R"({"status":"ok"})"); });
  WebAssets w({"/nonexistent-akvo-web-root"});
  w.registerRoutes(http);
  http.start();
  std::string hp = "127.0.0.1:" + std::to_string(http.port());
  auto health = httpRequest(hp, "GET", "/api/v0/healthcheck");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  EXPECT_EQ(httpRequest(hp, "GET", "/api/v0/nothing").status, 404);
  EXPECT_EQ(httpRequest(hp, "GET", "/visualize").status, 503);
  http.stop();
}

TEST(WebAssets, ContentTypes) {
  EXPECT_EQ(contentTypeFor("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(contentTypeFor("a.woff2"), "font/woff2");
  EXPECT_EQ(contentTypeFor("a.bin"), "application/octet-stream");
}

}  // namespace
}  // namespace akvo::console
