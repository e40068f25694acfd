// The zygote of a warm template (sandbox.h: Template), and the request a warm run sends it.
//
// A template's pid 1 is built like a cold run's (child.cpp: namespaces, root filesystem), then
// execs this program again with argv[0] = kZygoteArgv0: a small, single-threaded process of its own
// (not a copy of the server's address space), already inside the template's user, mount, pid, net,
// ipc and uts namespaces, whose fork costs what a small process's fork costs. It never runs a
// command itself. For each run it receives a stream socket on its control socket, forks a run child
// into a new pid, mount and ipc namespace (and network, with the proxy relay), and answers with the
// run child's pidfd. The run child reads its plan from the socket, mounts a fresh /tmp, /proc and
// /dev/pts, and is pid 1 of the run as a cold run's child is (start_and_reap).
//
// Invariant: the zygote holds no descriptor a run could use (the run child closes all but its
// plan's), shares nothing writable with runs but the workspace and writable_paths, and exits when
// its control socket closes (the Template or the server is gone) or after its idle timeout with no
// run in flight; its runs die with it (PR_SET_PDEATHSIG).
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "sandbox/spawn_plan.h"

namespace sandbox::detail {
namespace {

constexpr uint32_t kMagic = 0x5a79676f;  // "Zygo"
constexpr int kMaxFds = 8;               // in, out, err, status, landlock, two cgroups, the run's workspace

struct Header {
  uint32_t magic = kMagic;
  uint32_t fd_mask = 0;  // which of the kMaxFds descriptors follow, in order
  uint64_t size = 0;     // the encoded plan that follows the header
};

// ---- encoding: little-endian host values, strings as a length and bytes ----
struct Writer {
  std::string& out;
  void raw(const void* p, size_t n) { out.append(static_cast<const char*>(p), n); }
  template <class T>
  void num(T v) { raw(&v, sizeof v); }
  void str(const char* s) {
    uint32_t n = s ? uint32_t(strlen(s)) : 0;
    num(n);
    raw(s, n);
  }
  void strs(const std::vector<char*>& v) {  // null-terminated lists: the terminator is not sent
    num(uint32_t(v.empty() ? 0 : v.size() - 1));
    for (size_t i = 0; i + 1 < v.size(); ++i) str(v[i]);
  }
};

struct Reader {
  const char* p;
  const char* end;
  bool ok = true;
  bool take(void* dst, size_t n) {
    if (!ok || size_t(end - p) < n) return ok = false;
    memcpy(dst, p, n);
    p += n;
    return true;
  }
  template <class T>
  T num() {
    T v{};
    take(&v, sizeof v);
    return v;
  }
  const char* str(SpawnPlan& plan) {
    uint32_t n = num<uint32_t>();
    if (!ok || size_t(end - p) < n) return ok = false, nullptr;
    const char* s = plan.keep(std::string(p, n));
    p += n;
    return s;
  }
  void strs(SpawnPlan& plan, std::vector<char*>& v) {
    uint32_t n = num<uint32_t>();
    if (n > 1u << 20) ok = false;
    for (uint32_t i = 0; ok && i < n; ++i) v.push_back(const_cast<char*>(str(plan)));
    v.push_back(nullptr);
  }
};

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

bool read_all(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= size_t(r);
  }
  return true;
}

[[noreturn]] void run_fail(int status_w, int32_t step, int err) {
  ChildReport r;
  r.kind = ChildReport::SetupFailed;
  r.step = step;
  r.err = err;
  if (status_w >= 0) (void)!::write(status_w, &r, sizeof r);
  _exit(126);
}

// What every run of the template gets of its own, from the zygote's arguments.
struct RunSetup {
  const char* tmp_opts = "size=1m";
  bool new_net = false;
  long idle_ms = 60000;
  std::vector<std::pair<const char*, bool>> under_tmp;  // path, is a file
  const char* workspaces = nullptr;  // Template::Options::workspaces: a tmpfs of the run's own there
  bool landlock = false;  // build each run's Landlock ruleset ahead, from `rules` (path, writable)
  std::vector<std::pair<const char*, bool>> rules;
};

// Mounts what each run has of its own: /tmp, /proc (its pid namespace), the pty instance. What the
// template mounted under /tmp (a workspace there) is carried onto the fresh /tmp, with its
// submounts. 0, or the step and errno (reported once the run's status pipe has arrived).
int own_mounts(const RunSetup& setup, int32_t& step) {
  step = kStepRunMounts;
  std::vector<int> carried;
  for (const auto& [path, is_file] : setup.under_tmp) {
    int fd = int(::syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    if (fd < 0) return errno;
    carried.push_back(fd);
  }
  if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, setup.tmp_opts) != 0) return errno;
  for (size_t i = 0; i < carried.size(); ++i) {
    if (!make_point(setup.under_tmp[i].first, setup.under_tmp[i].second) ||
        ::syscall(SYS_move_mount, carried[i], "", AT_FDCWD, setup.under_tmp[i].first, MOVE_MOUNT_F_EMPTY_PATH) != 0)
      return errno;
    ::close(carried[i]);
  }
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0 ||
      ::mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620") != 0)
    return errno;
  // Per-run workspaces: an empty tmpfs of this run's own over the directory holding them, where the
  // run's workspace alone gets a mount point (under /tmp the point is made in the fresh /tmp).
  if (setup.workspaces && (!make_point(setup.workspaces, false) ||
                           ::mount("tmpfs", setup.workspaces, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                   "size=16k,nr_inodes=64,mode=0755") != 0))
    return errno;
  step = kStepLoopback;
  if (setup.new_net && !loopback_up()) return errno;
  return 0;
}

