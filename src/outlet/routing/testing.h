#pragma once
/// Test helpers for BMP: the TCP stream of a capture, and its framing into BMP messages.
#include <span>
#include <string>
#include <vector>

#include <cstdint>

namespace akvo::routing::testing {

/// The bytes of the first TCP direction seen in a pcap (Ethernet/IPv4/IPv6 framing), ordered by
/// sequence number, duplicates dropped. Throws std::runtime_error on an unreadable file.
std::vector<uint8_t> tcpStream(const std::string& path);

/// Splits a byte stream into complete BMP messages (a trailing partial message is dropped).
std::vector<std::span<const uint8_t>> splitBmp(std::span<const uint8_t> stream);

}  // namespace akvo::routing::testing
