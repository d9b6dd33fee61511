// GEN-10: the health sockets of a process and `akvo healthcheck`'s targets and exit codes.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <atomic>
#include <sstream>

#include "app/app.h"

namespace akvo {
namespace {

/// A name of its own: abstract names are shared by every process of the network namespace.
std::string uniqueName() {
  static std::atomic<int> n{0};
  return fmt::format("@akvo-test-health-{}-{}", getpid(), n++);
}

TEST(Healthcheck, Targets) {
  using V = std::vector<HealthTarget>;
  // Nothing given: the default socket, then the default HTTP address.
  EXPECT_EQ(healthcheckTargets("", "", "", ""),
            (V{{"@akvo", "/api/v0/healthcheck"}, {"127.0.0.1:8081", "/api/v0/healthcheck"}}));
  EXPECT_EQ(healthcheckTargets("", "", "outlet", ""),
            (V{{"@akvo/outlet", "/api/v0/healthcheck"},
               {"127.0.0.1:8081", "/api/v0/outlet/healthcheck"}}));
  // One place given: only there.
  EXPECT_EQ(healthcheckTargets("h:1", "", "", ""), (V{{"h:1", "/api/v0/healthcheck"}}));
  EXPECT_EQ(healthcheckTargets("h:1", "", "console", ""), (V{{"h:1", "/api/v0/console/healthcheck"}}));
  EXPECT_EQ(healthcheckTargets("", "other", "", ""), (V{{"@other", "/api/v0/healthcheck"}}));
  EXPECT_EQ(healthcheckTargets("", "@other", "inlet", ""), (V{{"@other/inlet", "/api/v0/healthcheck"}}));
  EXPECT_EQ(healthcheckTargets("", "", "", "127.0.0.1:9000"),
            (V{{"127.0.0.1:9000", "/api/v0/healthcheck"}}));
}

TEST(Healthcheck, OverTheHealthSocket) {
  Metrics metrics;
  Health health;
  std::atomic<int> state{0};
  health.add("outlet", [&] {
    return Health::State{Health::Status(state.load()), state ? "inserts failing" : ""};
  });
  HttpServer::Config hc;
  hc.health_socket = uniqueName();
  auto servers = startHealthSockets(hc, metrics, health, {"outlet", "console"});
  ASSERT_EQ(servers.size(), 3u);  // the name, name/outlet, name/console

  auto run = [&](const std::vector<HealthTarget>& targets, std::string* printed = nullptr,
                 std::string* said = nullptr) {
    std::ostringstream out, err;
    int rc = runHealthcheck(targets, out, err);
    if (printed) *printed = out.str();
    if (said) *said = err.str();
    return rc;
  };
  std::string printed, said;
  EXPECT_EQ(run(healthcheckTargets("", hc.health_socket, "", ""), &printed), 0);
  auto body = nlohmann::json::parse(printed);
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["details"]["outlet"]["status"], "ok");
  EXPECT_EQ(run(healthcheckTargets("", hc.health_socket, "outlet", "")), 0);
  EXPECT_EQ(run(healthcheckTargets("", hc.health_socket, "console", "")), 0);
  // The service's path answers too on the main socket; nothing else is served there.
  EXPECT_EQ(httpRequest(hc.health_socket, "GET", "/api/v0/outlet/healthcheck").status, 200);
  EXPECT_EQ(httpRequest(hc.health_socket, "GET", "/api/v0/metrics").status, 404);
  EXPECT_EQ(httpRequest(hc.health_socket, "GET", "/api/v0/version").status, 404);
  // A service this process does not run: no socket, no answer.
  EXPECT_EQ(run(healthcheckTargets("", hc.health_socket, "inlet", ""), nullptr, &said), 1);
  EXPECT_NE(said.find("no answer"), std::string::npos) << said;

  // Warning: exit 0; error (HTTP 503): exit 1, the answer printed all the same.
  state = 1;
  EXPECT_EQ(run(healthcheckTargets("", hc.health_socket, "", ""), &printed), 0);
  EXPECT_EQ(nlohmann::json::parse(printed)["status"], "warning");
  state = 2;
  EXPECT_EQ(run(healthcheckTargets("", hc.health_socket, "outlet", ""), &printed), 1);
  EXPECT_EQ(nlohmann::json::parse(printed)["status"], "error");
  EXPECT_EQ(nlohmann::json::parse(printed)["details"]["outlet"]["reason"], "inserts failing");
  state = 0;

  // Taken names: a second process goes on without them (no throw, no server).
  std::vector<std::unique_ptr<HttpServer>> second;
  EXPECT_NO_THROW(second = startHealthSockets(hc, metrics, health, {"outlet"}));
  EXPECT_TRUE(second.empty());
  // "" turns them off.
  HttpServer::Config off = hc;
  off.health_socket = "";
  EXPECT_TRUE(startHealthSockets(off, metrics, health, {"outlet"}).empty());

  // The next target is asked only when one does not answer: a missing socket, then the live one.
  const std::string missing = uniqueName();
  EXPECT_EQ(run({{missing, "/api/v0/healthcheck"}, {hc.health_socket, "/api/v0/healthcheck"}}), 0);
  // Nothing answers: exit 1, each failure said.
  EXPECT_EQ(run({{missing, "/api/v0/healthcheck"}}, nullptr, &said), 1);
  EXPECT_NE(said.find(missing), std::string::npos) << said;

  // Stopped: gone.
  servers.clear();
  EXPECT_EQ(run(healthcheckTargets("", hc.health_socket, "", "")), 1);
  // Requests through the sockets are counted like any other, by route.
  EXPECT_NE(metrics.render().find("akvo_http_requests_total{handler=\"/api/v0/healthcheck\",method="
                                  "\"GET\",code=\"503\"}"),
            std::string::npos);
}

}  // namespace
}  // namespace akvo
