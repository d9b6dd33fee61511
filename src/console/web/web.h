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
};

/// MIME type for a file name, by extension ("application/octet-stream" when unknown).
std::string contentTypeFor(const std::string& name);

}  // namespace akvo::console
