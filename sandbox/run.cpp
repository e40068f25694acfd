// The parent side of a run: probes the kernel, prepares the SpawnPlan, clones, maps the ids, and
// then waits on the output pipes, the wall clock, the cancel flag and the child's pidfd.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bitset>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <memory>
#include <optional>

#include "sandbox/guards.h"
#include "sandbox/prepared.h"
#include "sandbox/sandbox.h"
#include "sandbox/spawn_plan.h"

namespace sandbox {
namespace {

using detail::ChildReport;
using detail::MountOp;
using detail::SpawnPlan;
using Clock = std::chrono::steady_clock;

std::string errno_text(int e) { return std::strerror(e); }

// A descriptor closed on scope exit.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset();
    fd = std::exchange(o.fd, -1);
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  explicit operator bool() const { return fd >= 0; }
};

bool write_file(const std::string& path, std::string_view data) {
  Fd f(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return f && ::write(f.fd, data.data(), data.size()) == ssize_t(data.size());
}

// clone3 with fork semantics (no new stack): returns 0 in the child.
long clone3_fork(uint64_t flags, int* pidfd) {
  clone_args args{};
  args.flags = flags | (pidfd ? CLONE_PIDFD : 0);
  args.pidfd = uint64_t(uintptr_t(pidfd));
  args.exit_signal = SIGCHLD;
  return syscall(SYS_clone3, &args, sizeof args);
}

constexpr uint64_t kNamespaces = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;

// One host uid per concurrent run (sandbox.h: kBaseUid).
class Slots {
 public:
  int acquire() {
    std::lock_guard lock(mu_);
    for (uint32_t i = 0; i < kSlots; ++i) {
      uint32_t s = (next_ + i) % kSlots;
      if (!used_[s]) {
        used_[s] = true;
        next_ = s + 1;
        return int(s);
      }
    }
    return -1;
  }
  void release(int s) {
    std::lock_guard lock(mu_);
    used_[size_t(s)] = false;
  }

 private:
  std::mutex mu_;
  std::bitset<kSlots> used_;
  uint32_t next_ = 0;
};
Slots& slots() {
  static Slots s;
  return s;
}

Support do_probe() {
  Support s;
  {
    int pidfd = -1;
    long pid = clone3_fork(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET, &pidfd);
    if (pid == 0) _exit(0);
    if (pid > 0) {
      siginfo_t info{};
      ::waitid(P_PIDFD, id_t(pidfd), &info, WEXITED);
      ::close(pidfd);
      s.user_namespaces = info.si_code == CLD_EXITED && info.si_status == 0;
    }
  }
  if (s.user_namespaces && ::geteuid() == 0) {
    // mount_setattr exists (5.12+) and takes MOUNT_ATTR_IDMAP: asking with an invalid userns fd
    // answers EBADF where the kernel knows the attribute, EINVAL or ENOSYS where it does not.
    int tree = int(syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    if (tree >= 0) {
      mount_attr attr{};
      attr.attr_set = MOUNT_ATTR_IDMAP;
      attr.userns_fd = uint64_t(INT32_MAX);  // not open: EBADF
      errno = 0;
      long r = syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr);
      s.idmapped_mounts = r != 0 && errno == EBADF;
      ::close(tree);
    }
  }
  {
    long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, 1U /* LANDLOCK_CREATE_RULESET_VERSION */);
    s.landlock_abi = abi > 0 ? int(abi) : 0;
  }
  s.seccomp = ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
  {
    // Where the groups are made: under our own group of each hierarchy (guards.h), which is not
    // the hierarchy's root when the service itself runs in a group.
    detail::CgroupSupport cg = detail::probe_cgroups();
    s.cgroup_v1_memory = cg.memory;
    s.cgroup_v1_pids = cg.pids;
  }
  {
    // Usable v2: a cgroup2 root of its own (not the hybrid "unified" leaf) with memory and pids.
    Fd f(::open("/sys/fs/cgroup/cgroup.controllers", O_RDONLY | O_CLOEXEC));
    char buf[512] = {};
    if (f && ::read(f.fd, buf, sizeof buf - 1) > 0) {
      std::string_view v(buf);
      s.cgroup_v2 = v.find("memory") != v.npos && v.find("pids") != v.npos &&
                    ::access("/sys/fs/cgroup/cgroup.subtree_control", W_OK) == 0;
    }
  }
  return s;
}

// ---- The plan: the root filesystem per FsMode, and the command. ----

struct Builder {
  const Policy& policy;
  const Command& command;
  const Support& support;
  SpawnPlan& plan;
  bool root;  // we are root: ids mapped to a slot's uid, writable trees idmapped
  std::vector<Fd> tree_fds;  // the detached trees, kept open until the child has them
  std::vector<std::string> visible;  // host paths bound in (for hiding what lies under them)
  std::vector<detail::PathRule> rules;  // Landlock: the host paths bound in, read-only or writable

  struct Pending {
    MountOp op;
    std::string dst;
    int order;  // a category breaks ties between equal depths: mounts, then hides, then read-only
  };
  std::vector<Pending> pending;

  static int depth(std::string_view p) { return int(std::count(p.begin(), p.end(), '/')); }

  void add(MountOp op, std::string dst, int order = 0) { pending.push_back({op, std::move(dst), order}); }

  void bind(const std::string& host, bool writable, bool ignore_missing = true) {
    struct stat st;
    if (::lstat(host.c_str(), &st) != 0) {
      if (!ignore_missing) missing.push_back(host);
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(host.c_str(), target, sizeof target - 1);
      if (n <= 0) return;
      MountOp op{MountOp::Symlink};
      op.src = plan.keep(std::string(target, size_t(n)));
      add(op, host);
      return;
    }
    MountOp op{writable ? MountOp::BindRw : MountOp::BindRo};
    op.is_file = !S_ISDIR(st.st_mode);
    op.src = plan.keep("/oldroot" + host);
    op.what = plan.keep(std::string(writable ? "bind read-write " : "bind read-only ") + host);
    add(op, host);
    visible.push_back(host);
    // What lies under /etc needs no rule of its own: the command grants /etc, read-only, whole
    // (kInsidePaths), and a lookup beneath meets that rule on its way up.
    if (!host.starts_with("/etc/")) rules.push_back({host, writable});
  }

  // A tree the sandbox writes (or must own: git refuses a repository of another uid): as root, a
  // detached copy idmapped by the parent once the child's user namespace exists.
  static constexpr const char* kProxyPath = "/run/indexer/proxy.sock";

