// Private to sandbox/: what the cloned child does, prepared completely before the clone.
//
// Invariant: the child (pid 1 of the new namespaces, and the command it starts) only reads a
// SpawnPlan and makes system calls; every string, descriptor and number it needs is here, because
// it runs in the caller's memory (CLONE_VM, like posix_spawn: copying a server's page tables cost
// 380 ms at 1 GB) beside threads that may hold malloc's and every other lock. It writes only its
// own stack, and errno: the calling thread's, which run() reads only after its own calls failed.
// Strings are owned by `store` (a deque: pushing never moves them); the plan outlives the child.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "sandbox/guards.h"

namespace sandbox::detail {

// One step of building the root filesystem, run in order after pivot_root (the host's root is at
// /oldroot until the end). Parents are mounted before their children.
struct MountOp {
  enum Kind : uint8_t {
    BindRo,     // src (host, under /oldroot) -> dst, recursive, read-only, nosuid
    BindRw,     // same, writable, nosuid
    MoveTree,   // fd: a detached (idmapped) tree made by the parent -> dst; rdonly: read-only
    CloneTree,  // a copy of src (relative) in the detached tree fd (prepared.h: the system tree) -> dst
    Tmpfs,      // data: mount options
    Symlink,    // src: the link's text
    WriteFile,  // data: the content (dst on the root tmpfs)
    HideDir,    // an empty read-only tmpfs over dst
    HideFile,   // the empty /.hidden bound over dst
    ReadOnly,   // dst bound over itself, read-only
    Proc,
    Devpts,
    Sysctl,     // data written to dst (a /proc/sys file of the run's own namespaces)
  };
  Kind kind;
  bool is_file = false;  // the mount point is a file (created empty) rather than a directory
  bool rdonly = false;
  bool device = false;   // a device node bound from the host's /dev: its mount must allow devices
  int fd = -1;
  const char* dst = nullptr;
  const char* src = nullptr;
  const char* data = nullptr;
  const char* what = nullptr;  // for the error report: "bind /usr"
};

// What the child reports on the status pipe: a setup step that failed, an execve that failed for
// every candidate, or the command's wait status. One record, written once.
struct ChildReport {
  enum Kind : int32_t { None = 0, SetupFailed = 1, ExecFailed = 2, Finished = 3 };
  int32_t kind = None;
  int32_t step = -1;  // SetupFailed: index into ops, or one of the negative Step values
  int32_t err = 0;    // errno
  int32_t status = 0;  // Finished: the wait status
  int64_t cpu_us = 0;  // Finished: the command tree's user + system time (a warm run's parent cannot wait4 it)
};
enum Step : int32_t {
  kStepIds = -2, kStepPrivate = -3, kStepRoot = -4, kStepPivot = -5, kStepOldroot = -6, kStepRemountRoot = -7,
  kStepCwd = -8, kStepFork = -9, kStepLoopback = -10, kStepMounts = -11, kStepProxy = -12, kStepCgroup = -13,
  kStepLandlock = -14, kStepSeccomp = -15, kStepZygote = -16, kStepRunMounts = -17, kStepRunRequest = -18,
  kStepRunWorkspace = -19,
};

struct SpawnPlan {
  std::deque<std::string> store;
  const char* keep(std::string s) { return store.emplace_back(std::move(s)).c_str(); }

  bool namespaces = true;   // false: no user namespace on this kernel (BestEffort), no fs setup
  bool clear_groups = true; // we wrote gid_map as root: setgroups([]) drops the host's groups
  const char* root_opts = nullptr;  // the root tmpfs
  std::vector<MountOp> ops;
  const char* cwd = nullptr;
  const char* hostname = "sandbox";
  bool lo_up = false;  // born in a network namespace made ahead, lo already up (prepared.h)

  // The command: candidates for argv[0] from the sandbox's PATH, tried in order.
  std::vector<const char*> exec_paths;
  std::vector<char*> argv, envp;  // null-terminated

  struct Limit {
    int resource;
    rlimit value;
  };
  std::vector<Limit> limits;

  // Descriptors: what the child keeps (sorted, for closing the rest); the parent's ends are not here.
  int sync_r = -1, status_w = -1, in_r = -1, out_w = -1, err_w = -1;
  std::vector<int> keep_fds;

  // The guards (guards.h), built by the parent: the command joins the cgroups first, then adds
  // the paths made inside (/tmp, /dev, /etc, /proc) to the ruleset, restricts itself, and installs
  // the seccomp program last, right before execve.
  CgroupJoin cgroup;
  int landlock_fd = -1;
  uint64_t landlock_read = 0, landlock_write = 0;
  const SeccompProgram* seccomp = nullptr;

