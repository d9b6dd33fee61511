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

}  // namespace akvo::testing
