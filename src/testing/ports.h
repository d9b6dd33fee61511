#pragma once
/// A loopback port free at the time of asking, for the servers tests start (ClickHouse, snmpd,
/// Python's TLS server). Another process may take it before the server binds: tests only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace akvo::testing {

/// A socket bound to a port the system picks on 127.0.0.1 (-1 when it cannot be), its port in
/// `port`. `type`: SOCK_STREAM for TCP, SOCK_DGRAM for UDP.
inline int boundLoopbackSocket(int type, uint16_t* port) {
  int fd = socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

/// `type`: SOCK_STREAM for a TCP port, SOCK_DGRAM for a UDP one.
inline uint16_t freeLoopbackPort(int type = SOCK_STREAM) {
  uint16_t port = 0;
  int fd = boundLoopbackSocket(type, &port);
  if (fd >= 0) close(fd);
  return port;
}

}  // namespace akvo::testing