// Mounts the run's own workspace (spawn_plan.h: RunWorkspace) at `at`, which must lie beneath the
// template's workspaces directory; 0 or an errno.
int mount_workspace(const RunSetup& setup, int tree, const char* at, bool ro_hooks, bool ro_config) {
  const size_t n = setup.workspaces ? strlen(setup.workspaces) : 0;
  if (n == 0 || strncmp(at, setup.workspaces, n) != 0 || at[n] != '/' || strstr(at, "/..") || strstr(at, "/./"))
    return EINVAL;
  if (!make_point(at, false) || ::syscall(SYS_move_mount, tree, "", AT_FDCWD, at, MOVE_MOUNT_F_EMPTY_PATH) != 0) return errno;
  char path[4096];
  for (auto [wanted, name] : {std::pair{ro_hooks, "/.git/hooks"}, {ro_config, "/.git/config"}}) {
    if (!wanted) continue;
    if (size_t(snprintf(path, sizeof path, "%s%s", at, name)) >= sizeof path) return ENAMETOOLONG;
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if (::mount(path, path, nullptr, MS_BIND | MS_REC, nullptr) != 0 ||
        ::syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr) != 0)
      return errno;
  }
  return 0;
}

// A spare: pid 1 of a new pid namespace, in a copy of the template's mounts, set up before any run
// asks for it (so that a run pays neither the fork nor the mounts), then waiting for its plan. It
// is a fork of the single-threaded zygote, so it may allocate while it reads the plan. Unclaimed
// for the idle timeout, it exits.
[[noreturn]] void run_child(int sock, const RunSetup& setup) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  int32_t failed_step = 0;
  const int failed = own_mounts(setup, failed_step);
  // What the command would do first thing (child.cpp: command_main), done ahead: the dispositions
  // the server had (an ignored SIGPIPE survives execve) and the bounding set (effective capabilities,
  // which the mounts below need, are not touched by it).
  for (int sig = 1; sig < 65; ++sig) ::signal(sig, SIG_DFL);
  for (int cap = 0; cap < 64; ++cap)
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno == EINVAL) break;
  // The run's Landlock ruleset, ahead too: the template's host paths as this spare sees them (its
  // mounts of them: the same inodes), and its own /tmp, /proc and /dev; the run adds its workspace.
  std::optional<LandlockRuleset> ruleset;
  int landlock_err = 0;
  if (setup.landlock && failed == 0) {
    std::vector<PathRule> rules;
    for (const auto& [path, writable] : setup.rules) rules.push_back({path, writable, -1});
    TcpRules tcp;
    tcp.restricted = false;  // as the server's (run.cpp, landlock_tcp): the network namespace is the network layer
    errno = 0;
    auto rs = landlock_ruleset(Policy{}, rules, tcp);
    if (!rs) landlock_err = errno ? errno : EINVAL;
    else landlock_err = add_inside_paths(rs->fd(), rs->read_access(), rs->write_access());
    if (rs) ruleset.emplace(std::move(*rs));
  }

  pollfd p{sock, POLLIN, 0};
  int ready;
  do ready = ::poll(&p, 1, int(setup.idle_ms));
  while (ready < 0 && errno == EINTR);
  if (ready != 1) _exit(0);
  Header h;
  int fds[kMaxFds];
  for (int& f : fds) f = -1;
  {
    int got_fds[kMaxFds];
    int got = 0;
    ssize_t n = recv_with_fds(sock, &h, sizeof h, got_fds, kMaxFds, &got);
    if (n != ssize_t(sizeof h) || h.magic != kMagic || h.size > (64u << 20)) _exit(125);
    for (int i = 0, k = 0; i < kMaxFds && k < got; ++i)
      if (h.fd_mask & (1u << i)) fds[i] = got_fds[k++];
  }
  const int status_w = fds[3];
  if (failed != 0) run_fail(status_w, failed_step, failed);
  std::string blob(h.size, '\0');
  if (!read_all(sock, blob.data(), blob.size())) run_fail(status_w, kStepRunRequest, EPROTO);

  SpawnPlan plan;
  plan.in_r = fds[0];
  plan.out_w = fds[1];
  plan.err_w = fds[2];
  plan.status_w = status_w;
  plan.reap_all = true;
  plan.spare_prepared = true;
  plan.landlock_fd = fds[4];
  plan.cgroup.fds[0] = fds[5];
  plan.cgroup.fds[1] = fds[6];
  Reader r{blob.data(), blob.data() + blob.size()};
  plan.landlock_read = r.num<uint64_t>();
  plan.landlock_write = r.num<uint64_t>();
  plan.cwd = r.str(plan);
  const char* proxy = r.str(plan);
  plan.proxy_path = proxy && *proxy ? proxy : nullptr;
  r.strs(plan, plan.argv);
  r.strs(plan, plan.envp);
  std::vector<char*> paths;
  r.strs(plan, paths);
  for (char* p : paths)
    if (p) plan.exec_paths.push_back(p);
  uint32_t nl = r.num<uint32_t>();
  for (uint32_t i = 0; r.ok && i < nl && i < 64; ++i) {
    SpawnPlan::Limit l;
    l.resource = r.num<int32_t>();
    l.value.rlim_cur = r.num<uint64_t>();
    l.value.rlim_max = r.num<uint64_t>();
    plan.limits.push_back(l);
  }
  SeccompProgram seccomp;
  uint32_t nf = r.num<uint32_t>();
  if (nf > 4096) r.ok = false;
  seccomp.filter.resize(r.ok ? nf : 0);
  r.take(seccomp.filter.data(), seccomp.filter.size() * sizeof(sock_filter));
  if (nf > 0) plan.seccomp = &seccomp;
  const char* ws_at = r.str(plan);
  const uint8_t flags = r.num<uint8_t>();  // send_warm_request: the workspace's, and Landlock's
  if (!r.ok || plan.argv.size() < 2 || (fds[7] >= 0) != (ws_at && *ws_at)) run_fail(status_w, kStepRunRequest, EPROTO);
  if (flags & 8) {
    if (!ruleset || landlock_err != 0) run_fail(status_w, kStepLandlock, landlock_err ? landlock_err : ENOSYS);
    plan.landlock_fd = ruleset->fd();
    plan.landlock_read = ruleset->read_access();
    plan.landlock_write = ruleset->write_access();
    plan.landlock_complete = true;
  }
  if (fds[7] >= 0) {
    if (int err = mount_workspace(setup, fds[7], ws_at, flags & 1, flags & 2); err != 0)
      run_fail(status_w, kStepRunWorkspace, err);
    ::close(fds[7]);
    fds[7] = -1;
    if (plan.landlock_complete) {
      int ws = ::open(ws_at, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int err = ws < 0 ? errno : landlock_add_path(plan.landlock_fd, ws, (flags & 4) ? plan.landlock_write : plan.landlock_read);
      if (ws >= 0) ::close(ws);
      if (err != 0) run_fail(status_w, kStepLandlock, err);
    }
  }

  for (int f : fds)
    if (f >= 0) plan.keep_fds.push_back(f);
  if (plan.landlock_complete) plan.keep_fds.push_back(plan.landlock_fd);
  std::sort(plan.keep_fds.begin(), plan.keep_fds.end());
  close_all_but(plan.keep_fds);  // the request socket, and whatever the zygote had
  // 0, 1 and 2 taken again (as a cold run's child does), so that no descriptor start_and_reap opens
  // lands there and is lost to the command's dup2.
  ::dup2(plan.in_r, 0);
  ::dup2(plan.out_w, 1);
  ::dup2(plan.err_w, 2);

  constexpr size_t kStack = 1 << 20;
  void* stack = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) run_fail(status_w, kStepFork, errno);
  plan.command_stack_top = static_cast<char*>(stack) + kStack;
  _exit(start_and_reap(plan));
}

