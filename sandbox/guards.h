// The sandbox's three kernel guards, private to sandbox/: a seccomp filter (which system calls a
// run may make), a Landlock ruleset (which files it may touch and which TCP ports it may use), and
// cgroup v1 limits (how much memory and how many processes its whole tree may hold).
//
// Invariant: everything that allocates, takes a lock or calls a library happens in the parent,
// BEFORE fork (the parent is multithreaded: a lock another thread held at fork stays held forever
// in the child). The child calls only the `noexcept` functions below, and they make raw system
// calls on memory and descriptors prepared beforehand. They return 0 or an errno value (never -1),
// so the child can write the value to its error pipe as it is.
//
// Order in the child (after its namespaces and mounts are set up, before execve):
//   1. cgroup_join(cg.join())                 as early as possible, before the child forks again
//   2. landlock_add_path(rs.fd(), fd, access) for paths made after fork (the private /tmp, /proc)
//   3. landlock_restrict(rs.fd())             closes nothing; the fd is O_CLOEXEC
//   4. install_seccomp(program)               last: it refuses mount(2) and unshare(2) that set-up uses
//   5. execve
// Descriptors to keep open until then: rs.fd(), cg.join() fds (all O_CLOEXEC). Mounts and
// pivot_root come before step 3: Landlock refuses mount changes to a restricted process.
// A LandlockRuleset a child adds paths to serves one run: the child's descriptor shares the kernel
// object with the parent's, so its rule would stay for the next run. The seccomp program may be
// built once per process and shared (read-only).
//
// Cost, measured by indexer_sandbox_guards_bench (README "Guards"): in the parent ~0.12 ms for the
// seccomp program, ~0.04 ms for a ruleset of 8 paths, ~0.5 ms to make and remove the cgroups; in
// the child 0.2-0.7 ms (a loaded machine) to install both; then each allowed system call pays
// seccomp's entry path (~0.2 us here), each path lookup a Landlock walk to the root.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/policy.h"

namespace sandbox::detail {

// ---- seccomp -------------------------------------------------------------------------------------
// Blocks what lets a process reach past its namespaces or attack the kernel's wide surfaces:
// ptrace, process_vm_*, pidfd_getfd, process_madvise (Yama is absent here, so ptrace is only
// stopped by this filter and the pid namespace); mount and the new mount API; setns, and unshare/clone with a
// namespace flag (clone3 passes its flags in memory a filter cannot read: it gets ENOSYS, so libc
// falls back to clone, whose flags the filter checks); keyrings, bpf, perf_event_open, io_uring,
// userfaultfd, kexec, module loading, acct, swap, reboot, clock setting, handle-based opens
// (open_by_handle_at walks past a chroot), personality flags that weaken ASLR or NX; socket
// families other than AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK/NETLINK_ROUTE (getaddrinfo and
// getifaddrs need the latter); the terminal ioctls that inject input (TIOCSTI), drive the
// console (TIOCLINUX) or swap line disciplines (TIOCSETD, a history of kernel bugs).
// Errors: EPERM, as a kernel that forbids it would say; ENOSYS for clone3 and EAFNOSUPPORT for
// socket families, the answers libc and runtimes take as "not here" and fall back from.
// A system call of another ABI (i386 via int 0x80, x32) kills the process: the rules are written
// for the native ABI only, and a foreign ABI would pass them by number.
// Cost: ~30 BPF instructions on the filtered calls; every other call takes the short path.
struct SeccompProgram {
  std::vector<sock_filter> filter;
};
// The same program for every policy today (so a caller may build it once per process); it takes the
// policy so that a policy can tighten it without changing callers.
Result<SeccompProgram> seccomp_program(const Policy& policy);
// Child side: no_new_privs, then the filter. 0 or an errno value.
int install_seccomp(const SeccompProgram& program) noexcept;

// ---- Landlock ------------------------------------------------------------------------------------
// Blocks file access outside the listed paths (after symlinks and bind mounts are resolved: rules
// tag inodes, so a bind mount of an allowed directory is allowed and a link out of it is not),
// writes to read-only paths, TCP connect and bind except to listed ports (ABI 4+), abstract Unix
// sockets and signals that leave the sandbox's domain (ABI 6+). Every access right the kernel's ABI
// knows is handled, so what is not granted is refused (EACCES for files, EPERM for the rest).
// Cost: path lookups check the rules of each directory up to the root; a few percent on stat-heavy
// work. Cannot express "bind to any port": with TCP restricted, only the listed ports may be bound.
// A symlink in `path` is followed: the rule covers its target (/bin covers /usr/bin on merged-/usr
// systems). The caller gives resolved paths for anything a user controls (preflight resolves them).
struct PathRule {
  std::string path;       // absolute; a directory (the rule covers what is beneath it) or a file
  bool writable = false;  // false: read and execute only
  int fd = -1;            // the path already open (O_PATH, the caller's): used instead of opening it
};
struct TcpRules {
  bool restricted = true;              // false: leave TCP to the network namespace alone
  std::vector<uint16_t> connect_ports; // e.g. the proxy relay; ignored when the policy has no network
  std::vector<uint16_t> bind_ports;
};
// The Landlock ABI version the kernel offers (this kernel: 7), or 0 when Landlock is off.
int landlock_abi() noexcept;
// A ruleset descriptor built before fork. Move-only; closes its descriptor.
class LandlockRuleset {
 public:
  LandlockRuleset() = default;
  LandlockRuleset(LandlockRuleset&& o) noexcept { *this = std::move(o); }
  LandlockRuleset& operator=(LandlockRuleset&& o) noexcept;
  ~LandlockRuleset();

