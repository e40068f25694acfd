// The cloned child: pid 1 of the run's namespaces. Builds the root filesystem from the plan,
// starts the command (pid 2) with no capabilities and no inherited descriptors, reaps, and
// reports. Only system calls from here on (spawn_plan.h says why): no malloc, no stdio, no locks.
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "sandbox/spawn_plan.h"

namespace sandbox::detail {
namespace {

void write_all(int fd, const void* p, size_t n) {
  auto* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    c += w;
    n -= size_t(w);
  }
}

[[noreturn]] void fail(const SpawnPlan& plan, int32_t step, int err) {
  ChildReport r;
  r.kind = ChildReport::SetupFailed;
  r.step = step;
  r.err = err;
  write_all(plan.status_w, &r, sizeof r);
  _exit(126);
}

// mkdir -p of path's parents (not of path itself).
bool make_parents(const char* path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n + 1 > sizeof buf) return errno = ENAMETOOLONG, false;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i < n; ++i) {
    if (buf[i] != '/') continue;
    buf[i] = 0;
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return false;
    buf[i] = '/';
  }
  return true;
}

int set_attr(const char* path, uint64_t set, bool recursive) {
  mount_attr attr{};
  attr.attr_set = set;
  return int(syscall(SYS_mount_setattr, AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr, sizeof attr));
}

