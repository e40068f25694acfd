// The system tree and the network namespace pool (prepared.h).
#include "sandbox/prepared.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

namespace sandbox::detail {
namespace {

// mkdir -p of rel's parents beneath dir, each 0755 whatever the umask (the tree is the host root's:
// a run reads it only through the bits for others).
bool parents_at(int dir, const char* rel) {
  std::string p = rel;
  for (size_t i = p.find('/'); i != std::string::npos; i = p.find('/', i + 1)) {
    p[i] = 0;
    if (::mkdirat(dir, p.c_str(), 0755) == 0) {
      if (::fchmodat(dir, p.c_str(), 0755, 0) != 0) return false;
    } else if (errno != EEXIST) {
      return false;
    }
    p[i] = '/';
  }
  return true;
}

bool dir_at(int dir, const char* rel) {
  if (!parents_at(dir, rel)) return false;
  if (::mkdirat(dir, rel, 0755) != 0) return errno == EEXIST;
  return ::fchmodat(dir, rel, 0755, 0) == 0;
}

bool point_at(int dir, const char* rel, bool is_file) {
  if (!is_file) return dir_at(dir, rel);
  if (!parents_at(dir, rel)) return false;
  int fd = ::openat(dir, rel, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// Runs the part's ops into a new detached tmpfs; -1 and errno when one fails or is not a system op.
int build_tree(const SystemPart& part) {
  int fs = int(syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC));
  if (fs < 0) return -1;
  int root = -1;
  if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "1m", 0) == 0 &&
      syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "nr_inodes", "4096", 0) == 0 &&
      syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0755", 0) == 0 &&
      syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0)
    root = int(syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  ::close(fs);
  if (root < 0) return -1;
  auto fail = [&] {
    int err = errno;
    ::close(root);
    errno = err;
    return -1;
  };
  for (const MountOp& op : part.ops) {
    if (!op.dst || op.dst[0] != '/' || !op.dst[1]) return errno = EINVAL, fail();
    const char* rel = op.dst + 1;
    switch (op.kind) {
      case MountOp::BindRo:
      case MountOp::BindRw: {
        // Builder names the host's source under /oldroot, where the child sees it.
        std::string_view src = op.src ? op.src : "";
        if (!src.starts_with("/oldroot/")) return errno = EINVAL, fail();
        src.remove_prefix(8);
        int t = int(syscall(SYS_open_tree, AT_FDCWD, std::string(src).c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
        if (t < 0) return fail();
        mount_attr attr{};
        attr.attr_set = MOUNT_ATTR_NOSUID | (op.device ? 0 : MOUNT_ATTR_NODEV) | (op.kind == MountOp::BindRo ? MOUNT_ATTR_RDONLY : 0);
        // Private: a copy of a shared host mount (systemd makes / shared) would join its peer
        // group, and what a run mounts on its own copy would propagate to the host and to other runs.
        attr.propagation = MS_PRIVATE;
        bool ok = syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) == 0 &&
                  point_at(root, rel, op.is_file) &&
                  syscall(SYS_move_mount, t, "", root, rel, MOVE_MOUNT_F_EMPTY_PATH) == 0;
        int err = errno;
        ::close(t);
        if (!ok) return errno = err, fail();
        break;
      }
      case MountOp::Symlink:
        if (!parents_at(root, rel) || ::symlinkat(op.src, root, rel) != 0) return fail();
        break;
      case MountOp::WriteFile: {
        if (!parents_at(root, rel)) return fail();
        int fd = ::openat(root, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) return fail();
        size_t n = std::strlen(op.data);
        bool ok = ::write(fd, op.data, n) == ssize_t(n) && ::fchmod(fd, 0644) == 0;
        ::close(fd);
        if (!ok) return fail();
        break;
      }
      case MountOp::Tmpfs:  // a directory: nothing is written to it once the tree is read-only
        if (!dir_at(root, rel)) return fail();
        break;
      default:
        return errno = EINVAL, fail();
    }
  }
  // Each run mounts its own devpts here (the tree is read-only by then).
  struct stat st;
  if (::fstatat(root, "dev", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) && !dir_at(root, "dev/pts")) return fail();
  mount_attr ro{};
  ro.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (syscall(SYS_mount_setattr, root, "", AT_EMPTY_PATH, &ro, sizeof ro) != 0) return fail();
  return root;
}

bool stamp_now(timespec (&t)[4]) {
  struct stat a, b;
  if (::stat("/", &a) != 0 || ::stat("/etc", &b) != 0) return false;
  t[0] = a.st_mtim, t[1] = a.st_ctim, t[2] = b.st_mtim, t[3] = b.st_ctim;
  return true;
}

bool same(const timespec (&a)[4], const timespec (&b)[4]) {
  for (int i = 0; i < 4; ++i)
    if (a[i].tv_sec != b[i].tv_sec || a[i].tv_nsec != b[i].tv_nsec) return false;
  return true;
}

struct Trees {
  std::mutex mu;
  struct Slot {
    std::shared_ptr<const SystemTree> tree;
    timespec stamp[4] = {};
    bool failed = false;  // at this stamp: not retried until / or /etc change
  };
  std::map<int, Slot> by_key;
};

// ---- the network namespace pool ----

class NetnsPool {
 public:
  static constexpr size_t kReady = 4;

  int take() {
    std::lock_guard lock(mu_);
    if (off_) return -1;
    // From the second run on: a process that runs one sandbox (`indexer exec`) would only pay for
    // namespaces nobody takes.
    if (!started_ && ++asked_ < 2) return -1;
    if (!started_) {
      started_ = true;
      owner_ = ::getpid();
      if (::geteuid() != 0) {
        off_ = true;  // an unprivileged process cannot make one outside a user namespace of its own
        return -1;
      }
      try {
        std::thread([this] { fill(); }).detach();
      } catch (const std::system_error&) {
        off_ = true;  // no thread to spare: each run makes its own
        return -1;
      }
    }
    // A fork of ours has the descriptors but not the thread, and maybe not this lock's owner.
    if (owner_ != ::getpid()) return -1;
    int fd = -1;
    if (!ready_.empty()) {
      fd = ready_.back();
      ready_.pop_back();
    }
    more_.notify_one();
    return fd;
  }

 private:
  void fill() {
    int own = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    for (;;) {
      {
        std::unique_lock lock(mu_);
        more_.wait(lock, [&] { return ready_.size() < kReady; });
      }
      int fd = own < 0 ? -1 : make(own);
      std::lock_guard lock(mu_);
      if (fd < 0) {
        off_ = true;  // the runs make their own; what is ready stays usable
        return;
      }
      ready_.push_back(fd);
    }
  }

  // Made by this thread for itself, then left: the thread goes back to its own namespace.
  static int make(int own) {
    if (::unshare(CLONE_NEWNET) != 0) return -1;
    int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const bool up = fd >= 0 && loopback_up();
    if (::setns(own, CLONE_NEWNET) != 0) {
      // Stuck in it: this thread makes nothing else there, and ends (the namespace with it).
      if (fd >= 0) ::close(fd);
      return -1;
    }
    if (!up && fd >= 0) ::close(fd);
    return up ? fd : -1;
  }

  std::mutex mu_;
  std::condition_variable more_;
  std::vector<int> ready_;
  bool started_ = false, off_ = false;
  int asked_ = 0;
  pid_t owner_ = 0;
};

}  // namespace

SystemTree::~SystemTree() {
  if (fd >= 0) ::close(fd);
  for (const auto& r : rules)
    if (r.fd >= 0) ::close(r.fd);
}

std::shared_ptr<const SystemTree> system_tree(int key, const std::function<SystemPart()>& describe) {
  if (::geteuid() != 0) return nullptr;
  static Trees& trees = *new Trees;  // never destroyed: runs on other threads may outlive main
  timespec now[4];
  if (!stamp_now(now)) return nullptr;
  std::lock_guard lock(trees.mu);
  Trees::Slot& slot = trees.by_key[key];
  if (same(slot.stamp, now) && (slot.tree || slot.failed)) return slot.tree;
  slot = {};
  std::copy(std::begin(now), std::end(now), slot.stamp);
  slot.failed = true;  // until it is built
  SystemPart part = describe();
  if (!part.ok) return nullptr;
  int fd = build_tree(part);
  if (fd < 0) return nullptr;
  auto tree = std::make_shared<SystemTree>();
  tree->fd = fd;
  std::copy(std::begin(now), std::end(now), tree->stamp);
  for (const MountOp& op : part.ops) {
    std::string_view dst = op.dst;
    std::string top(dst.substr(0, dst.find('/', 1)));
    bool seen = false;
    for (const auto& e : tree->entries) seen = seen || e.path == top;
    if (seen) continue;
    struct stat st;
    if (::fstatat(fd, top.c_str() + 1, &st, AT_SYMLINK_NOFOLLOW) != 0) return nullptr;
    SystemTree::Entry e{top, !S_ISLNK(st.st_mode), {}};
    if (!e.tree) {
      char target[4096];
      ssize_t n = ::readlinkat(fd, top.c_str() + 1, target, sizeof target - 1);
      if (n <= 0) return nullptr;
      e.target.assign(target, size_t(n));
    }
    tree->entries.push_back(std::move(e));
  }
  tree->visible = std::move(part.visible);
  tree->rules = std::move(part.rules);
  // Open once: a run's ruleset then adds each rule without a path walk.
  for (auto& r : tree->rules) r.fd = ::open(r.path.c_str(), O_PATH | O_CLOEXEC);
  slot.tree = tree;
  slot.failed = false;
  return slot.tree;
}

int take_netns() {
  static NetnsPool& pool = *new NetnsPool;  // never destroyed: its thread waits on it until exit
  return pool.take();
}

}  // namespace sandbox::detail