  int fd() const { return fd_; }
  int abi() const { return abi_; }
  // Access masks for landlock_add_path on a directory (a file takes the subset that applies to files).
  uint64_t read_access() const { return read_; }
  uint64_t write_access() const { return write_; }
  // Paths the rules named that do not exist (left out: they grant nothing), and what this kernel's
  // ABI cannot restrict ("TCP ports: ABI 3 has no network rules"), for the run's weakened list.
  const std::vector<std::string>& missing() const { return missing_; }
  const std::vector<std::string>& weakened() const { return weakened_; }

 private:
  friend Result<LandlockRuleset> landlock_ruleset(const Policy&, std::span<const PathRule>, const TcpRules&);
  int fd_ = -1;
  int abi_ = 0;
  uint64_t read_ = 0, write_ = 0;
  std::vector<std::string> missing_, weakened_;
};
// An error when Landlock is off or a rule is refused; the engine decides (Policy::isolation)
// whether to run without it.
Result<LandlockRuleset> landlock_ruleset(const Policy& policy, std::span<const PathRule> rules,
                                         const TcpRules& tcp = {});
// Child side. Adds `fd` (a directory or file, O_PATH is enough) with `access`, one of the ruleset's
// read_access() or write_access() (for a file, cut to the rights that apply to files). 0 or an errno.
int landlock_add_path(int ruleset_fd, int fd, uint64_t access) noexcept;
// Child side: no_new_privs, then restrict this thread (and what it execs) to the ruleset.
int landlock_restrict(int ruleset_fd) noexcept;

// ---- cgroup v1 -----------------------------------------------------------------------------------
// Bounds the memory (memory.limit_in_bytes, and memsw so swap is no way around it) and the number
// of tasks (pids.max) of the whole process tree, which rlimits cannot: RLIMIT_AS is per process and
// breaks node under 1 GiB, RLIMIT_NPROC counts per uid. Past the memory limit the kernel's OOM
// killer kills inside the group (oom_killed() then says so); past pids.max, fork fails with EAGAIN.
// Groups are made under the caller's own cgroup (…/memory/<ours>/indexer/<name>), so the limits the
// service itself runs under still hold for its runs. Cost: a few mkdir and writes per run (~0.2 ms),
// and rmdir after it.
// Needs write access to the v1 memory and pids hierarchies (root); cgroup v2 is not implemented
// (on this machine v2 has no controllers). probe_cgroups() says what is there.
struct CgroupSupport {
  bool memory = false;  // the v1 memory controller, writable
  bool memsw = false;   // memory+swap accounting (memory.memsw.*)
  bool pids = false;    // the v1 pids controller, writable
  std::string reason;   // empty when both are there; else what is missing and why
};
CgroupSupport probe_cgroups();

// The descriptors the child writes itself into (the cgroup.procs files, O_WRONLY|O_CLOEXEC).
struct CgroupJoin {
  int fds[2] = {-1, -1};
};
// Child side: writes "0" (this process) to each descriptor. 0 or an errno value.
int cgroup_join(const CgroupJoin& join) noexcept;

class Cgroup {
 public:
  // `name`: [A-Za-z0-9._-]{1,64}, unique among live runs. Makes the groups, sets the limits and
  // opens the join descriptors. Either controller may be missing (see probe_cgroups); an error only
  // when none is usable or a limit cannot be set.
  static Result<Cgroup> create(const Limits& limits, std::string_view name);
  Cgroup(Cgroup&& o) noexcept { *this = std::move(o); }
  Cgroup& operator=(Cgroup&& o) noexcept;
  ~Cgroup();  // remove(), errors ignored