  Status tree(const std::string& host, bool writable, const char* inside = nullptr) {
    const std::string dst = inside ? inside : host;
    struct stat st;
    if (::stat(host.c_str(), &st) != 0) return Error{host + ": " + errno_text(errno)};
    if (!root || !support.idmapped_mounts) {
      if (inside) {
        MountOp op{writable ? MountOp::BindRw : MountOp::BindRo};
        op.is_file = !S_ISDIR(st.st_mode);
        op.src = plan.keep("/oldroot" + host);
        op.what = plan.keep("bind " + host + " at " + dst);
        add(op, dst);
        return {};
      }
      bind(host, writable, false);
      return {};
    }
    int fd = int(syscall(SYS_open_tree, AT_FDCWD, host.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    if (fd < 0) return Error{"open_tree " + host + ": " + errno_text(errno)};
    tree_fds.emplace_back(fd);
    idmap_trees.push_back({fd, !writable});
    MountOp op{MountOp::MoveTree};
    op.fd = fd;
    op.is_file = !S_ISDIR(st.st_mode);
    op.what = plan.keep(std::string(writable ? "mount read-write " : "mount read-only ") + host);
    add(op, dst);
    if (!inside) visible.push_back(host), rules.push_back({host, writable});
    return {};
  }

  bool is_visible(const std::string& p) const {
    for (const auto& v : visible)
      if (p == v || (p.size() > v.size() && p.compare(0, v.size(), v) == 0 && (v == "/" || p[v.size()] == '/')))
        return true;
    return false;
  }

  void hide(const std::string& p) {
    // Visibility first: it is a string compare, and most homes are not in view at all.
    struct stat st;
    if (!is_visible(p) || ::lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return;
    MountOp op{S_ISDIR(st.st_mode) ? MountOp::HideDir : MountOp::HideFile};
    op.what = plan.keep("hide " + p);
    add(op, p, 1);
  }

  struct IdmapTree {
    int fd;
    bool rdonly;
  };
  std::vector<IdmapTree> idmap_trees;
  std::vector<std::string> missing;

  // The part every run of this filesystem mode shares (prepared.h: built once into the system tree
  // when it can be, else mounted by each run's child): the system directories or the host's top
  // level, the chosen /etc files, /dev's nodes and links.
  Status build_system() {
    const auto& fs = policy.filesystem;
    if (fs.mode == FsMode::Permissive) {
      // The host's top level, read-only, without its kernel and runtime trees.
      DIR* d = ::opendir("/");
      if (!d) return Error{"/: " + errno_text(errno)};
      while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n == "." || n == ".." || n == "proc" || n == "sys" || n == "dev" || n == "tmp" || n == "run") continue;
        std::string host = "/" + std::string(n);
        struct stat st;
        if (::lstat(host.c_str(), &st) != 0 || !(S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode))) continue;
        bind(host, false);
      }
      ::closedir(d);
    } else {
      for (const char* dir : {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) bind(dir, false);
      for (const char* f : {"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/ssl",
                            "/etc/ca-certificates", "/etc/ca-certificates.conf", "/etc/localtime", "/etc/timezone",
                            "/etc/nsswitch.conf", "/etc/protocols", "/etc/services", "/etc/mime.types", "/etc/os-release",
                            "/etc/debian_version", "/etc/profile", "/etc/bash.bashrc", "/etc/inputrc", "/etc/terminfo",
                            "/etc/gitconfig", "/etc/login.defs", "/etc/shells", "/etc/perl", "/etc/gai.conf",
                            "/etc/host.conf", "/etc/magic", "/etc/manpath.config"})
        bind(f, false);
      if (DIR* d = ::opendir("/etc")) {
        while (dirent* e = ::readdir(d))
          if (std::string_view(e->d_name).starts_with("python")) bind("/etc/" + std::string(e->d_name), false);
        ::closedir(d);
      }
      auto gen = [&](const char* path, const char* text) {
        MountOp op{MountOp::WriteFile};
        op.data = text;
        op.what = path;
        add(op, path);
      };
      gen("/etc/passwd", "root:x:0:0:sandbox:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
      gen("/etc/group", "root:x:0:\nnogroup:x:65534:\n");
      gen("/etc/hostname", "sandbox\n");
      gen("/etc/hosts", "127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost\n");
    }
    // /dev: a few host nodes bound into a tmpfs (a user namespace may not mknod), pty of its own
    // (build()). Read-only where the system tree holds it, as a warm template's is.
    MountOp dev{MountOp::Tmpfs};
    dev.data = "size=64k,nr_inodes=64,mode=0755";
    dev.what = "/dev";
    add(dev, "/dev");
    for (const char* n : {"null", "zero", "full", "random", "urandom", "tty"}) {
      MountOp op{MountOp::BindRw};
      op.is_file = true;
      op.device = true;
      op.src = plan.keep(std::string("/oldroot/dev/") + n);
      op.what = plan.keep(std::string("bind /dev/") + n);
      add(op, std::string("/dev/") + n);
    }
    for (auto [link, target] : {std::pair{"/dev/ptmx", "pts/ptmx"}, {"/dev/fd", "/proc/self/fd"}, {"/dev/stdin", "/proc/self/fd/0"},
                                {"/dev/stdout", "/proc/self/fd/1"}, {"/dev/stderr", "/proc/self/fd/2"}, {"/dev/shm", "/tmp"}}) {
      MountOp op{MountOp::Symlink};
      op.src = target;
      add(op, link);
    }
    return {};
  }

  // The system part from the prepared tree: a copy of each of its top-level entries, or a link.
  void use_system(const detail::SystemTree& sys) {
    for (const auto& e : sys.entries) {
      MountOp op{e.tree ? MountOp::CloneTree : MountOp::Symlink};
      if (e.tree) {
        op.fd = sys.fd;
        op.src = e.path.c_str() + 1;
        op.what = plan.keep("copy the system tree's " + e.path);
      } else {
        op.src = e.target.c_str();
      }
      add(op, e.path);
    }
    visible = sys.visible;
    rules = sys.rules;
  }

  // The system part in depth order, for the system tree (prepared.h) to mount once.
  detail::SystemPart describe_system() {
    detail::SystemPart part;
    if (!build_system()) {
      part.ok = false;  // each run's build then says what failed
      return part;
    }
    sort_pending();
    for (auto& p : pending) {
      p.op.dst = plan.keep(p.dst);
      if (!p.op.what) p.op.what = p.op.dst;
      part.ops.push_back(p.op);
    }
    part.visible = visible;
    part.rules = rules;
    return part;
  }

  void sort_pending() {
    std::stable_sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) {
      int da = depth(a.dst), db = depth(b.dst);
      return da != db ? da < db : a.order < b.order;
    });
  }