// The zygote's loop: one request a message on the control socket (SOCK_SEQPACKET), carrying the
// stream socket a spare is to read its plan from; the answer, on that socket, is the spare's pidfd.
int zygote_main(int ctl, const RunSetup& setup) {
  const long idle_ms = setup.idle_ms;
  // Runs must find 0, 1 and 2 taken: a descriptor they receive must not land there.
  while (true) {
    int fd = ::open("/dev/null", O_RDWR);
    if (fd < 0) return 1;
    if (fd > 2) {
      ::close(fd);
      break;
    }
  }
  ::prctl(PR_SET_PDEATHSIG, 0);  // the thread that built us may end; the control socket tells when we are not wanted
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  int sfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return 1;
  if (::send(ctl, "R", 1, MSG_NOSIGNAL) != 1) return 1;

  int active = 0;
  while (true) {
    pollfd p[2] = {{ctl, POLLIN, 0}, {sfd, POLLIN, 0}};
    int r = ::poll(p, 2, active == 0 ? int(idle_ms) : -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return 1;
    if (r == 0) return 0;  // idle: the template's next run starts another zygote
    if (p[1].revents) {
      signalfd_siginfo si;
      while (::read(sfd, &si, sizeof si) > 0) {
      }
      while (::waitpid(-1, nullptr, WNOHANG) > 0) --active;
    }
    if (!p[0].revents) continue;
    char flag = 0;
    int sock = -1, got = 0;
    ssize_t n = recv_with_fds(ctl, &flag, 1, &sock, 1, &got);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return 0;  // the template is gone
    if (sock < 0) continue;
    clone_args args{};
    int pidfd = -1;
    args.flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | (setup.new_net ? CLONE_NEWNET : 0) | CLONE_PIDFD;
    args.pidfd = uint64_t(uintptr_t(&pidfd));
    args.exit_signal = SIGCHLD;
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) {
      ::close(ctl);
      ::close(sfd);
      run_child(sock, setup);
    }
    if (pid > 0) {
      ++active;
      // The answer: the run's pid 1 as a pidfd (the server signals and polls it; we reap it).
      char ok = 1;
      (void)send_with_fds(sock, &ok, 1, &pidfd, 1);
      ::close(pidfd);
    }
    ::close(sock);  // a failed fork: the server reads end of file, and runs cold
  }
}

