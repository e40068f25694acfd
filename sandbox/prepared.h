// Private to sandbox/: what a cold run takes ready-made instead of making it on its own path.
//
// The system tree. Every run of one filesystem mode sees the same read-only system part of its root
// (/usr, the chosen /etc files, /dev's nodes; in permissive mode the host's top level). It is built
// once per process as a detached mount tree (a tmpfs holding the bind mounts, made with open_tree and
// move_mount, read-only) and each run's child copies its top-level entries with one open_tree
// (OPEN_TREE_CLONE | AT_RECURSIVE) each: 3 copies instead of ~30 bind mounts, ~30 mount_setattr
// and their mount points. Invariant: the tree is never written after it is built (read-only mounts,
// owned by the host's root, which no run's user namespace maps), so runs share it without seeing each
// other. It is rebuilt when / or /etc changed (their mtime and ctime, one stat each per run), since a
// bind of a file keeps showing the inode it was made from. Needs root (open_tree of a copy is a mount).
//
// Empty network namespaces. Making one costs ~0.5-0.7 ms of kernel time (every protocol's
// per-namespace state and sysctls) on the run's path, tens of ms while the kernel tears down others,
// and bringing its lo up another ~0.1 ms. From a process's second run on, a background thread keeps
// 4 made ahead (lo up); a run takes one and uses it alone, so runs stay as separated as with
// CLONE_NEWNET (the kernel still tears each down after its run, on a worker thread). The namespace is owned by the host's user namespace, so the sandbox's root has
// no capability in it (it could not reconfigure it even before dropping them). Needs root; when the
// pool is empty (a burst of runs) or off, the run makes its own with CLONE_NEWNET as before.
#pragma once

#include <sys/stat.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sandbox/guards.h"
#include "sandbox/spawn_plan.h"

namespace sandbox::detail {

struct SystemTree {
  int fd = -1;  // the detached tree (O_CLOEXEC); closed with the last run holding it
  struct Entry {
    std::string path;    // "/usr", "/etc", "/bin"
    bool tree = false;   // a directory with mounts: copied by a CloneTree op
    std::string target;  // else a symbolic link to this
  };
  std::vector<Entry> entries;  // the tree's top level
  std::vector<std::string> visible;  // host paths bound in (what Builder::hide looks under)
  std::vector<PathRule> rules;  // Landlock: the host paths bound in, each open (fds owned here)
  timespec stamp[4] = {};       // mtime and ctime of / and /etc when it was built
  ~SystemTree();
};

// What the system part of a root is: its ops in depth order, each dst an absolute path (binds: the
// host path, which is also where it is mounted), with the host paths and rules they expose.
struct SystemPart {
  bool ok = true;  // false: it could not be described (no tree; each run's own build reports why)
  std::deque<std::string> store;  // the strings the ops point to
  std::vector<MountOp> ops;
  std::vector<std::string> visible;
  std::vector<PathRule> rules;
};

// The tree for `key` (one per filesystem mode), built from describe() when there is none yet or /
// or /etc changed; nullptr when it cannot be built here (not root, an op the tree cannot hold, a
// kernel without the mount API): the caller then mounts the part in each run's child as before.
std::shared_ptr<const SystemTree> system_tree(int key, const std::function<SystemPart()>& describe);

// A fresh empty network namespace with lo up (the caller owns the descriptor), or -1.
int take_netns();

}  // namespace sandbox::detail