  // Stacks: the child and the command share the caller's memory (CLONE_VM; nothing is copied),
  // each on a stack of its own that the parent unmaps once the child is reaped.
  char* command_stack_top = nullptr;

  // The proxy relay (Command.proxy_socket): pid 1 listens on 127.0.0.1:3128 and relays each
  // connection to this socket path inside the sandbox.
  const char* proxy_path = nullptr;

  // Warm templates (warm.cpp): pid 1 builds the root as above and then, instead of starting a
  // command, becomes the template's zygote by execveat of zygote_exe (this program), keeping the
  // control socket zygote_ctl. argv: kZygoteArgv0, the socket's number, the idle timeout in ms.
  int zygote_exe = -1, zygote_ctl = -1;
  std::vector<char*> zygote_argv;
  // A warm run's pid 1 kills and reaps its whole tree before it reports, so that the report alone
  // ends the run: the server does not wait for pid 1's exit and its namespaces' teardown.
  bool reap_all = false;
  // A warm run's spare has, before its run was known, set every signal's disposition to the default
  // and emptied the capability bounding set (which its own mounts do not need): the command skips both.
  bool spare_prepared = false;
  // The Landlock ruleset is complete (a warm spare built it ahead with its own inside paths and the
  // run's workspace): the command only restricts itself. landlock_ahead: the server asks the spare
  // to use that ruleset (it then builds none itself).
  bool landlock_complete = false, landlock_ahead = false;
};

inline constexpr const char* kZygoteArgv0 = "indexer-sandbox-zygote";

// What the child made itself has no host inode the parent could name: the command adds these to
// its Landlock ruleset, and "/" for listing only.
struct InsidePath {
  const char* path;
  bool writable;
};
inline constexpr InsidePath kInsidePaths[] = {{"/tmp", true}, {"/dev", true}, {"/etc", false}, {"/proc", false}, {"/run", false}};
// Adds "/" (listing only) and kInsidePaths, as the calling process sees them, to a ruleset; 0 or an errno.
int add_inside_paths(int ruleset_fd, uint64_t read, uint64_t write);

// pid 1's second half, shared by a cold run's child and a warm run's: enter plan.cwd, start the
// command (pid 2), serve the proxy relay, reap, report on status_w; returns the status pid 1 exits
// with. It returns rather than _exit itself: a call to a function that never returns makes ASan
// check the stack (a cold run's child's is not the thread's it knows) and warn on stderr, which by
// the return is closed; while the command's stderr is still fd 2 it would land there.
int start_and_reap(const SpawnPlan& plan);
void close_all_but(const std::vector<int>& keep);
bool make_point(const char* path, bool is_file);  // mkdir -p of the parents, then the directory or an empty file
bool loopback_up();

// A warm run's own workspace (Template::Options::workspaces): a detached copy of the directory made
// by the server (idmapped when the template is), which the spare moves to `at`, beneath the
// template's workspaces directory, before it starts the command; .git/hooks and .git/config (when
// present, not links) are then bound read-only over themselves, as a cold run's are.
struct RunWorkspace {
  int tree = -1;
  const char* at = nullptr;
  bool ro_hooks = false, ro_config = false;
  bool writable = false;  // its Landlock rule, when the spare builds the ruleset
};

// The per-run part of a plan, as a warm run sends it to a spare of the zygote over a stream socket
// (warm.cpp): one message carrying the descriptors (SCM_RIGHTS), then the encoded plan.
Status send_warm_request(int sock, const SpawnPlan& plan, const RunWorkspace& workspace = {});
// One message of `size` bytes with up to 8 descriptors (SCM_RIGHTS); true when all bytes went.
bool send_with_fds(int sock, const void* data, size_t size, const int* fds, int nfds) noexcept;
// Receives up to `size` bytes (MSG_WAITALL) and at most `max_fds` descriptors (O_CLOEXEC; more are
// closed) into fds, their count in *nfds. The byte count, 0 at end of file, or -1.
ssize_t recv_with_fds(int sock, void* data, size_t size, int* fds, int max_fds, int* nfds) noexcept;

// The proxy relay (relay.cpp): a listener on 127.0.0.1:3128 (-1 and errno on failure), and the
// loop that relays to the Unix socket at `path` until `command` exits; returns its wait status.
int relay_listen();
int relay_serve(int listen_fd, const char* path, pid_t command);

// The child side (clone's fn, arg: the SpawnPlan): pid 1 of the new pid namespace; ends with _exit.
int child_main(void* plan);

}  // namespace sandbox::detail