// Before main, in the re-executed program: a zygote never reaches main (the server's statics,
// threads and arguments are not for it). glibc passes argc, argv and envp to these functions.
// argv: kZygoteArgv0, the control socket, the idle timeout (ms), /tmp's mount options, "net" or
// "-" (a network namespace per run), then the mounts under /tmp to carry, each "d:PATH" or "f:PATH",
// "w:PATH" for per-run workspaces (RunSetup::workspaces), "a:1" to build Landlock rulesets ahead from
// the rules "l:PATH" (read) and "L:PATH" (writable).
__attribute__((constructor)) void zygote_entry(int argc, char** argv, char**) {
  if (argc >= 5 && argv && argv[0] && strcmp(argv[0], kZygoteArgv0) == 0) {
    int ctl = atoi(argv[1]);
    RunSetup setup;
    setup.idle_ms = atol(argv[2]);
    setup.tmp_opts = argv[3];
    setup.new_net = strcmp(argv[4], "net") == 0;
    for (int i = 5; i < argc; ++i) {
      if (strlen(argv[i]) <= 2) continue;
      if (argv[i][0] == 'w') setup.workspaces = argv[i] + 2;
      else if (argv[i][0] == 'a') setup.landlock = true;
      else if (argv[i][0] == 'l' || argv[i][0] == 'L') setup.rules.emplace_back(argv[i] + 2, argv[i][0] == 'L');
      else setup.under_tmp.emplace_back(argv[i] + 2, argv[i][0] == 'f');
    }
    int type = 0;
    socklen_t len = sizeof type;
    if (ctl < 3 || ::getsockopt(ctl, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET) _exit(2);
    _exit(zygote_main(ctl, setup));
  }
}

}  // namespace

