#pragma once
/// The web console's static files (web/dist, built by `make build`) served by the HTTP server:
/// hashed assets cached for a year, index.html revalidated, and every other non-API path
/// answered with index.html so that the single-page application's routes survive a reload.
#include <filesystem>
#include <string>

#include "common/config.h"
#include "common/http_server.h"

namespace akvo::console {

class WebAssets {
 public:
  struct Config {
    /// Folder holding index.html and assets/; empty: web/dist of the source tree.
    std::string web_root;
    /// The path the console is published under behind a reverse proxy that strips it
    /// ("/akvo/"): index.html gets `<base href="/akvo/">`, so that the application's assets,
    /// API calls and links go through the proxy. Always starts and ends with "/".
    std::string url_prefix = "/";
    void read(ConfigReader& r);
  };

  explicit WebAssets(Config config);
  /// Registers the catch-all GET prefix "/" (tried after every exact route and longer prefix).
  void registerRoutes(HttpServer& http);
  /// Answers one GET request: a file, index.html for an SPA route, or a JSON 404 under /api/.
  HttpResponse serve(const HttpRequest& req) const;
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
  std::string url_prefix_;
};

/// `url-prefix` as written ("akvo", "/akvo", "/akvo/") made "/akvo/"; empty when it holds
/// anything but letters, digits and -._~ path segments.
std::string normalizeUrlPrefix(const std::string& prefix);
/// index.html with its `<base href>` set to `prefix` (the tag replaced, or added at the start of
/// <head> when the page has none and the prefix is not "/").
std::string withBaseHref(std::string html, const std::string& prefix);

/// MIME type for a file name, by extension ("application/octet-stream" when unknown).
std::string contentTypeFor(const std::string& name);

}  // namespace akvo::console
