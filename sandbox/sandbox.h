// Runs one command under a Policy, isolated by the kernel: new user, mount, pid, network, ipc and
// uts namespaces, a minimal root filesystem, no capabilities, no_new_privs, rlimits, a wall clock.
// The child is cloned from this process (no helper binary); its pid 1 is our code, which sets the
// filesystem up, starts the command and reaps; killing it kills every process of the run.
//
// Invariant: nothing a run does outlives run(): on return (exit, timeout, cancel or error) the
// whole pid namespace is gone. Thread-safe: the server calls run() from a pool; everything the
// child needs is prepared before the clone, so the child only makes system calls (no malloc).
// Cost: one clone of the calling process (page tables: grows with its size), ~30 mount calls, a
// few ms of wall time (README, "Sandbox benchmark").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/policy.h"

namespace sandbox {

struct Command {
  std::vector<std::string> argv;  // argv[0]: a path, or a name looked up in the sandbox's PATH
  std::string workspace;          // host directory, visible at the same path inside
  std::string cwd;                // inside the sandbox; default: workspace
  std::vector<std::string> env;   // KEY=VALUE, added to the scrubbed environment (PATH, HOME, LANG, TERM)
  std::string stdin_data;
  std::string proxy_socket;       // host Unix socket: the network's only way out (127.0.0.1:3128 inside)
};

struct Outcome {
  enum class Kind : uint8_t { Exited, Signaled, Timeout, Cancelled, Memory, Cpu, FileSize, Refused };
  Kind kind = Kind::Refused;
  int code = 0;     // Exited: the exit status; Signaled: the signal
  std::string reason;  // one line: "exited with 0", "killed: wall clock of 2000 ms exceeded"
  std::string out, err;  // each capped at limits.output_bytes, then a marker line
  bool out_truncated = false, err_truncated = false;
  double wall_ms = 0, cpu_ms = 0;
  uint64_t memory_bytes = 0;  // peak of the command's tree (its memory cgroup); 0 without one
  std::vector<std::string> layers;    // applied: "user-ns", "mount-ns", "rlimits" ...
  std::vector<std::string> weakened;  // asked for but missing on this kernel (Isolation::BestEffort)
};

struct RunOptions {
  const std::atomic<bool>* cancel = nullptr;  // polled every 20 ms; true kills the run
  // Each chunk of output as it arrives (stream 1 or 2), before capping; called on run()'s thread.
  std::function<void(int stream, std::string_view chunk)> on_output;
};

// An error only for what the caller got wrong or the host refused before the command started
// (no such workspace, out of descriptors); a command that cannot run inside is an Outcome.
Result<Outcome> run(const Policy& policy, const Command& command, const RunOptions& options = {});

// A warm template: one policy and one workspace set up once, for many runs (README, "Warm
// templates"). The template's root filesystem is built, as a cold run's is, by a child that then
// becomes a small zygote process (this program re-executed: not a copy of the caller's memory) in
// the template's user, mount, network, ipc and uts namespaces. Each run is a fork of the zygote in
// pid, mount and ipc namespaces of its own, with its own /tmp, /proc, /dev/pts and cgroups, the
// same guards (seccomp, Landlock, rlimits, no capabilities) and the same Outcome as run().
//
// Invariant: what one run leaves (files in /tmp, processes, SysV IPC, cwd, environment, rlimits)
// is gone before the next run starts (with Options::workspaces each run sees only its own
// workspace); runs of one template share only the workspace, the
// writable_paths, the template's host uid and its network namespace (loopback: concurrent runs can
// reach each other's listeners). Thread-safe: runs may overlap. The zygote exits after
// idle_timeout_ms without a run, or with the Template; the next run starts another, as it does
// after the zygote died. Cost: the first run ~ a cold run plus an exec; later runs find their pid 1
// forked and mounted ahead ("spares", README) and pay the plan's transfer, the guards and exec.
class Template {
 public:
  struct Options {
    uint64_t idle_timeout_ms = 60'000;
    // Spares kept ready (pid 1 forked and mounted ahead): as many as runs are expected at once.
    unsigned spares = 1;
    // Per-run workspaces: when set (an absolute directory without symlinks), `base.workspace` is
    // empty and each run brings its own, a directory beneath this one, opened without following
    // symlinks and mounted (a detached, idmapped copy) at the same path in that run's mount
    // namespace only, over an empty tmpfs of its own at this directory: a run sees neither the
    // other workspaces nor the directory's other entries. Needs root (open_tree of the workspace).
    std::string workspaces;
  };
  // `base`: the workspace and proxy_socket of every run (the rest of it is ignored). The zygote is
  // started by the first run.
  static Result<std::unique_ptr<Template>> create(const Policy& policy, const Command& base, Options options);
  static Result<std::unique_ptr<Template>> create(const Policy& policy, const Command& base) {
    return create(policy, base, Options{});
  }
  ~Template();  // kills the zygote and whatever runs it still has
  Template(const Template&) = delete;
  Template& operator=(const Template&) = delete;

  // As sandbox::run; command.workspace must be empty or the template's (with Options::workspaces:
  // the run's own, beneath them), proxy_socket empty or the template's. Without user
  // namespaces on this kernel, a cold run.
  Result<Outcome> run(const Command& command, const RunOptions& options = {});
  // The same with this run's limits instead of the policy's (all but tmp_bytes, the template's:
  // a spare's /tmp is mounted before its run is known); rlimits, cgroups and the clocks are per run.
  Result<Outcome> run(const Command& command, const Limits& limits, const RunOptions& options = {});

  int zygote_pid() const;              // the running zygote's pid (ours), or -1
  uint64_t zygotes_started() const;    // how many zygotes this template has started

  struct Impl;

 private:
  explicit Template(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What this kernel offers; probed once (a short-lived child for user namespaces), then cached.
struct Support {
  bool user_namespaces = false;
  bool idmapped_mounts = false;  // we are root and mount_setattr(MOUNT_ATTR_IDMAP) works
  int landlock_abi = 0;          // 0: none
  bool seccomp = false;
  bool cgroup_v1_memory = false, cgroup_v1_pids = false;
  bool cgroup_v2 = false;        // a writable cgroup2 hierarchy with memory and pids delegated
  std::string summary() const;   // one line for `indexer exec --probe` and the logs
};
const Support& probe();

// The host uids runs are mapped to when we are root: kBaseUid + slot, one slot per concurrent run,
// so RLIMIT_NPROC counts each run apart. Never a uid of the host's users.
inline constexpr uint32_t kBaseUid = 1'600'000'000;
inline constexpr uint32_t kSlots = 256;

}  // namespace sandbox