Status send_warm_request(int sock, const SpawnPlan& plan, const RunWorkspace& workspace) {
  std::string blob;
  Writer w{blob};
  w.num(plan.landlock_read);
  w.num(plan.landlock_write);
  w.str(plan.cwd);
  w.str(plan.proxy_path);
  w.strs(plan.argv);
  w.strs(plan.envp);
  std::vector<char*> paths(plan.exec_paths.size() + 1, nullptr);
  for (size_t i = 0; i < plan.exec_paths.size(); ++i) paths[i] = const_cast<char*>(plan.exec_paths[i]);
  w.strs(paths);
  w.num(uint32_t(plan.limits.size()));
  for (const auto& l : plan.limits) {
    w.num(int32_t(l.resource));
    w.num(uint64_t(l.value.rlim_cur));
    w.num(uint64_t(l.value.rlim_max));
  }
  w.num(uint32_t(plan.seccomp ? plan.seccomp->filter.size() : 0));
  if (plan.seccomp) w.raw(plan.seccomp->filter.data(), plan.seccomp->filter.size() * sizeof(sock_filter));
  w.str(workspace.at);
  w.num(uint8_t((workspace.ro_hooks ? 1 : 0) | (workspace.ro_config ? 2 : 0) | (workspace.writable ? 4 : 0) |
                (plan.landlock_ahead ? 8 : 0)));

  const int all[kMaxFds] = {plan.in_r, plan.out_w, plan.err_w, plan.status_w, plan.landlock_fd, plan.cgroup.fds[0],
                            plan.cgroup.fds[1], workspace.tree};
  Header h;
  h.size = blob.size();
  int fds[kMaxFds];
  int nfds = 0;
  for (int i = 0; i < kMaxFds; ++i)
    if (all[i] >= 0) h.fd_mask |= 1u << i, fds[nfds++] = all[i];
  if (!send_with_fds(sock, &h, sizeof h, fds, nfds))
    return Error{std::string("send the run to the zygote: ") + std::strerror(errno)};
  if (!write_all(sock, blob.data(), blob.size()))
    return Error{std::string("send the run to the zygote: ") + std::strerror(errno)};
  return {};
}

bool send_with_fds(int sock, const void* data, size_t size, const int* fds, int nfds) noexcept {
  char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  if (nfds < 0 || nfds > kMaxFds) return errno = EINVAL, false;
  iovec iov{const_cast<void*>(data), size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * size_t(nfds));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * size_t(nfds));
    memcpy(CMSG_DATA(c), fds, sizeof(int) * size_t(nfds));
  }
  ssize_t n;
  do n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == ssize_t(size);
}

ssize_t recv_with_fds(int sock, void* data, size_t size, int* fds, int max_fds, int* nfds) noexcept {
  char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  *nfds = 0;
  iovec iov{data, size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  while (n < 0 && errno == EINTR);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int count = int((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    const int* in = reinterpret_cast<const int*>(CMSG_DATA(c));
    for (int i = 0; i < count; ++i) {
      if (*nfds < max_fds) fds[(*nfds)++] = in[i];
      else ::close(in[i]);  // more than asked for: not ours to keep
    }
  }
  return n;
}

}  // namespace sandbox::detail
