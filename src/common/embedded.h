#pragma once
/// Files of the repository built into the binary (data/*.csv, docs/*.md), so that one binary
/// carries everything it serves.
#include <cstddef>
#include <string_view>

namespace akvo {
/// Content of "data/protocols.csv", "docs/intro.md"...; empty when unknown.
std::string_view embeddedFile(std::string_view path);
/// The i-th embedded file's path (empty past the end); its content in *content if given.
std::string_view embeddedFileList(size_t i, std::string_view* content = nullptr);
}  // namespace akvo
