#pragma once
/// For tests: a real Debian `snmpd` started on a free loopback UDP port with its own
/// configuration in a temporary folder, answering v2c (communities) and v3 (USM users), and
/// stopped by the destructor.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "testing/ports.h"

namespace akvo::testing {

class Snmpd {
 public:
  /// `extra` is appended to the generated snmpd.conf (sysName, override lines...).
  explicit Snmpd(const std::string& extra) {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("akvo-snmpd-{}-{}", ::getpid(), counter()++);
    std::filesystem::create_directories(dir_);
    port_ = freeUdpPort();
    std::ofstream(dir_ / "snmpd.conf") << fmt::format(
        "agentAddress udp:127.0.0.1:{}\n"
        "rocommunity public 127.0.0.1\n"
        "createUser authpriv SHA \"authpass123\" AES \"privpass123\"\n"
        "createUser authonly MD5 \"authpass123\"\n"
        "rouser authpriv priv\n"
        "rouser authonly auth\n"
        "{}\n",
        port_, extra);
    pid_ = fork();
    if (pid_ == 0) {
      std::string persist = "SNMP_PERSISTENT_DIR=" + (dir_ / "persist").string();
      putenv(persist.data());
      setenv("MIBS", "", 1);
      std::string conf = (dir_ / "snmpd.conf").string(), log = (dir_ / "snmpd.log").string();
      execl("/usr/sbin/snmpd", "snmpd", "-f", "-C", "-c", conf.c_str(), "-Lf", log.c_str(),
            "-I", "-ifTable,ifXTable", static_cast<char*>(nullptr));
      _exit(127);
    }
    // Ready when the port is taken by snmpd.
    for (int i = 0; i < 100 && !listening(); i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~Snmpd() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status;
      waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  uint16_t port() const { return port_; }
  bool running() const { return pid_ > 0 && kill(pid_, 0) == 0; }

  static uint16_t freeUdpPort() { return freeLoopbackPort(SOCK_DGRAM); }

 private:
  static int& counter() {
    static int c = 0;
    return c;
  }
  bool listening() const {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    bool taken = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0;
    close(fd);
    return taken;
  }
  std::filesystem::path dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace akvo::testing