  // `system`: the prepared system tree, which the plan's CloneTree ops name (the caller keeps it
  // until the child is done with it); nullptr to mount the system part in the child.
  Status build(const detail::SystemTree* system) {
    const auto& fs = policy.filesystem;
    plan.root_opts = "size=1m,nr_inodes=4096,mode=0755";
    if (system) use_system(*system);
    else if (auto s = build_system(); !s) return s;
    // Idmapped like the workspace: a directory of ours with mode 0700 is readable inside too.
    for (const auto& p : fs.allowed_paths)
      if (auto s = tree(p, false); !s) return s;
    {
      MountOp tmp{MountOp::Tmpfs};
      tmp.data = plan.keep("size=" + std::to_string(policy.limits.tmp_bytes) + ",mode=1777");
      tmp.what = "the private /tmp";
      add(tmp, "/tmp");
      MountOp run{MountOp::Tmpfs};
      run.data = "size=64k,mode=0755";
      run.what = "/run";
      add(run, "/run");
    }
    {
      MountOp pts{MountOp::Devpts};
      pts.what = "/dev/pts";
      add(pts, "/dev/pts");
      MountOp proc{MountOp::Proc};
      proc.what = "/proc";
      add(proc, "/proc");
      // No user namespace can be made inside: with none, no mount or other namespace either (the
      // command has no capability in ours). The limit is per user namespace: ours only.
      MountOp no_userns{MountOp::Sysctl};
      no_userns.data = "0";
      no_userns.what = "limit nested user namespaces";
      add(no_userns, "/proc/sys/user/max_user_namespaces", 3);
    }
    const std::string& ws = command.workspace;
    if (!ws.empty()) {
      if (auto s = tree(ws, fs.mode != FsMode::Strict); !s) return s;
      // Metadata that runs code later stays read-only even in a writable workspace.
      if (fs.mode != FsMode::Strict)
        for (const char* m : {"/.git/hooks", "/.git/config"}) {
          struct stat st;
          if (::lstat((ws + m).c_str(), &st) == 0 && !S_ISLNK(st.st_mode)) {
            MountOp op{MountOp::ReadOnly};
            op.what = plan.keep("read-only " + ws + m);
            add(op, ws + m, 2);
          }
        }
    }
    if (!command.proxy_socket.empty()) {
      struct stat st;
      if (::stat(command.proxy_socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
        return Error{"proxy socket " + command.proxy_socket + ": not a Unix socket"};
      // Idmapped like the workspace: pid 1 (the sandbox's root) may connect to a socket of ours.
      if (auto s = tree(command.proxy_socket, true, kProxyPath); !s) return s;
      plan.proxy_path = kProxyPath;
    }
    for (const auto& p : fs.writable_paths)
      if (auto s = tree(p, true); !s) return s;
    for (const auto& p : fs.read_only_paths) {
      struct stat st;
      if (::lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode) || !is_visible(p)) continue;
      MountOp op{MountOp::ReadOnly};
      op.what = plan.keep("read-only " + p);
      add(op, p, 2);
    }
    // Secrets stay hidden wherever a home directory is visible (permissive shows them all).
    std::vector<std::string> homes = {"/root"};
    if (const char* h = std::getenv("HOME"); h && *h == '/') homes.emplace_back(h);
    if (DIR* d = ::opendir("/home")) {
      while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') homes.push_back("/home/" + std::string(e->d_name));
      ::closedir(d);
    }
    std::sort(homes.begin(), homes.end());
    homes.erase(std::unique(homes.begin(), homes.end()), homes.end());  // $HOME is often /root
    for (const auto& h : homes)
      for (const char* s : {".ssh", ".aws", ".gnupg", ".azure", ".kube", ".docker", ".netrc", ".git-credentials", ".npmrc",
                            ".pypirc", ".config/gcloud", ".config/gh", ".cargo/credentials", ".cargo/credentials.toml"})
        hide(h + "/" + s);
    for (const auto& p : fs.blocked_paths) hide(p);

    // A mount at /tmp or /dev must come before what goes under it, and /proc before anything
    // hides parts of it: depth order gives both.
    sort_pending();
    for (auto& p : pending) {
      p.op.dst = plan.keep(p.dst);
      if (!p.op.what) p.op.what = p.op.dst;
      plan.ops.push_back(p.op);
    }
    return {};
  }
};

// INDEXER_SANDBOX_PREPARE=0 turns the prepared parts (prepared.h) off: every run then mounts its
// system part and makes its network namespace itself (for comparison, and a way around a kernel
// that misbehaves with them).
bool prepare_enabled() {
  const char* v = std::getenv("INDEXER_SANDBOX_PREPARE");
  return !v || std::strcmp(v, "0") != 0;
}

// The system tree for the policy's filesystem mode (prepared.h), built by a Builder of its own.
std::shared_ptr<const detail::SystemTree> prepared_system(const Policy& policy, const Command& command, const Support& support) {
  return detail::system_tree(int(policy.filesystem.mode), [&] {
    SpawnPlan scratch;
    Builder sb{policy, command, support, scratch, true, {}, {}, {}, {}, {}, {}};
    detail::SystemPart part = sb.describe_system();
    part.store = std::move(scratch.store);  // the ops' strings: a deque's move keeps them in place
    return part;
  });
}

// The network namespace this thread serves from, opened on its first run (before it entered any
// other) and closed when it ends.
int own_netns() {
  struct Own {
    int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ~Own() {
      if (fd >= 0) ::close(fd);
    }
  };
  static thread_local Own own;
  return own.fd;
}

// Writes the child's uid and gid maps (0 inside is the slot's uid as root, else our own uid), and
// idmaps the detached trees with the child's user namespace. Empty, or what failed.
std::string map_ids(int pid, bool root, int slot, const std::vector<Builder::IdmapTree>& trees) {
  std::string proc = "/proc/" + std::to_string(pid);
  uint32_t host_uid = root ? kBaseUid + uint32_t(slot) : ::geteuid();
  uint32_t host_gid = root ? kBaseUid + uint32_t(slot) : ::getegid();
  bool ok = write_file(proc + "/uid_map", "0 " + std::to_string(host_uid) + " 1\n");
  if (ok && !root) ok = write_file(proc + "/setgroups", "deny");
  ok = ok && write_file(proc + "/gid_map", "0 " + std::to_string(host_gid) + " 1\n");
  if (!ok) return "write the uid/gid maps: " + errno_text(errno);
  if (trees.empty()) return {};
  // The child's own mapping (0 <-> the slot's uid) on the detached trees: a file of ours (uid 0
  // on disk) is the sandbox root's, and what the sandbox writes is ours on disk.
  Fd userns(::open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  for (const auto& t : trees) {
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (t.rdonly ? MOUNT_ATTR_RDONLY : 0);
    attr.userns_fd = uint64_t(userns.fd);
    attr.propagation = MS_PRIVATE;  // not a peer of the host's mount: mounts on it stay in the run
    if (!userns || syscall(SYS_mount_setattr, t.fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
      return "idmap the workspace: " + errno_text(errno);
  }
  return {};
}

std::string describe_step(const SpawnPlan& plan, int32_t step) {
  switch (step) {
    case detail::kStepIds: return "set the sandbox's ids";
    case detail::kStepPrivate: return "make mounts private";
    case detail::kStepRoot: return "mount the root tmpfs";
    case detail::kStepPivot: return "pivot_root";
    case detail::kStepOldroot: return "detach the host's root";
    case detail::kStepRemountRoot: return "make the root read-only";
    case detail::kStepCwd: return std::string("enter the working directory ") + (plan.cwd ? plan.cwd : "");
    case detail::kStepFork: return "start the command";
    case detail::kStepLoopback: return "bring up lo";
    case detail::kStepProxy: return "listen for the proxy relay on 127.0.0.1:3128";
    case detail::kStepCgroup: return "join the run's cgroups";
    case detail::kStepLandlock: return "restrict the command with Landlock";
    case detail::kStepSeccomp: return "install the seccomp filter";
    case detail::kStepZygote: return "start the template's zygote";
    case detail::kStepRunMounts: return "mount the run's /tmp, /proc and /dev/pts";
    case detail::kStepRunRequest: return "read the run's plan from the zygote's socket";
    case detail::kStepRunWorkspace: return "mount the run's workspace";
    default:
      if (step >= 0 && size_t(step) < plan.ops.size()) return plan.ops[size_t(step)].what;
      return "set up";
  }
}

// Appends a chunk to a capped stream: past the cap the rest is drained and dropped, and a marker
// says so once.
void capture(std::string& s, bool& truncated, uint64_t cap, const char* data, size_t n) {
  if (truncated) return;
  if (s.size() + n <= cap) {
    s.append(data, n);
    return;
  }
  s.append(data, size_t(cap - s.size()));
  s += "\n[indexer: output truncated at " + std::to_string(cap) + " bytes]\n";
  truncated = true;
}

std::string signal_name(int sig) {
  const char* d = sigdescr_np(sig);
  return std::string(sigabbrev_np(sig) ? std::string("SIG") + sigabbrev_np(sig) : "signal " + std::to_string(sig)) +
         (d ? std::string(" (") + d + ")" : "");
}

}  // namespace

std::string Support::summary() const {
  std::string s = std::string("user namespaces: ") + (user_namespaces ? "yes" : "no") +
                  "; idmapped mounts: " + (idmapped_mounts ? "yes" : "no") +
                  "; landlock ABI: " + std::to_string(landlock_abi) + "; seccomp: " + (seccomp ? "yes" : "no") +
                  "; cgroup v1 memory: " + (cgroup_v1_memory ? "yes" : "no") + ", pids: " + (cgroup_v1_pids ? "yes" : "no") +
                  "; cgroup v2: " + (cgroup_v2 ? "usable" : "not usable");
  return s;
}

const Support& probe() {
  static const Support s = do_probe();
  return s;
}

namespace {

detail::TcpRules landlock_tcp() {
  detail::TcpRules tcp;
  tcp.restricted = false;  // the network namespace already is the network layer; lo stays usable
  return tcp;
}

// ---- Warm templates (sandbox.h: Template; the zygote's side is warm.cpp) ----

// A template's zygote as the server holds it: its control socket and pidfd, the uid slot its runs
// share, and what its runs need from the build (Landlock's host paths).
struct Zygote {
  Fd ctl, pidfd;
  int slot = -1;
  bool idmapped = false;
  bool new_net = false;  // the proxy relay listens on a fixed port: each run gets a network of its own
  std::string tmp_opts;
  std::vector<std::pair<std::string, bool>> under_tmp;  // the outermost mounts under /tmp (warm.cpp)
  std::vector<detail::PathRule> rules;  // each with its path open (rule_fds): a run's ruleset opens nothing
  std::vector<Fd> rule_fds;
  Fd userns;  // per-run workspaces, idmapped: the template's user namespace, which their copies are mapped with
  // Each spare builds its run's Landlock ruleset before the run is known (warm.cpp); the ABI and what
  // it cannot restrict were learnt from one the server built when the zygote started.
  bool landlock_ahead = false;
  int landlock_abi = 0;
  std::vector<std::string> landlock_weakened;
  ~Zygote() {
    ctl.reset();  // the zygote exits on end of file, its runs with it
    if (pidfd) {
      syscall(SYS_pidfd_send_signal, pidfd.fd, SIGKILL, nullptr, 0);
      siginfo_t info{};
      while (::waitid(P_PIDFD, id_t(pidfd.fd), &info, WEXITED) < 0 && errno == EINTR) {
      }
    }
    if (slot >= 0) slots().release(slot);
  }
  bool alive() const {
    pollfd p{pidfd.fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }
};

// A spare the zygote forked for a run to come (warm.cpp): already pid 1 of its own namespaces with
// its /tmp and /proc mounted, waiting for its plan on `sock`. Its pidfd arrives on `sock` too.
struct Spare {
  std::shared_ptr<Zygote> zygote;
  Fd sock, pidfd;
  Clock::time_point asked;
};

// Asks the zygote for a spare, without waiting for it.
std::optional<Spare> ask_spare(const std::shared_ptr<Zygote>& zygote) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return std::nullopt;
  Spare spare{zygote, Fd(pair[0]), Fd(), Clock::now()};
  Fd theirs(pair[1]);
  char flag = 0;
  if (!detail::send_with_fds(zygote->ctl.fd, &flag, 1, &theirs.fd, 1)) return std::nullopt;
  return spare;
}

// The spare's pidfd, read from its socket (waited for up to 10 s); false when the zygote is gone.
bool await_spare(Spare& spare) {
  if (spare.pidfd) return true;
  pollfd p{spare.sock.fd, POLLIN, 0};
  if (::poll(&p, 1, 10000) != 1) return false;
  char ok = 0;
  int fd = -1, got = 0;
  if (detail::recv_with_fds(spare.sock.fd, &ok, 1, &fd, 1, &got) != 1 || got != 1) return false;
  spare.pidfd = Fd(fd);
  return fd >= 0;
}

struct WarmRun {
  std::shared_ptr<Zygote> zygote;
  std::optional<Spare> spare;   // one asked for by an earlier run, if the template had it
  Template::Impl* impl = nullptr;  // where the next spare is kept
  bool gone = false;  // the zygote or the spare did not answer: the template starts another and runs again
  std::string error;
  // A run's own workspace (Template::Options::workspaces): its detached copy and directory, held
  // until the spare has them, and the template's Landlock rules with the workspace added.
  detail::RunWorkspace workspace;
  Fd workspace_tree, workspace_dir;
  std::vector<detail::PathRule> own_rules;
  const std::vector<detail::PathRule>& rules() const { return workspace_dir ? own_rules : zygote->rules; }
};

void keep_spare(Template::Impl& impl, const std::shared_ptr<Zygote>& zygote);

// Takes the spare the template kept (or asks for one now), sends it the plan, and asks for the
// next spare while this run goes on. The run's pidfd, or -1 with warm.error (and warm.gone when
// the zygote or the spare is gone).
int warm_launch(WarmRun& warm, const SpawnPlan& plan) {
  auto gone = [&](const std::string& why) {
    warm.gone = true;
    warm.error = "the template's zygote is gone (" + why + ")";
    return -1;
  };
  if (!warm.spare) warm.spare = ask_spare(warm.zygote);
  if (!warm.spare) return gone("send: " + errno_text(errno));
  if (!await_spare(*warm.spare)) return gone("no spare");
  if (Status s = detail::send_warm_request(warm.spare->sock.fd, plan, warm.workspace); !s) return gone(s.error());
  if (warm.impl) keep_spare(*warm.impl, warm.zygote);
  return std::exchange(warm.spare->pidfd.fd, -1);
}

// Builds a template's root like a cold run's, in a child that then execs this program as the
// zygote (spawn_plan.h); returns once the zygote said it is ready.
Result<std::shared_ptr<Zygote>> start_zygote(const Policy& policy, const Command& base, uint64_t idle_ms,
                                             const std::string& workspaces) {
  const Support& support = probe();
  if (!support.user_namespaces) return Error{"warm templates need user namespaces"};
  const bool root = ::geteuid() == 0;
  auto z = std::make_shared<Zygote>();
  SpawnPlan plan;
  Builder b{policy, base, support, plan, root, {}, {}, {}, {}, {}};
  plan.namespaces = true;
  if (auto s = b.build(nullptr); !s) return Error{s.error()};
  if (!b.missing.empty()) return Error{b.missing[0] + ": no such path"};
  plan.clear_groups = root;
  z->rules = b.rules;
  // The inodes the template's mounts were bound from, which is what its runs see at those paths.
  for (auto& r : z->rules)
    if (Fd& f = z->rule_fds.emplace_back(::open(r.path.c_str(), O_PATH | O_CLOEXEC)); f) r.fd = f.fd;
  z->idmapped = !b.idmap_trees.empty() || (!workspaces.empty() && root && support.idmapped_mounts);
  z->new_net = !base.proxy_socket.empty();
  // Per-run workspaces: each spare mounts a tmpfs of its own there (warm.cpp); outside /tmp (which
  // each spare mounts anew) and outside what the template binds, the root's tmpfs needs the point.
  if (!workspaces.empty() && !workspaces.starts_with("/tmp/") && !b.is_visible(workspaces)) {
    MountOp point{MountOp::Tmpfs};
    point.rdonly = true;
    point.data = "size=4k,nr_inodes=16,mode=0755";
    point.dst = plan.keep(workspaces);
    point.what = plan.keep("the mount point of per-run workspaces " + workspaces);
    plan.ops.push_back(point);
  }
  z->tmp_opts = "size=" + std::to_string(policy.limits.tmp_bytes) + ",mode=1777";
  for (const auto& op : plan.ops) {
    std::string_view dst = op.dst;
    bool mount = op.kind != MountOp::Symlink && op.kind != MountOp::WriteFile && op.kind != MountOp::Sysctl;
    if (!mount || !dst.starts_with("/tmp/")) continue;
    bool nested = std::any_of(z->under_tmp.begin(), z->under_tmp.end(), [&](const auto& u) {
      return dst.starts_with(u.first) && dst.size() > u.first.size() && dst[u.first.size()] == '/';
    });
    if (!nested) z->under_tmp.emplace_back(std::string(dst), op.is_file);
  }

  Fd exe(::open("/proc/self/exe", O_PATH | O_CLOEXEC));
  if (!exe) return Error{"/proc/self/exe: " + errno_text(errno)};
  int ctl[2], status_p[2], sync_p[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) != 0) return Error{"socketpair: " + errno_text(errno)};
  z->ctl = Fd(ctl[0]);
  Fd child_ctl(ctl[1]);
  if (::pipe2(status_p, O_CLOEXEC) != 0) return Error{"pipe: " + errno_text(errno)};
  Fd status_r(status_p[0]), status_w(status_p[1]);
  if (::pipe2(sync_p, O_CLOEXEC) != 0) return Error{"pipe: " + errno_text(errno)};
  Fd sync_r(sync_p[0]), sync_w(sync_p[1]);
  plan.status_w = status_w.fd;
  plan.sync_r = sync_r.fd;
  plan.zygote_exe = exe.fd;
  plan.zygote_ctl = child_ctl.fd;
  // warm.cpp: zygote_entry reads these.
  plan.zygote_argv = {const_cast<char*>(detail::kZygoteArgv0), const_cast<char*>(plan.keep(std::to_string(child_ctl.fd))),
                      const_cast<char*>(plan.keep(std::to_string(idle_ms))), const_cast<char*>(plan.keep(z->tmp_opts)),
                      const_cast<char*>(z->new_net ? "net" : "-")};
  for (const auto& [path, is_file] : z->under_tmp)
    plan.zygote_argv.push_back(const_cast<char*>(plan.keep((is_file ? "f:" : "d:") + path)));
  if (!workspaces.empty()) plan.zygote_argv.push_back(const_cast<char*>(plan.keep("w:" + workspaces)));
  if (support.landlock_abi > 0) {
    if (auto rs = detail::landlock_ruleset(policy, z->rules, landlock_tcp()); rs) {
      z->landlock_ahead = true;
      z->landlock_abi = rs->abi();
      z->landlock_weakened = rs->weakened();
      plan.zygote_argv.push_back(const_cast<char*>("a:1"));
      for (const auto& r : z->rules)
        plan.zygote_argv.push_back(const_cast<char*>(plan.keep((r.writable ? "L:" : "l:") + r.path)));
    }
  }
  plan.zygote_argv.push_back(nullptr);
  plan.keep_fds = {plan.status_w, plan.sync_r, plan.zygote_exe, plan.zygote_ctl};
  for (const auto& op : plan.ops)
    if (op.fd >= 0) plan.keep_fds.push_back(op.fd);
  std::sort(plan.keep_fds.begin(), plan.keep_fds.end());
  if (root) {
    z->slot = slots().acquire();
    if (z->slot < 0) return Error{"too many concurrent sandboxed runs (" + std::to_string(kSlots) + ")"};
  }

  // The child runs on this stack until its execve: it is unmapped only after the zygote answered
  // or the child is gone.
  constexpr size_t kStack = 1 << 20;
  void* stack = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return Error{"mmap: " + errno_text(errno)};
  int pidfd = -1;
  int pid = ::clone(detail::child_main, static_cast<char*>(stack) + kStack, int(kNamespaces) | CLONE_VM | CLONE_PIDFD | SIGCHLD,
                    &plan, &pidfd);
  if (pid < 0) {
    ::munmap(stack, kStack);
    return Error{"clone: " + errno_text(errno)};
  }
  z->pidfd = Fd(pidfd);
  if (!workspaces.empty() && z->idmapped) z->userns = Fd(::open(("/proc/" + std::to_string(pid) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  child_ctl.reset();
  status_w.reset();
  sync_r.reset();
  std::string error = map_ids(pid, root, z->slot, b.idmap_trees);
  b.tree_fds.clear();
  char go = 1;
  if (error.empty() && ::write(sync_w.fd, &go, 1) != 1) error = "start the zygote: " + errno_text(errno);
  sync_w.reset();
  if (error.empty()) {
    // "R" when the zygote runs; end of file when the child failed (its report says where) or died.
    pollfd p{z->ctl.fd, POLLIN, 0};
    char ready = 0;
    if (::poll(&p, 1, 10000) != 1 || ::recv(z->ctl.fd, &ready, 1, 0) != 1 || ready != 'R') {
      ChildReport report;
      ::fcntl(status_r.fd, F_SETFL, O_NONBLOCK);
      if (::read(status_r.fd, &report, sizeof report) == ssize_t(sizeof report) && report.kind == ChildReport::SetupFailed)
        error = describe_step(plan, report.step) + ": " + errno_text(report.err);
      else
        error = "the zygote did not start";
    }
  }
  if (!error.empty()) {
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    siginfo_t info{};
    while (::waitid(P_PIDFD, id_t(pidfd), &info, WEXITED) < 0 && errno == EINTR) {
    }
    z->pidfd.reset();
    ::munmap(stack, kStack);
    return Error{"template setup failed: " + error};
  }
  ::munmap(stack, kStack);
  return z;
}

Result<Outcome> run_impl(const Policy& policy, const Command& command, const RunOptions& options, WarmRun* warm) {
  if (command.argv.empty() || command.argv[0].empty()) return Error{"no command to run"};
  if (command.workspace.empty() || command.workspace[0] != '/') return Error{"the workspace must be an absolute path"};
  {
    struct stat st;
    if (::stat(command.workspace.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Error{command.workspace + ": not a directory"};
  }
  const Support& support = probe();
  const bool root = ::geteuid() == 0;
  Outcome out;
  if (!support.user_namespaces && policy.isolation == Isolation::Required) {
    out.kind = Outcome::Kind::Refused;
    out.reason = "refused: this kernel does not allow user namespaces, and the policy requires isolation";
    return out;
  }

  SpawnPlan plan;
  std::vector<int> owned;  // descriptors the parent closes after the clone
  struct CloseAll {
    std::vector<int>& v;
    ~CloseAll() {
      for (int fd : v) ::close(fd);
    }
  } close_owned{owned};

  Builder b{policy, command, support, plan, root, {}, {}, {}, {}, {}};
  plan.namespaces = support.user_namespaces;
  // Held until the run ends: the child copies from its descriptor, the ruleset uses its rules' fds.
  std::shared_ptr<const detail::SystemTree> system;
  if (plan.namespaces && !warm) {
    if (root && prepare_enabled()) system = prepared_system(policy, command, support);
    if (auto s = b.build(system.get()); !s) return Error{s.error()};
    if (!b.missing.empty()) return Error{b.missing[0] + ": no such path"};
  }
  plan.clear_groups = root;
  plan.cwd = plan.keep(command.cwd.empty() ? command.workspace : command.cwd);
  if (warm && !command.proxy_socket.empty()) plan.proxy_path = Builder::kProxyPath;

  // The command, its PATH lookup, its environment.
  static constexpr const char* kPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::vector<std::string> env = {std::string("PATH=") + kPath, "HOME=/tmp", "LANG=C.UTF-8", "TERM=dumb"};
  if (!command.proxy_socket.empty())
    for (const char* k : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"})
      env.push_back(std::string(k) + "=http://127.0.0.1:3128");
  for (const auto& kv : command.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return Error{"environment entry '" + kv + "' is not KEY=VALUE"};
    auto same = [&](const std::string& e) { return e.compare(0, eq + 1, kv, 0, eq + 1) == 0; };
    std::erase_if(env, same);
    env.push_back(kv);
  }
  std::string path_value = kPath;
  for (const auto& e : env)
    if (e.starts_with("PATH=")) path_value = e.substr(5);
  for (const auto& e : env) plan.envp.push_back(const_cast<char*>(plan.keep(e)));
  plan.envp.push_back(nullptr);
  for (const auto& a : command.argv) plan.argv.push_back(const_cast<char*>(plan.keep(a)));
  plan.argv.push_back(nullptr);
  const std::string& a0 = command.argv[0];
  if (a0.find('/') != std::string::npos) {
    plan.exec_paths.push_back(plan.argv[0]);
  } else {
    size_t from = 0;
    while (from <= path_value.size()) {
      size_t to = path_value.find(':', from);
      if (to == std::string::npos) to = path_value.size();
      std::string dir = path_value.substr(from, to - from);
      plan.exec_paths.push_back(plan.keep((dir.empty() ? "." : dir) + "/" + a0));
      from = to + 1;
    }
  }

  // Limits. RLIMIT_NPROC counts per host uid: only a slot's uid of its own makes it per run.
  const auto& lim = policy.limits;
  auto rl = [&](int res, uint64_t soft, uint64_t hard) { plan.limits.push_back({res, {rlim_t(soft), rlim_t(hard)}}); };
  uint64_t cpu_s = (lim.cpu_ms + 999) / 1000;
  rl(RLIMIT_CPU, cpu_s, cpu_s + 1);
  rl(RLIMIT_FSIZE, lim.file_size_bytes, lim.file_size_bytes);
  rl(RLIMIT_NOFILE, lim.open_files, lim.open_files);
  rl(RLIMIT_CORE, 0, 0);
  if (root && plan.namespaces && !warm) rl(RLIMIT_NPROC, lim.processes, lim.processes);

  // The guards (guards.h), prepared here: seccomp and Landlock are refused runs when missing under
  // Isolation::Required (weakened under BestEffort); cgroups fall back to rlimits (weakened).
  std::string refuse;
  auto missing_layer = [&](const std::string& what) {
    if (policy.isolation == Isolation::Required) {
      if (refuse.empty()) refuse = "refused: " + what + ", and the policy requires isolation";
    } else {
      out.weakened.push_back(what);
    }
  };
  static const Result<detail::SeccompProgram> seccomp = detail::seccomp_program(policy);  // one for all policies
  if (!support.seccomp) missing_layer("seccomp: not available on this kernel");
  else if (!seccomp) missing_layer("seccomp: " + seccomp.error());
  else plan.seccomp = &seccomp.value();
  std::optional<detail::LandlockRuleset> landlock;
  const detail::LandlockRuleset* ruleset = nullptr;
  if (plan.namespaces && warm && warm->zygote->landlock_ahead) {
    plan.landlock_ahead = true;  // the spare's own ruleset, with the run's workspace added (warm.cpp)
    for (const auto& w : warm->zygote->landlock_weakened) out.weakened.push_back("landlock: " + w);
  } else if (plan.namespaces) {
    // Besides the host paths bound in, the child adds what it makes itself: /tmp, /dev, /etc, /proc.
    // One ruleset a run: the child's additions go into the kernel object, and a warm run's /tmp and
    // /proc are new inodes each time (a rule on the template's mount point would not cover them:
    // Landlock skips mount points on its walk up).
    auto rs = detail::landlock_ruleset(policy, warm ? warm->rules() : b.rules, landlock_tcp());
    if (!rs) {
      missing_layer("landlock: " + rs.error());
    } else {
      landlock.emplace(std::move(*rs));
      ruleset = &*landlock;
    }
  }
  if (!plan.namespaces && support.landlock_abi > 0)
    out.weakened.push_back("landlock: not applied without the run's own mount namespace (its rules name the run's own /tmp and /dev)");
  if (ruleset) {
    plan.landlock_fd = ruleset->fd();
    plan.landlock_read = ruleset->read_access();
    plan.landlock_write = ruleset->write_access();
    for (const auto& w : ruleset->weakened()) out.weakened.push_back("landlock: " + w);
  }
  // From the pool (guards.h: a reset instead of mkdir and rmdir), and back to it when run() returns,
  // after the child is reaped (Reap below is destroyed first).
  struct PooledCgroup {
    std::optional<detail::Cgroup> cg;
    ~PooledCgroup() {
      if (cg) detail::cgroup_pool().release(std::move(*cg));
    }
  } pooled;
  std::optional<detail::Cgroup>& cgroup = pooled.cg;
  if (root && plan.namespaces && (support.cgroup_v1_memory || support.cgroup_v1_pids)) {
    auto cg = detail::cgroup_pool().acquire(lim);
    if (cg) cgroup.emplace(std::move(*cg));
    else out.weakened.push_back("cgroups: " + cg.error());
  }
  if (cgroup) plan.cgroup = cgroup->join();
  if (!cgroup || !cgroup->has_memory()) {
    rl(RLIMIT_DATA, lim.memory_bytes, lim.memory_bytes);  // per process: the fallback
    out.weakened.push_back("memory: RLIMIT_DATA per process (no memory cgroup)");
  }
  if (!cgroup || !cgroup->has_pids()) {
    // RLIMIT_NPROC bounds a run only under a uid of its own (a slot's, as root); a warm run shares
    // its template's uid with the template's other runs, so the limit counts them all.
    const bool own_uid = root && plan.namespaces;
    if (warm && own_uid) rl(RLIMIT_NPROC, lim.processes, lim.processes);
    out.weakened.push_back(!own_uid ? "processes: not bounded (no pids cgroup, and RLIMIT_NPROC would count every process of our uid)"
                           : warm   ? "processes: RLIMIT_NPROC, shared by the template's concurrent runs (no pids cgroup)"
                                    : "processes: RLIMIT_NPROC only (no pids cgroup)");
  }
  if (!refuse.empty()) {
    out.kind = Outcome::Kind::Refused;
    out.reason = refuse;
    return out;
  }

  int slot = -1;
  if (root && plan.namespaces && !warm) {
    slot = slots().acquire();
    if (slot < 0) return Error{"too many concurrent sandboxed runs (" + std::to_string(kSlots) + ")"};
  }
  struct SlotGuard {
    int s;
    ~SlotGuard() {
      if (s >= 0) slots().release(s);
    }
  } slot_guard{slot};

  // Pipes: stdin is a socket pair (a write to a command that stopped reading must not SIGPIPE us).
  int in_pair[2], out_p[2], err_p[2], status_p[2], sync_p[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0) return Error{"socketpair: " + errno_text(errno)};
  owned.push_back(in_pair[1]);
  Fd in_w(in_pair[0]);
  if (::pipe2(out_p, O_CLOEXEC) != 0) return Error{"pipe: " + errno_text(errno)};
  Fd out_r(out_p[0]);
  owned.push_back(out_p[1]);
  if (::pipe2(err_p, O_CLOEXEC) != 0) return Error{"pipe: " + errno_text(errno)};
  Fd err_r(err_p[0]);
  owned.push_back(err_p[1]);
  if (::pipe2(status_p, O_CLOEXEC) != 0) return Error{"pipe: " + errno_text(errno)};
  Fd status_r(status_p[0]);
  owned.push_back(status_p[1]);
  if (::pipe2(sync_p, O_CLOEXEC) != 0) return Error{"pipe: " + errno_text(errno)};
  owned.push_back(sync_p[0]);
  Fd sync_w(sync_p[1]);
  plan.in_r = in_pair[1];
  plan.out_w = out_p[1];
  plan.err_w = err_p[1];
  plan.status_w = status_p[1];
  plan.sync_r = sync_p[0];
  plan.keep_fds = {plan.in_r, plan.out_w, plan.err_w, plan.status_w, plan.sync_r};
  for (const auto& op : plan.ops)
    if (op.fd >= 0) plan.keep_fds.push_back(op.fd);
  if (plan.landlock_fd >= 0) plan.keep_fds.push_back(plan.landlock_fd);
  for (int fd : plan.cgroup.fds)
    if (fd >= 0) plan.keep_fds.push_back(fd);
  std::sort(plan.keep_fds.begin(), plan.keep_fds.end());

  out.layers = {"rlimits", "no_new_privs", "capabilities dropped", "new session", "scrubbed environment",
                "inherited descriptors closed"};
  if (plan.namespaces) {
    out.layers.insert(out.layers.begin(), {"user namespace", "mount namespace (minimal root)", "pid namespace",
                                           "network namespace (empty)", "ipc namespace", "uts namespace"});
    if (warm ? warm->zygote->idmapped : !b.idmap_trees.empty()) out.layers.push_back("idmapped workspace");
    if (warm) out.layers.push_back("warm template (a fork of its zygote: pid, mount and ipc namespaces, /tmp, /proc of its own)");
    if (plan.landlock_fd >= 0 || plan.landlock_ahead)
      out.layers.push_back("landlock (ABI " + std::to_string(ruleset ? ruleset->abi() : warm->zygote->landlock_abi) + ")");
  } else {
    out.weakened.push_back("namespaces: this kernel does not allow user namespaces; the host's filesystem, "
                           "network and processes are visible");
  }
  if (plan.seccomp) out.layers.push_back("seccomp filter");
  if (cgroup && cgroup->has_memory()) out.layers.push_back("cgroup v1 memory");
  if (cgroup && cgroup->has_pids()) out.layers.push_back("cgroup v1 pids");

  const auto start = Clock::now();
  int pidfd = -1;
  int pid = -1;
  // The child's and the command's stacks (spawn_plan.h): this thread's own, which its next run
  // reuses (the child is reaped before run() returns; its pages are already there), or, when they
  // are in use (a run started from an on_output callback), a mapping unmapped once it is reaped.
  constexpr size_t kStack = 2 << 20;  // the relay's buffers (relay.cpp) live on pid 1's; pages are touched lazily
  struct Stacks {
    void* p = nullptr;
    bool busy = false;
    Stacks() = default;
    Stacks(const Stacks&) = delete;
    Stacks& operator=(const Stacks&) = delete;
    ~Stacks() {
      if (p) ::munmap(p, 2 * kStack);
    }
  };
  static thread_local Stacks thread_stacks;
  struct Unmap {
    Stacks own;
    bool* busy = nullptr;
    ~Unmap() {
      if (busy) *busy = false;
    }
  } unmap_stacks;
  if (warm) {
    // A fork of the template's zygote (warm.cpp), which answers with the run's pid 1 as a pidfd.
    pidfd = warm_launch(*warm, plan);
    if (pidfd < 0) return Error{warm->error};
  } else {
    Stacks& mine = thread_stacks.busy ? unmap_stacks.own : thread_stacks;
    if (!mine.p) {
      void* p = ::mmap(nullptr, 2 * kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
      if (p == MAP_FAILED) return Error{"mmap: " + errno_text(errno)};
      mine.p = p;
    }
    if (&mine == &thread_stacks) {
      thread_stacks.busy = true;
      unmap_stacks.busy = &thread_stacks.busy;
    }
    void* stacks = mine.p;
    plan.command_stack_top = static_cast<char*>(stacks) + 2 * kStack;
    uint64_t ns = plan.namespaces ? kNamespaces : 0;
    // A network namespace made ahead (prepared.h): this thread enters it for the clone only, and
    // the child is born in it.
    Fd net(plan.namespaces && prepare_enabled() ? detail::take_netns() : -1);
    const int own_net = net ? own_netns() : -1;
    const bool entered = own_net >= 0 && ::setns(net.fd, CLONE_NEWNET) == 0;
    if (entered) ns &= ~uint64_t(CLONE_NEWNET);
    plan.lo_up = entered;
    pid = ::clone(detail::child_main, static_cast<char*>(stacks) + kStack, int(ns) | CLONE_VM | CLONE_PIDFD | SIGCHLD,
                  &plan, &pidfd);
    const int clone_err = errno;
    if (entered && ::setns(own_net, CLONE_NEWNET) != 0) {
      // This thread would go on serving from the sandbox's network: not survivable.
      std::fprintf(stderr, "sandbox: cannot return to our network namespace: %s\n", std::strerror(errno));
      std::abort();
    }
    if (pid < 0) return Error{"clone: " + errno_text(clone_err)};
  }
  Fd pid_fd(pidfd);
  // Whatever leaves this scope (an exception from on_output included), the child is gone before
  // its stacks are unmapped (a warm run's pid 1 is the zygote's child: we see it end, it reaps).
  struct Reap {
    int pidfd;
    bool warm;
    bool done = false;
    ~Reap() {
      if (done) return;
      syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
      if (warm) {
        pollfd p{pidfd, POLLIN, 0};
        while (::poll(&p, 1, 5000) < 0 && errno == EINTR) {
        }
        return;
      }
      siginfo_t info{};
      while (::waitid(P_PIDFD, id_t(pidfd), &info, WEXITED) < 0 && errno == EINTR) {
      }
    }
  } reap{pidfd, warm != nullptr};
  // From here the child exists: every way out below kills it first.
  auto kill_child = [&] { syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0); };
  for (int fd : owned) ::close(fd);
  owned.clear();

  std::string setup_error;
  if (plan.namespaces && !warm) setup_error = map_ids(pid, root, slot, b.idmap_trees);
  b.tree_fds.clear();
  // The child joins its cgroups (guards.h) first thing after this byte: its whole tree inherits them.
  if (!setup_error.empty()) {
    kill_child();
  } else if (!warm) {
    char go = 1;
    if (::write(sync_w.fd, &go, 1) != 1) kill_child();
  }
  sync_w.reset();

  // Feed stdin, read stdout and stderr, watch the clock, the cancel flag and the child.
  const uint64_t cap = lim.output_bytes;
  const auto deadline = start + std::chrono::milliseconds(lim.wall_ms);
  size_t in_off = 0;
  if (command.stdin_data.empty()) in_w.reset();
  else ::fcntl(in_w.fd, F_SETFL, O_NONBLOCK);
  enum class Killed { No, Timeout, Cancelled } killed = Killed::No;
  bool exited = false;
  ChildReport report;
  bool reported = false;  // a warm run's report, read as it arrived
  char buf[65536];
  auto read_into = [&](Fd& f, int stream, std::string& s, bool& trunc) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n > 0) {
      if (options.on_output) options.on_output(stream, std::string_view(buf, size_t(n)));
      capture(s, trunc, cap, buf, size_t(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      f.reset();
    }
  };
  Clock::time_point drain_until{};
  while (out_r || err_r || !exited) {
    pollfd fds[4];
    int nf = 0;
    auto add = [&](int fd, short ev) { fds[nf++] = {fd, ev, 0}; };
    if (out_r) add(out_r.fd, POLLIN);
    if (err_r) add(err_r.fd, POLLIN);
    if (in_w) add(in_w.fd, POLLOUT);
    // A warm run ends with its pid 1's report (its tree already reaped: spawn_plan.h, reap_all), or
    // at end of file when pid 1 died without one.
    if (!exited) add(warm ? status_r.fd : pidfd, POLLIN);
    auto now = Clock::now();
    int timeout_ms;
    if (exited) {
      // The tree is gone with pid 1; what is left in the pipes is read, not waited for.
      if (drain_until == Clock::time_point{}) drain_until = now + std::chrono::seconds(2);
      if (now >= drain_until) break;
      timeout_ms = int(std::chrono::duration_cast<std::chrono::milliseconds>(drain_until - now).count()) + 1;
    } else {
      if (killed == Killed::No && now >= deadline) {
        killed = Killed::Timeout;
        kill_child();
      }
      if (killed == Killed::No && options.cancel && options.cancel->load(std::memory_order_relaxed)) {
        killed = Killed::Cancelled;
        kill_child();
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
      timeout_ms = int(std::clamp<long long>(left, 1, options.cancel ? 20 : 1000));
    }
    int r = ::poll(fds, nfds_t(nf), timeout_ms);
    if (r < 0 && errno != EINTR) {
      kill_child();
      killed = Killed::Cancelled;
      setup_error = "poll: " + errno_text(errno);
    }
    if (r <= 0) continue;
    for (int i = 0; i < nf; ++i) {
      if (!fds[i].revents) continue;
      if (out_r && fds[i].fd == out_r.fd) read_into(out_r, 1, out.out, out.out_truncated);
      else if (err_r && fds[i].fd == err_r.fd) read_into(err_r, 2, out.err, out.err_truncated);
      else if (in_w && fds[i].fd == in_w.fd) {
        ssize_t n = ::send(in_w.fd, command.stdin_data.data() + in_off, command.stdin_data.size() - in_off, MSG_NOSIGNAL);
        if (n > 0) in_off += size_t(n);
        if ((n < 0 && errno != EAGAIN && errno != EINTR) || in_off == command.stdin_data.size()) in_w.reset();
      } else if (fds[i].fd == pidfd || fds[i].fd == status_r.fd) {
        if (warm) reported = ::read(status_r.fd, &report, sizeof report) == ssize_t(sizeof report);
        exited = true;
      }
    }
  }
  siginfo_t info{};
  rusage ru{};
  if (!warm) {
    while (syscall(SYS_waitid, P_PIDFD, pidfd, &info, WEXITED, &ru) < 0 && errno == EINTR) {
    }
    reap.done = true;
  }
  out.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  out.cpu_ms = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;

  if (warm && reported) reap.done = true;  // nothing of the tree is left; pid 1 exits by itself
  if (cgroup && cgroup->has_memory()) out.memory_bytes = cgroup->peak_memory();
  ::fcntl(status_r.fd, F_SETFL, O_NONBLOCK);
  if (!reported && ::read(status_r.fd, &report, sizeof report) != ssize_t(sizeof report)) report = {};
  if (warm) out.cpu_ms = double(report.cpu_us) / 1e3;

  using K = Outcome::Kind;
  if (!setup_error.empty()) {
    out.kind = K::Refused;
    out.reason = "refused: sandbox setup failed: " + setup_error;
  } else if (killed == Killed::Timeout) {
    out.kind = K::Timeout;
    out.reason = "killed: wall clock of " + std::to_string(lim.wall_ms) + " ms exceeded";
  } else if (killed == Killed::Cancelled) {
    out.kind = K::Cancelled;
    out.reason = "killed: cancelled";
  } else if (report.kind == ChildReport::SetupFailed) {
    out.kind = K::Refused;
    out.reason = "refused: sandbox setup failed: " + describe_step(plan, report.step) + ": " + errno_text(report.err);
  } else if (report.kind == ChildReport::ExecFailed) {
    out.kind = K::Exited;
    out.code = 127;
    out.reason = "cannot run " + a0 + ": " + (report.err == ENOENT ? "command not found" : errno_text(report.err));
  } else if (cgroup && cgroup->has_memory() && cgroup->oom_killed()) {
    out.kind = K::Memory;
    out.code = report.kind == ChildReport::Finished && WIFSIGNALED(report.status) ? WTERMSIG(report.status) : 0;
    out.reason = "killed: memory limit of " + std::to_string(lim.memory_bytes) + " bytes exceeded";
  } else if (report.kind == ChildReport::Finished && WIFEXITED(report.status)) {
    out.kind = K::Exited;
    out.code = WEXITSTATUS(report.status);
    out.reason = "exited with " + std::to_string(out.code);
  } else if (report.kind == ChildReport::Finished && WIFSIGNALED(report.status)) {
    int sig = WTERMSIG(report.status);
    out.code = sig;
    bool cpu_spent = out.cpu_ms >= double(cpu_s * 1000);
    if (sig == SIGXCPU || (sig == SIGKILL && cpu_spent)) {
      out.kind = K::Cpu;
      out.reason = "killed: cpu time limit of " + std::to_string(cpu_s) + " s exceeded";
    } else if (sig == SIGXFSZ) {
      out.kind = K::FileSize;
      out.reason = "killed: file size limit of " + std::to_string(lim.file_size_bytes) + " bytes exceeded";
    } else {
      out.kind = K::Signaled;
      out.reason = "killed by " + signal_name(sig);
    }
  } else {
    out.kind = K::Refused;
    // A warm run's pid 1 killed from outside (its zygote died under it): whether the command began
    // is unknown, so it is not run again.
    out.reason = warm ? "refused: the template's run ended without a report (its zygote died?)"
                      : "refused: the sandbox ended before the command started (status " + std::to_string(info.si_status) + ")";
  }
  return out;
}

}  // namespace

Result<Outcome> run(const Policy& policy, const Command& command, const RunOptions& options) {
  return run_impl(policy, command, options, nullptr);
}

// ---- Template ----

struct Template::Impl {
  Policy policy;
  Command base;  // the workspace and the proxy socket every run of the template has
  Options options;
  std::mutex mu;
  std::shared_ptr<Zygote> zygote;
  std::vector<Spare> spares;  // asked for by earlier runs, for the next ones (up to options.spares)
  uint64_t started = 0;
  Fd workspaces;  // Options::workspaces, open (O_PATH): each run's own is opened beneath it
};

namespace {
void keep_spare(Template::Impl& impl, const std::shared_ptr<Zygote>& zygote) {
  {
    std::lock_guard lock(impl.mu);
    if (impl.spares.size() >= impl.options.spares || impl.zygote != zygote) return;
  }
  auto spare = ask_spare(zygote);
  std::lock_guard lock(impl.mu);
  if (spare && impl.spares.size() < impl.options.spares && impl.zygote == zygote) impl.spares.push_back(std::move(*spare));
}

// A run's own workspace beneath the template's workspaces directory (Options::workspaces), opened
// from that directory's descriptor without following a symlink or crossing a mount on the way
// (openat2), copied detached (open_tree) and idmapped with the template's user namespace, as a
// cold run's workspace is; the spare mounts the copy (warm.cpp). Fills warm's workspace fields.
Status open_run_workspace(const Template::Impl& impl, const std::string& path, WarmRun& warm) {
  const std::string& root = impl.options.workspaces;
  if (path.size() <= root.size() + 1 || path.compare(0, root.size(), root) != 0 || path[root.size()] != '/')
    return Error{"the workspace " + path + " is not beneath the template's workspaces directory " + root};
  const std::string rel = path.substr(root.size() + 1);
  for (size_t start = 0; start <= rel.size();) {
    size_t slash = std::min(rel.find('/', start), rel.size());
    std::string_view part = std::string_view(rel).substr(start, slash - start);
    if (part.empty() || part == "." || part == "..")
      return Error{"the workspace " + path + ": expected plain components beneath " + root};
    start = slash + 1;
  }
  auto beneath = [](int dir, const char* name, uint64_t flags) {
    open_how how{};
    how.flags = flags | O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    return int(syscall(SYS_openat2, dir, name, &how, sizeof how));
  };
  warm.workspace_dir = Fd(beneath(impl.workspaces.fd, rel.c_str(), O_DIRECTORY));
  if (!warm.workspace_dir)
    return Error{"the workspace " + path + ": " +
                 (errno == ELOOP ? std::string("a symlink on the way (not followed)")
                  : errno == EXDEV ? std::string("a mount on the way") : errno_text(errno))};
  const int dir = warm.workspace_dir.fd;
  warm.workspace_tree = Fd(int(syscall(SYS_open_tree, dir, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE)));
  if (!warm.workspace_tree) return Error{"open_tree " + path + ": " + errno_text(errno)};
  const bool writable = impl.policy.filesystem.mode != FsMode::Strict;
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (writable ? 0 : MOUNT_ATTR_RDONLY);
  attr.propagation = MS_PRIVATE;  // not a peer of the host's mount: mounts on it stay in the run
  if (warm.zygote->userns) {
    attr.attr_set |= MOUNT_ATTR_IDMAP;
    attr.userns_fd = uint64_t(warm.zygote->userns.fd);
  }
  if (syscall(SYS_mount_setattr, warm.workspace_tree.fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
    return Error{"idmap the workspace " + path + ": " + errno_text(errno)};
  // Metadata that runs code later stays read-only, as in a cold run (a link there is not followed).
  auto present = [&](const char* name) {
    Fd f(beneath(dir, name, 0));
    return bool(f);
  };
  warm.workspace.tree = warm.workspace_tree.fd;
  warm.workspace.at = path.c_str();
  warm.workspace.ro_hooks = writable && present(".git/hooks");
  warm.workspace.ro_config = writable && present(".git/config");
  warm.workspace.writable = writable;
  warm.own_rules = warm.zygote->rules;
  warm.own_rules.push_back({path, writable, dir});
  return {};
}

// Template::run with the run's own limits (or the policy's).
Result<Outcome> template_run(Template::Impl& impl, const Command& command, const Limits* limits, const RunOptions& options) {
  const bool own_workspace = !impl.options.workspaces.empty();
  if (own_workspace ? command.workspace.empty() : !command.workspace.empty() && command.workspace != impl.base.workspace)
    return Error{own_workspace ? "the run's workspace is missing (the template takes one per run)"
                               : "the template's workspace is " + impl.base.workspace + ", not " + command.workspace};
  if (!command.proxy_socket.empty() && command.proxy_socket != impl.base.proxy_socket)
    return Error{"the template's proxy socket is fixed when it is made"};
  const Policy* policy = &impl.policy;
  Policy limited;
  if (limits && *limits != impl.policy.limits) {
    const Limits& l = *limits;
    if (!l.cpu_ms || !l.wall_ms || !l.memory_bytes || !l.processes || !l.file_size_bytes || !l.open_files || !l.output_bytes)
      return Error{"limits: every limit must be positive (zero is never unlimited)"};
    limited = impl.policy;
    limited.limits = l;
    limited.limits.tmp_bytes = impl.policy.limits.tmp_bytes;
    policy = &limited;
  }
  // Without user namespaces there is nothing to keep warm: the cold path says what is weakened.
  if (!probe().user_namespaces) return sandbox::run(*policy, command, options);
  Command cmd = command;
  if (!own_workspace) cmd.workspace = impl.base.workspace;
  cmd.proxy_socket = impl.base.proxy_socket;
  for (int attempt = 0;; ++attempt) {
    WarmRun warm;
    {
      std::lock_guard lock(impl.mu);
      if (!impl.zygote || !impl.zygote->alive()) {
        impl.zygote.reset();
        auto z = start_zygote(impl.policy, impl.base, impl.options.idle_timeout_ms, impl.options.workspaces);
        if (!z) return Error{z.error()};
        impl.zygote = std::move(*z);
        ++impl.started;
      }
      warm.zygote = impl.zygote;
      warm.impl = &impl;
      // A spare an earlier run asked for: of this zygote, still alive, and young enough that it
      // is not about to give up waiting (it exits after the idle timeout); the others are dropped.
      while (!impl.spares.empty() && !warm.spare) {
        Spare s = std::move(impl.spares.back());
        impl.spares.pop_back();
        const bool dead = s.pidfd && [&] {
          pollfd p{s.pidfd.fd, POLLIN, 0};
          return ::poll(&p, 1, 0) != 0;
        }();
        const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - s.asked).count();
        if (s.zygote == impl.zygote && !dead && uint64_t(age) < impl.options.idle_timeout_ms / 2) warm.spare = std::move(s);
      }
    }
    if (own_workspace)
      if (Status s = open_run_workspace(impl, cmd.workspace, warm); !s) return Error{s.error()};
    auto r = run_impl(*policy, cmd, options, &warm);
    if (r || !warm.gone || attempt == 1) return r;
    // It died or timed out idle between our look and the request: start another, once.
    std::lock_guard lock(impl.mu);
    if (impl.zygote == warm.zygote) impl.zygote.reset();
  }
}
}  // namespace

Template::Template(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Template::~Template() = default;

Result<std::unique_ptr<Template>> Template::create(const Policy& policy, const Command& base, Options options) {
  if (options.idle_timeout_ms == 0 || options.idle_timeout_ms > 24ull * 3600 * 1000)
    return Error{"idle_timeout_ms: out of range [1, 86400000]"};
  if (options.spares == 0 || options.spares > 64) return Error{"spares: out of range [1, 64]"};
  auto impl = std::make_unique<Impl>();
  if (!options.workspaces.empty()) {
    // Per-run workspaces (sandbox.h): a canonical directory, so that a run's path names it as the
    // runs see it; nothing the policy hides or makes read-only beneath it (a run's copy would not be).
    const std::string& ws = options.workspaces;
    if (!base.workspace.empty()) return Error{"a template with per-run workspaces has no workspace of its own"};
    if (::geteuid() != 0) return Error{"per-run workspaces need root (a detached copy of each run's workspace, open_tree)"};
    char real[PATH_MAX];
    if (ws[0] != '/' || !::realpath(ws.c_str(), real) || ws != real)
      return Error{"workspaces: " + ws + " must be an absolute, existing path without symlinks, '.' or '..'"};
    for (const char* system : {"/proc", "/dev", "/sys", "/run"})
      if (ws == "/" || ws == "/tmp" || ws == system || ws.starts_with(std::string(system) + "/"))
        return Error{"workspaces: " + ws + " is not a place for workspaces"};
    const auto& fs = policy.filesystem;
    for (const auto* paths : {&fs.blocked_paths, &fs.read_only_paths})
      for (const auto& p : *paths)
        if (p == ws || p.starts_with(ws + "/"))
          return Error{"workspaces: " + p + " (blocked or read-only in the policy) lies beneath " + ws};
    impl->workspaces = Fd(::open(ws.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!impl->workspaces) return Error{ws + ": " + errno_text(errno)};
  } else {
    if (base.workspace.empty() || base.workspace[0] != '/') return Error{"the workspace must be an absolute path"};
    struct stat st;
    if (::stat(base.workspace.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return Error{base.workspace + ": not a directory"};
  }
  impl->policy = policy;
  impl->base.workspace = base.workspace;
  impl->base.proxy_socket = base.proxy_socket;
  impl->options = options;
  return std::unique_ptr<Template>(new Template(std::move(impl)));
}

Result<Outcome> Template::run(const Command& command, const RunOptions& options) {
  return template_run(*impl_, command, nullptr, options);
}

Result<Outcome> Template::run(const Command& command, const Limits& limits, const RunOptions& options) {
  return template_run(*impl_, command, &limits, options);
}

int Template::zygote_pid() const {
  std::lock_guard lock(impl_->mu);
  if (!impl_->zygote || !impl_->zygote->alive()) return -1;
  std::string path = "/proc/self/fdinfo/" + std::to_string(impl_->zygote->pidfd.fd);
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  char buf[512] = {};
  if (!f || ::read(f.fd, buf, sizeof buf - 1) <= 0) return -1;
  const char* pid = std::strstr(buf, "Pid:");
  return pid ? std::atoi(pid + 4) : -1;
}

uint64_t Template::zygotes_started() const {
  std::lock_guard lock(impl_->mu);
  return impl_->started;
}

}  // namespace sandbox
