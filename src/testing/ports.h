#pragma once
/// A loopback port free at the time of asking, for the servers tests start (ClickHouse, snmpd,
/// Python's TLS server). Another process may take it before the server binds: tests only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace akvo::testing {

/// `type`: SOCK_STREAM for a TCP port, SOCK_DGRAM for a UDP one.
inline uint16_t freeLoopbackPort(int type = SOCK_STREAM) {
  int fd = socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

}  // namespace akvo::testing