bool run_op(const MountOp& op) {
  switch (op.kind) {
    case MountOp::BindRo:
    case MountOp::BindRw:
      if (!make_point(op.dst, op.is_file)) return false;
      if (mount(op.src, op.dst, nullptr, MS_BIND | MS_REC, nullptr) != 0) return false;
      return set_attr(op.dst, MOUNT_ATTR_NOSUID | (op.device ? 0 : MOUNT_ATTR_NODEV) |
                                  (op.kind == MountOp::BindRo ? MOUNT_ATTR_RDONLY : 0),
                      true) == 0;
    case MountOp::MoveTree:
      if (!make_point(op.dst, op.is_file)) return false;
      return syscall(SYS_move_mount, op.fd, "", AT_FDCWD, op.dst, MOVE_MOUNT_F_EMPTY_PATH) == 0;
    case MountOp::CloneTree: {
      // One copy of a prepared subtree (its mounts and their flags) instead of a bind per mount.
      int tree = int(syscall(SYS_open_tree, op.fd, op.src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
      if (tree < 0) return false;
      bool ok = make_point(op.dst, op.is_file) &&
                syscall(SYS_move_mount, tree, "", AT_FDCWD, op.dst, MOVE_MOUNT_F_EMPTY_PATH) == 0;
      int err = errno;
      close(tree);
      errno = err;
      return ok;
    }
    case MountOp::Tmpfs:
      if (!make_point(op.dst, false)) return false;
      return mount("tmpfs", op.dst, "tmpfs", MS_NOSUID | MS_NODEV | (op.rdonly ? MS_RDONLY : 0), op.data) == 0;
    case MountOp::Symlink:
      // Most links land where nothing is yet: try first, make the parents only when they are missing.
      if (symlink(op.src, op.dst) == 0) return true;
      if (errno == ENOENT && make_parents(op.dst)) return symlink(op.src, op.dst) == 0;
      if (errno != EEXIST) return false;
      unlink(op.dst);
      return symlink(op.src, op.dst) == 0;
    case MountOp::WriteFile: {
      if (!make_point(op.dst, true)) return false;
      int fd = open(op.dst, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) return false;
      write_all(fd, op.data, strlen(op.data));
      fchmod(fd, 0644);
      close(fd);
      return true;
    }
    // A path we may not even reach (EACCES: a 0700 directory of another uid on the way) is out of
    // the command's reach too: it has our uid and no capability.
    case MountOp::HideDir:
      return mount("tmpfs", op.dst, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=1,mode=000") == 0 ||
             errno == EACCES;
    case MountOp::HideFile:
      if (mount("/.hidden", op.dst, nullptr, MS_BIND, nullptr) != 0) return errno == EACCES;
      return set_attr(op.dst, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, false) == 0;
    case MountOp::ReadOnly:
      if (mount(op.dst, op.dst, nullptr, MS_BIND | MS_REC, nullptr) != 0) return false;
      return set_attr(op.dst, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true) == 0;
    case MountOp::Proc:
      if (!make_point(op.dst, false)) return false;
      return mount("proc", op.dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0;
    case MountOp::Sysctl: {
      int fd = open(op.dst, O_WRONLY | O_CLOEXEC);
      if (fd < 0) return errno == ENOENT;  // a kernel without this knob
      bool ok = write(fd, op.data, strlen(op.data)) == ssize_t(strlen(op.data));
      close(fd);
      return ok;
    }
    case MountOp::Devpts:
      if (!make_point(op.dst, false)) return false;
      return mount("devpts", op.dst, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620") == 0;
  }
  return false;
}

void drop_privileges(bool bounding_dropped) {
  // Root inside gains no capabilities at execve, and none can be raised again.
  prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
                               SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int cap = 0; cap < 64 && !bounding_dropped; ++cap)
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno == EINVAL) break;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  syscall(SYS_capset, &hdr, data);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

// pid 2: the command.
[[noreturn]] void command_main(const SpawnPlan& plan, int exec_err_w) {
  // The command joins the run's cgroups, not pid 1: pid 1 shares the server's memory (CLONE_VM), and
  // a memory cgroup's OOM killer that chose it would kill every process sharing that memory, the
  // server included. The command gets memory of its own at execve; its whole tree inherits the groups.
  if (plan.cgroup.fds[0] >= 0 || plan.cgroup.fds[1] >= 0)
    if (int err = cgroup_join(plan.cgroup); err != 0) fail(plan, kStepCgroup, err);
  setsid();
  dup2(plan.in_r, 0);
  dup2(plan.out_w, 1);
  dup2(plan.err_w, 2);
  for (const auto& l : plan.limits) setrlimit(__rlimit_resource(l.resource), &l.value);
  // Dispositions set to ignore and the blocked mask survive execve: the server's must not.
  if (!plan.spare_prepared)
    for (int sig = 1; sig < 65; ++sig) signal(sig, SIG_DFL);
  uint64_t none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof none);
  drop_privileges(plan.spare_prepared);
  if (plan.landlock_fd >= 0) {
    if (!plan.landlock_complete)
      if (int err = add_inside_paths(plan.landlock_fd, plan.landlock_read, plan.landlock_write); err != 0)
        fail(plan, kStepLandlock, err);
    if (int err = landlock_restrict(plan.landlock_fd); err != 0) fail(plan, kStepLandlock, err);
  }
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);  // the error pipe closes at execve
  if (plan.seccomp)
    if (int err = install_seccomp(*plan.seccomp); err != 0) fail(plan, kStepSeccomp, err);
  int err = ENOENT;
  for (const char* path : plan.exec_paths) {
    execve(path, plan.argv.data(), plan.envp.data());
    // Like execvp: a candidate that is missing or not ours to run lets the next one try.
    if (errno != ENOENT && errno != ENOTDIR && errno != EACCES) {
      err = errno;
      break;
    }
    if (errno == EACCES) err = EACCES;
  }
  write_all(exec_err_w, &err, sizeof err);
  _exit(127);
}

struct CommandArgs {
  const SpawnPlan* plan;
  int exec_err_w;
  int relay_fd;
};

int command_entry(void* arg) {
  auto* a = static_cast<CommandArgs*>(arg);
  if (a->relay_fd >= 0) close(a->relay_fd);
  command_main(*a->plan, a->exec_err_w);
}

}  // namespace

int add_inside_paths(int ruleset_fd, uint64_t read, uint64_t write) {
  // The root lists (`ls /`); its files stay unreadable unless a rule below grants them.
  if (int fd = open("/", O_PATH | O_CLOEXEC); fd >= 0) {
    int err = landlock_add_path(ruleset_fd, fd, read & (1ULL << 3) /* READ_DIR */);
    close(fd);
    if (err != 0) return err;
  }
  for (const auto& in : kInsidePaths) {
    int fd = open(in.path, O_PATH | O_CLOEXEC);
    if (fd < 0) continue;
    int err = landlock_add_path(ruleset_fd, fd, in.writable ? write : read);
    close(fd);
    if (err != 0) return err;
  }
  return 0;
}

// mkdir -p of path's parents, and of path itself (a directory, or an empty file when is_file).
// The point itself is tried first: its parents exist for most mounts.
bool make_point(const char* path, bool is_file) {
  auto make = [&] {
    if (!is_file) return mkdir(path, 0755) == 0 || errno == EEXIST;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (fd < 0) return errno == EEXIST || errno == EISDIR;
    close(fd);
    return true;
  };
  if (make()) return true;
  return errno == ENOENT && make_parents(path) && make();
}

// Close every descriptor but the sorted `keep` (the parent's other threads may have opened any).
void close_all_but(const std::vector<int>& keep) {
  unsigned from = 0;
  for (int fd : keep) {
    if (unsigned(fd) > from) syscall(SYS_close_range, from, unsigned(fd) - 1, 0);
    from = unsigned(fd) + 1;
  }
  syscall(SYS_close_range, from, ~0U, 0);
}

bool loopback_up() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  ifreq ifr{};
  memcpy(ifr.ifr_name, "lo", 3);
  bool ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  close(s);
  return ok;
}

