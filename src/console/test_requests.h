#pragma once
/// For tests: console API requests, run the way the HTTP server runs them.
#include <map>
#include <string>

#include "console/console.h"

namespace akvo::console {

inline HttpRequest request(const std::string& method, const std::string& route, const std::string& body = "",
                           std::map<std::string, std::string> headers = {}) {
  HttpRequest r;
  r.method = method;
  r.path = std::string(Console::kPrefix) + route;
  r.body = body;
  r.headers = std::move(headers);
  return r;
}

/// Runs a request the way the HTTP server does: HttpError becomes a JSON error.
inline HttpResponse call(Console& c, const HttpRequest& r) {
  try {
    return c.handle(r);
  } catch (const HttpError& e) {
    return HttpResponse::error(e.status, e.what());
  }
}

}  // namespace akvo::console
