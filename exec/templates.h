// Warm sandbox templates for the execution service's steps (sandbox.h: Template): one per step of
// a language ("c/compile", "c/run", "python/run", "command"), all with the service's policy and
// per-run workspaces beneath the service's scratch directory, each run with its job's limits. A
// job whose policy is another (`strict` on a server whose policy is not) runs cold (sandbox::run).
//
// Invariant: a warm run is what a cold run of the same policy, limits and workspace would be (the
// same Outcome), isolated from the other jobs as a cold run is (its own /tmp, processes, IPC, and
// only its own workspace in view: Template::Options::workspaces). A template that cannot be made
// or started here (not root, no user namespaces) leaves its runs cold; nothing is run twice: only a
// run refused before its command started (an Error) is run again cold.
// Cost: a template's first run is a cold run plus the zygote's exec; later runs skip the root
// filesystem's mounts (README, "Warm templates"). One small zygote process per step in use, gone
// after a minute idle.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "sandbox/sandbox.h"

namespace exec::detail {

class Templates {
 public:
  // `workspaces`: the directory the jobs' workspaces are made in (canonical, else every run is cold).
  void open(const sandbox::Policy& policy, std::filesystem::path workspaces, unsigned workers);
  // Runs `command` (its workspace beneath `workspaces`) under `policy`: warm when `service_policy`
  // (the job's policy is the service's; `policy.limits` are the job's), else cold.
  query::Result<sandbox::Outcome> run(std::string_view step, bool service_policy, const sandbox::Policy& policy,
                                      const sandbox::Command& command, const sandbox::RunOptions& options);
  uint64_t warm_runs() const { return warm_.load(std::memory_order_relaxed); }
  uint64_t cold_runs() const { return cold_.load(std::memory_order_relaxed); }
  std::string why_cold() const;  // why templates are not used at all; "" when they are

 private:
  sandbox::Policy policy_;
  std::filesystem::path workspaces_;
  unsigned workers_ = 1;  // spares per template: as many as jobs run at once
  mutable std::mutex mu_;
  std::string why_cold_;
  std::map<std::string, std::shared_ptr<sandbox::Template>, std::less<>> templates_;
  std::atomic<uint64_t> warm_{0}, cold_{0};
};

}  // namespace exec::detail
