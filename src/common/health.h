#pragma once
/// Health of the running components, for /api/v0/healthcheck and `akvo healthcheck`, as
/// Akvorado's: an overall status (the worst of the components': ok, warning, error) and each
/// component's status with its reason. Components register a check that must be quick and
/// must not block (it reads state the component keeps).
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace akvo {

class Health {
 public:
  enum class Status { kOk = 0, kWarning = 1, kError = 2 };
  struct State {
    Status status = Status::kOk;
    std::string reason;
  };
  using Check = std::function<State()>;

  void add(std::string component, Check check) {
    std::lock_guard l(mutex_);
    checks_.emplace_back(std::move(component), std::move(check));
  }

  /// {"status": "ok", "details": {"<component>": {"status": "ok", "reason": "..."}}}
  nlohmann::json report(Status* worst_out = nullptr) const {
    std::lock_guard l(mutex_);
    Status worst = Status::kOk;
    nlohmann::json details = nlohmann::json::object();
    for (const auto& [name, check] : checks_) {
      State s = check();
      if (s.status > worst) worst = s.status;
      nlohmann::json d{{"status", name_of(s.status)}};
      if (!s.reason.empty()) d["reason"] = s.reason;
      details[name] = std::move(d);
    }
    if (worst_out) *worst_out = worst;
    return {{"status", name_of(worst)}, {"details", std::move(details)}};
  }

  static const char* name_of(Status s) {
    return s == Status::kOk ? "ok" : s == Status::kWarning ? "warning" : "error";
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, Check>> checks_;
};

}  // namespace akvo