int child_main(void* arg) {
  const SpawnPlan& plan = *static_cast<const SpawnPlan*>(arg);
  close_all_but(plan.keep_fds);
  // 0, 1 and 2 taken at once, so no descriptor opened below lands there and is lost to dup2 (a
  // zygote has none: warm.cpp takes them first thing).
  if (plan.zygote_exe < 0) {
    dup2(plan.in_r, 0);
    dup2(plan.out_w, 1);
    dup2(plan.err_w, 2);
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  char go = 0;
  ssize_t r;
  do r = read(plan.sync_r, &go, 1);
  while (r < 0 && errno == EINTR);
  if (r != 1) _exit(125);  // the parent gave up (or died) before the maps were written
  close(plan.sync_r);

  if (plan.namespaces) {
    // Raw calls: glibc's set*id wrappers signal every thread of the parent (setxid), threads
    // this copy does not have, and wait for them forever.
    if (syscall(SYS_setresgid, 0, 0, 0) != 0) fail(plan, kStepIds, errno);
    if (plan.clear_groups && syscall(SYS_setgroups, 0, nullptr) != 0) fail(plan, kStepIds, errno);
    if (syscall(SYS_setresuid, 0, 0, 0) != 0) fail(plan, kStepIds, errno);
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(plan, kStepPrivate, errno);
    // The new root is a small tmpfs at the host's /tmp (hidden behind it only in this namespace).
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, plan.root_opts) != 0) fail(plan, kStepRoot, errno);
    if (chdir("/tmp") != 0 || mkdir("oldroot", 0755) != 0) fail(plan, kStepRoot, errno);
    if (syscall(SYS_pivot_root, ".", "oldroot") != 0 || chdir("/") != 0) fail(plan, kStepPivot, errno);
    {
      int fd = open("/.hidden", O_WRONLY | O_CREAT | O_CLOEXEC, 0);
      if (fd < 0) fail(plan, kStepRoot, errno);
      close(fd);
    }
    for (size_t i = 0; i < plan.ops.size(); ++i)
      if (!run_op(plan.ops[i])) fail(plan, int32_t(i), errno);
    for (const auto& op : plan.ops)
      if (op.fd >= 0) close(op.fd);
    if (umount2("/oldroot", MNT_DETACH) != 0 || rmdir("/oldroot") != 0) fail(plan, kStepOldroot, errno);
    if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
      fail(plan, kStepRemountRoot, errno);
    sethostname(plan.hostname, strlen(plan.hostname));
    if (!plan.lo_up && !loopback_up()) fail(plan, kStepLoopback, errno);
  }
  if (plan.zygote_exe >= 0) {
    // The template's zygote (warm.cpp): what runs share stays read-only (each run mounts its own
    // /tmp, /proc and /dev/pts over these), and the control socket survives the execve.
    for (const char* dir : {"/tmp", "/dev", "/run"})
      if (mount(nullptr, dir, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
        fail(plan, kStepZygote, errno);
    if (chdir("/") != 0 || fcntl(plan.zygote_ctl, F_SETFD, 0) != 0) fail(plan, kStepZygote, errno);
    char* no_env[] = {nullptr};
    syscall(SYS_execveat, plan.zygote_exe, "", plan.zygote_argv.data(), no_env, AT_EMPTY_PATH);
    fail(plan, kStepZygote, errno);
  }
  _exit(start_and_reap(plan));
}

int start_and_reap(const SpawnPlan& plan) {
  if (plan.cwd && chdir(plan.cwd) != 0) fail(plan, kStepCwd, errno);

  int relay_fd = -1;
  if (plan.proxy_path) {
    relay_fd = relay_listen();
    if (relay_fd < 0) fail(plan, kStepProxy, errno);
  }

  int exec_pipe[2];
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) fail(plan, kStepFork, errno);
  // Like posix_spawn: the command shares our memory until its execve (CLONE_VFORK parks us until
  // then), so nothing of the parent's address space is copied.
  CommandArgs args{&plan, exec_pipe[1], relay_fd};
  long pid = clone(command_entry, plan.command_stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  if (pid < 0) fail(plan, kStepFork, errno);
  close(exec_pipe[1]);
  close(0);
  close(1);
  close(2);
  close(plan.in_r);
  close(plan.out_w);
  close(plan.err_w);
  ChildReport report;
  int exec_err = 0;
  if (read(exec_pipe[0], &exec_err, sizeof exec_err) == sizeof exec_err) {
    report.kind = ChildReport::ExecFailed;
    report.err = exec_err;
  }
  close(exec_pipe[0]);
  if (relay_fd >= 0 && report.kind == ChildReport::None) {
    report.kind = ChildReport::Finished;
    report.status = relay_serve(relay_fd, plan.proxy_path, pid_t(pid));
  }
  // The reaper: orphans of the tree are reparented here; the run ends with the command.
  while (report.kind == ChildReport::None) {
    int status = 0;
    pid_t w = wait4(-1, &status, __WALL, nullptr);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) break;
    if (w == pid) {
      if (report.kind == ChildReport::None) {
        report.kind = ChildReport::Finished;
        report.status = status;
      }
      break;
    }
  }
  if (plan.reap_all) {
    kill(-1, SIGKILL);  // from a pid namespace's init: every other process of the namespace
    while (wait4(-1, nullptr, __WALL, nullptr) > 0 || errno == EINTR) {
    }
  }
  if (report.kind == ChildReport::Finished) {
    rusage ru{};
    getrusage(RUSAGE_CHILDREN, &ru);
    report.cpu_us = int64_t(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  }
  write_all(plan.status_w, &report, sizeof report);
  return 0;  // the caller exits: pid 1 gone, the kernel kills what is left of the tree
}

}  // namespace sandbox::detail
