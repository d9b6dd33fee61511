#pragma once
/// A component's configuration section read from YAML text, as the application reads it
/// (errors name `file`, the line and `path`): for tests and benchmarks.
#include <yaml-cpp/yaml.h>

#include <string>

#include "common/config.h"

namespace akvo::testing {

template <class T>
T readSection(const std::string& yaml, const char* path, const char* file = "test.yaml") {
  YAML::Node n = YAML::Load(yaml);
  ConfigReader r(n, file, path);
  T c;
  c.read(r);
  r.finish();
  return c;
}

/// The same for a section whose read() takes more arguments (the schema...).
template <class T, class... Args>
T readSectionWith(const std::string& yaml, const char* path, const Args&... args) {
  YAML::Node n = YAML::Load(yaml);
  ConfigReader r(n, "akvo.yaml", path);
  T c;
  c.read(r, args...);
  r.finish();
  return c;
}

/// The message of the configuration error `read` throws, "accepted" when it throws none.
template <class Fn>
std::string configError(Fn&& read) {
  try {
    read();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace akvo::testing
