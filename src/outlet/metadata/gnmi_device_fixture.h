#pragma once
/// For tests: the scripted gNMI device (tests/tools/gnmi_device.py, Python grpcio) started on a
/// free loopback TCP port, and stopped by the destructor. Run from the source folder (ctest's
/// working directory).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "testing/ports.h"

namespace akvo::testing {

class GnmiDevice {
 public:
  /// True when Debian's Python has grpcio and grpc_tools (scripts/deps.sh --test).
  static bool available() {
    return std::system("/usr/bin/python3 -c 'import grpc, grpc_tools' >/dev/null 2>&1") == 0;
  }
  /// `args`: the script's options after --port (--model ietf, --username u...).
  explicit GnmiDevice(std::vector<std::string> args) {
    port_ = freeLoopbackPort(SOCK_STREAM);
    args.insert(args.begin(), {"/usr/bin/python3", "tests/tools/gnmi_device.py", "--port",
                               std::to_string(port_)});
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    // Ready when it accepts connections (stub generation takes about a second).
    for (int i = 0; i < 200 && !listening(); i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~GnmiDevice() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status;
      waitpid(pid_, &status, 0);
    }
  }
  uint16_t port() const { return port_; }
  bool running() const { return pid_ > 0 && kill(pid_, 0) == 0 && listening(); }

 private:
  bool listening() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return ok;
  }
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace akvo::testing
