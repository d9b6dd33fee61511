#include "common/tls.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace akvo {

void TlsConfig::read(ConfigReader& r) {
  r.field("enable", enable);
  r.field("skip-verify", skip_verify);
  r.field("ca-file", ca_file);
  r.field("cert-file", cert_file);
  r.field("key-file", key_file);
  for (const auto& [key, file] : {std::pair<const char*, const std::string&>{"ca-file", ca_file},
                                  {"cert-file", cert_file},
                                  {"key-file", key_file}}) {
    if (file.empty()) continue;
    if (!enable) r.fail(key, "set while tls.enable is false (set enable: true to use TLS)");
    std::ifstream in(file);
    if (!in) r.fail(key, fmt::format("cannot read \"{}\": {}", file, std::strerror(errno)));
    if (std::filesystem::is_directory(file))
      r.fail(key, fmt::format("\"{}\" is a directory, not a PEM file", file));
  }
  if (!key_file.empty() && cert_file.empty())
    r.fail("key-file", "needs cert-file (the client certificate of this key)");
}

}  // namespace akvo
