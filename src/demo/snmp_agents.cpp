#include "demo/snmp_agents.h"

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace akvo::demo {

SnmpAgents::SnmpAgents(std::vector<DemoRouter> routers, uint16_t port, std::string snmpd)
    : routers_(std::move(routers)), port_(port), snmpd_(std::move(snmpd)) {
  if (snmpd_.empty()) {
    for (const char* p : {"/usr/sbin/snmpd", "/usr/local/sbin/snmpd"})
      if (access(p, X_OK) == 0) snmpd_ = p;
  }
}

SnmpAgents::~SnmpAgents() { stop(); }

std::string SnmpAgents::configFor(const DemoRouter& r, uint16_t port, const std::string& dir) {
  std::string c = fmt::format(
      "agentAddress udp:{}:{}\nrocommunity public 127.0.0.0/8\nsysName {}\n"
      "sysLocation akvo demo\npersistentDir {}\n",
      r.address, port, r.name, dir);
  // The values a router would answer for each interface (IF-MIB, RFC 2863).
  for (const auto& i : r.interfaces) {
    c += fmt::format("override .1.3.6.1.2.1.31.1.1.1.1.{} octet_str \"{}\"\n", i.index, i.name);
    c += fmt::format("override .1.3.6.1.2.1.2.2.1.2.{} octet_str \"{}\"\n", i.index, i.name);
    c += fmt::format("override .1.3.6.1.2.1.31.1.1.1.18.{} octet_str \"{}\"\n", i.index,
                     i.description);
    c += fmt::format("override .1.3.6.1.2.1.31.1.1.1.15.{} unsigned {}\n", i.index, i.speed_mbps);
  }
  return c;
}

bool SnmpAgents::start() {
  if (snmpd_.empty()) {
    spdlog::warn("demo exporter: snmpd not found (apt-get install snmpd): the demo routers will "
                 "not answer SNMP, their flows stay unnamed");
    return false;
  }
  dir_ = (std::filesystem::temp_directory_path() / fmt::format("akvo-demo-snmp-{}", getpid()))
             .string();
  std::filesystem::create_directories(dir_);
  for (size_t i = 0; i < routers_.size(); i++) {
    std::string sub = fmt::format("{}/{}", dir_, i);
    std::filesystem::create_directories(sub);
    std::string conf = sub + "/snmpd.conf", log = sub + "/snmpd.log";
    std::ofstream(conf) << configFor(routers_[i], port_, sub);
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive akvo
      // akvo blocks SIGTERM in its threads to wait for it: the agent must not inherit that.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      setenv("MIBS", "", 1);
      setenv("SNMP_PERSISTENT_DIR", sub.c_str(), 1);
      execl(snmpd_.c_str(), "snmpd", "-f", "-C", "-c", conf.c_str(), "-Lf", log.c_str(), "-I",
            "-ifTable,ifXTable", static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid > 0) pids_.push_back(pid);
  }
  spdlog::info("demo exporter: {} SNMP agents (snmpd) on port {} of the routers' addresses",
               pids_.size(), port_);
  return true;
}

void SnmpAgents::stop() {
  for (pid_t p : pids_) kill(p, SIGTERM);
  for (pid_t p : pids_) {
    int status;
    waitpid(p, &status, 0);
  }
  pids_.clear();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

}  // namespace akvo::demo
