// Warm templates per step of the execution service (templates.h).
#include "exec/templates.h"

#include <algorithm>

namespace exec::detail {

void Templates::open(const sandbox::Policy& policy, std::filesystem::path workspaces, unsigned workers) {
  std::lock_guard lock(mu_);
  workers_ = std::clamp(workers, 1u, 64u);
  policy_ = policy;
  workspaces_ = std::move(workspaces);
  std::error_code ec;
  if (std::filesystem::canonical(workspaces_, ec) != workspaces_)
    why_cold_ = "the scratch directory " + workspaces_.string() + " is not a canonical path";
  else if (!sandbox::probe().user_namespaces)
    why_cold_ = "no user namespaces on this kernel";
}

std::string Templates::why_cold() const {
  std::lock_guard lock(mu_);
  return why_cold_;
}

query::Result<sandbox::Outcome> Templates::run(std::string_view step, bool service_policy, const sandbox::Policy& policy,
                                               const sandbox::Command& command, const sandbox::RunOptions& options) {
  std::shared_ptr<sandbox::Template> t;
  if (service_policy) {
    std::lock_guard lock(mu_);
    if (why_cold_.empty()) {
      auto it = templates_.find(step);
      if (it == templates_.end()) {
        sandbox::Template::Options o;
        o.workspaces = workspaces_.string();
        o.spares = workers_;
        auto made = sandbox::Template::create(policy_, {}, o);
        if (!made) why_cold_ = made.error();  // the same for every step: not tried again
        else it = templates_.emplace(std::string(step), std::move(*made)).first;
      }
      if (it != templates_.end()) t = it->second;
    }
  }
  if (t) {
    auto r = t->run(command, policy.limits, options);
    if (r) {
      warm_.fetch_add(1, std::memory_order_relaxed);
      return r;
    }
    // Refused before the command started (the zygote could not start, the workspace could not be
    // opened): a cold run says the same or runs it.
  }
  cold_.fetch_add(1, std::memory_order_relaxed);
  return sandbox::run(policy, command, options);
}

}  // namespace exec::detail