  const CgroupJoin& join() const { return join_; }
  bool has_memory() const { return !memory_dir_.empty(); }
  bool has_pids() const { return !pids_dir_.empty(); }
  const std::string& memory_dir() const { return memory_dir_; }
  const std::string& pids_dir() const { return pids_dir_; }

  // After the run (valid until remove()):
  bool oom_killed() const;       // the OOM killer killed a task of the group
  uint64_t peak_memory() const;  // memory.max_usage_in_bytes; 0 without the memory controller
  bool pids_limited() const;     // a fork was refused by pids.max
  // The tasks still in the group (pids in our pid namespace).
  std::vector<pid_t> tasks() const;
  // SIGKILLs what is left (repeatedly: a task may fork while it is killed), waits for the groups to
  // empty (up to ~2 s) and removes them. Idempotent.
  Status remove();
  // For a pool of groups that runs of one policy reuse (saving the ~0.5 ms of mkdir and rmdir): kills
  // what is left as remove() does, keeps the groups and the join descriptors, resets the peak, and
  // takes the OOM and pids.max counters as the new zero. Page cache the last run left stays charged
  // to the group until the kernel reclaims it. When pids.current already reads 0 (the run's pid
  // namespace is gone, so its tasks are), the task lists are not read: 3 preads and a pwrite.
  Status reset();

 private:
  friend class CgroupPool;
  Cgroup() = default;
  Status kill_tasks();
  // Read (and max_usage written) after every run of a pooled group: open once, pread/pwrite at 0.
  Status open_files();
  std::string memory_dir_, pids_dir_;
  CgroupJoin join_;
  int max_usage_fd_ = -1, oom_fd_ = -1, pids_current_fd_ = -1, pids_events_fd_ = -1;
  uint64_t oom_base_ = 0, pids_base_ = 0;  // the counters at the last reset()
  uint64_t pool_memory_ = 0, pool_processes_ = 0;  // the limits it was made with (CgroupPool's key)
};

// Idle groups kept for the next run with the same limits (memory, processes), so that a run pays a
// reset (a few reads and writes, ~0.05 ms) instead of mkdir, limit writes and rmdir (~0.5 ms).
// Thread-safe. At most kMaxIdle idle groups per pair of limits; the rest are removed on release.
// What is left of the pool is removed when the process exits normally; a crashed server leaves its
// idle groups behind (named run-<pid>-<n>, empty, with nothing charged but page cache).
class CgroupPool {
 public:
  static constexpr size_t kMaxIdle = 32;
  // An idle group with these limits, or a new one.
  Result<Cgroup> acquire(const Limits& limits);
  // After the run: reset() and kept, or removed when the reset fails or the pool is full.
  void release(Cgroup cg);

 private:
  std::mutex mu_;
  std::map<std::pair<uint64_t, uint64_t>, std::vector<Cgroup>> idle_;
  std::atomic<uint64_t> made_{0};
};
CgroupPool& cgroup_pool();

}  // namespace sandbox::detail
