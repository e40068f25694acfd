// The sandbox's guards (sandbox/guards.h) through real processes: a forked child installs a guard
// and tries what it must refuse and what it must still allow; the kernel answers.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "helpers.h"
#include "sandbox/guards.h"

extern char** environ;

namespace {

using namespace sandbox::detail;
namespace fs = std::filesystem;

// What a child found wrong, one line each, written to a pipe the parent reads.
struct Report {
  int fd;
  void fail(const std::string& line) const {
    std::string l = line + "\n";
    (void)!::write(fd, l.data(), l.size());
  }
  // `rc` is a system call's result: expect -1 with `want`.
  void refused(const char* what, long rc, int want) const {
    int got = errno;
    if (rc != -1 || got != want)
      fail(std::string(what) + ": rc " + std::to_string(rc) + ", errno " + std::strerror(got) + ", want " +
           std::strerror(want));
  }
  void allowed(const char* what, long rc) const {
    if (rc < 0) fail(std::string(what) + ": " + std::strerror(errno));
  }
};

struct ChildOutcome {
  int status = 0;
  std::string failures;
};

// Forks; the child runs `body` and exits 0 (a hang is cut by alarm). The test process is single-
// threaded here, so the child may allocate.
ChildOutcome run_child(const std::function<void(const Report&)>& body) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    ::alarm(30);
    body(Report{p[1]});
    ::_exit(0);
  }
  ::close(p[1]);
  ChildOutcome out;
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) out.failures.append(buf, size_t(n));
  ::close(p[0]);
  REQUIRE(::waitpid(pid, &out.status, 0) == pid);
  return out;
}

void require_clean_exit(const ChildOutcome& out) {
  INFO(out.failures);
  CHECK(out.failures.empty());
  REQUIRE(WIFEXITED(out.status));
  CHECK(WEXITSTATUS(out.status) == 0);
}

// Runs argv (no shell), stdout and stderr together; returns the wait status.
int run_program(const std::vector<std::string>& argv, std::string* output) {
  int p[2];
  if (::pipe(p) != 0) return -1;
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_adddup2(&fa, p[1], 2);
  posix_spawn_file_actions_addclose(&fa, p[0]);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(p[1]);
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) output->append(buf, size_t(n));
  ::close(p[0]);
  if (rc != 0) return -1;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

// As the engine's child: a new user namespace (root mapped to our root, so files can be made in a
// tmpfs it mounts) and a private mount namespace. False with a failure reported.
bool enter_user_and_mount_ns(const Report& r) {
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return r.fail(std::string("unshare: ") + std::strerror(errno)), false;
  auto write_file = [](const char* path, const char* text) {
    int fd = ::open(path, O_WRONLY);
    bool ok = fd >= 0 && ::write(fd, text, std::strlen(text)) == ssize_t(std::strlen(text));
    if (fd >= 0) ::close(fd);
    return ok;
  };
  if (!write_file("/proc/self/setgroups", "deny") || !write_file("/proc/self/uid_map", "0 0 1") ||
      !write_file("/proc/self/gid_map", "0 0 1"))
    return r.fail(std::string("id maps: ") + std::strerror(errno)), false;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return r.fail("make / private"), false;
  return true;
}

sandbox::Policy workspace_policy() { return sandbox::preset("workspace").value(); }

}  // namespace

TEST_CASE("seccomp: each refused call gets its documented error, ordinary work still runs", "[sandbox][guards]") {
  auto program = seccomp_program(workspace_policy());
  REQUIRE(program.ok());
  REQUIRE(program->filter.size() > 10);
  auto out = run_child([&](const Report& r) {
    if (int err = install_seccomp(*program); err != 0) return r.fail(std::string("install: ") + std::strerror(err));
    if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) r.fail("no_new_privs not set");
    // Arguments are chosen so that, were the filter missing, the call would fail differently (or
    // do nothing outside this child): the errno tells the filter's answer from the kernel's.
    r.refused("ptrace", ::ptrace(PTRACE_PEEKDATA, ::getppid(), nullptr, nullptr), EPERM);
    char byte = 0;
    iovec local{&byte, 1}, remote{&byte, 1};
    r.refused("process_vm_readv", ::process_vm_readv(::getppid(), &local, 1, &remote, 1, 0), EPERM);
    r.refused("process_vm_writev", ::process_vm_writev(::getppid(), &local, 1, &remote, 1, 0), EPERM);
    r.refused("pidfd_getfd", ::syscall(SYS_pidfd_getfd, -1, 0, 0), EPERM);
    r.refused("process_madvise", ::syscall(SYS_process_madvise, -1, nullptr, 0, 0, 0), EPERM);
    r.refused("mount", ::mount("none", "/nonexistent-guards", "tmpfs", 0, nullptr), EPERM);
    r.refused("umount2", ::umount2("/nonexistent-guards", 0), EPERM);
    r.refused("pivot_root", ::syscall(SYS_pivot_root, "/nonexistent-guards", "/nonexistent-guards"), EPERM);
    r.refused("move_mount", ::syscall(SYS_move_mount, -1, "", -1, "", 0), EPERM);
    r.refused("open_tree", ::syscall(SYS_open_tree, -1, "/nonexistent-guards", 0), EPERM);
    r.refused("fsopen", ::syscall(SYS_fsopen, "nonexistent-guards-fs", 0), EPERM);
    r.refused("fsmount", ::syscall(SYS_fsmount, -1, 0, 0), EPERM);
    r.refused("fsconfig", ::syscall(SYS_fsconfig, -1, 0, nullptr, nullptr, 0), EPERM);
    r.refused("fspick", ::syscall(SYS_fspick, -1, "/nonexistent-guards", 0), EPERM);
    r.refused("mount_setattr", ::syscall(SYS_mount_setattr, -1, "/nonexistent-guards", 0, nullptr, 0), EPERM);
    r.refused("chroot", ::chroot("/nonexistent-guards"), EPERM);
    r.refused("setns", ::setns(-1, 0), EPERM);
    r.refused("unshare(CLONE_NEWUSER)", ::unshare(CLONE_NEWUSER), EPERM);
    r.refused("unshare(CLONE_NEWNS)", ::unshare(CLONE_NEWNS), EPERM);
    r.refused("unshare(CLONE_NEWNET|CLONE_FILES)", ::unshare(CLONE_NEWNET | CLONE_FILES), EPERM);
    r.allowed("unshare(CLONE_FILES)", ::unshare(CLONE_FILES));
    for (int flag : {CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWCGROUP}) {
      long rc = ::syscall(SYS_clone, long(flag | SIGCHLD), 0L, 0L, 0L, 0L);
      if (rc == 0) ::_exit(0);  // the filter failed: leave the stray child quietly
      r.refused("clone with a namespace flag", rc, EPERM);
    }
    r.refused("clone3", ::syscall(SYS_clone3, nullptr, 0), ENOSYS);
    r.refused("keyctl", ::syscall(SYS_keyctl, 0 /*KEYCTL_GET_KEYRING_ID*/, -3, 0), EPERM);
    r.refused("add_key", ::syscall(SYS_add_key, "user", "guards", "x", 1, 0), EPERM);
    r.refused("request_key", ::syscall(SYS_request_key, "user", "guards", nullptr, 0), EPERM);
    r.refused("bpf", ::syscall(SYS_bpf, -1, nullptr, 0), EPERM);
    r.refused("perf_event_open", ::syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0), EPERM);
    r.refused("io_uring_setup", ::syscall(SYS_io_uring_setup, 1, nullptr), EPERM);
    r.refused("io_uring_enter", ::syscall(SYS_io_uring_enter, -1, 0, 0, 0, nullptr, 0), EPERM);
    r.refused("io_uring_register", ::syscall(SYS_io_uring_register, -1, 0, nullptr, 0), EPERM);
    r.refused("userfaultfd", ::syscall(SYS_userfaultfd, O_CLOEXEC), EPERM);
    r.refused("kexec_load", ::syscall(SYS_kexec_load, 0, 0, nullptr, 0xdead0000UL), EPERM);
    r.refused("kexec_file_load", ::syscall(SYS_kexec_file_load, -1, -1, 0, nullptr, 0xdead0000UL), EPERM);
    r.refused("init_module", ::syscall(SYS_init_module, nullptr, 0, ""), EPERM);
    r.refused("finit_module", ::syscall(SYS_finit_module, -1, "", 0), EPERM);
    r.refused("delete_module", ::syscall(SYS_delete_module, "nonexistent_guards", O_NONBLOCK), EPERM);
    r.refused("acct", ::acct("/nonexistent-guards/acct"), EPERM);
    r.refused("swapon", ::syscall(SYS_swapon, "/nonexistent-guards", 0), EPERM);
    r.refused("swapoff", ::syscall(SYS_swapoff, "/nonexistent-guards"), EPERM);
    r.refused("reboot", ::syscall(SYS_reboot, 0, 0, 0, nullptr), EPERM);
    r.refused("settimeofday", ::syscall(SYS_settimeofday, nullptr, nullptr), EPERM);
    timespec ts{};
    r.refused("clock_settime", ::syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts), EPERM);
    r.refused("adjtimex", ::syscall(SYS_adjtimex, nullptr), EPERM);
    r.refused("clock_adjtime", ::syscall(SYS_clock_adjtime, CLOCK_REALTIME, nullptr), EPERM);
    r.refused("name_to_handle_at", ::syscall(SYS_name_to_handle_at, AT_FDCWD, "/", nullptr, nullptr, 0), EPERM);
    r.refused("open_by_handle_at", ::syscall(SYS_open_by_handle_at, -1, nullptr, 0), EPERM);
    r.refused("personality(ADDR_NO_RANDOMIZE)", ::personality(ADDR_NO_RANDOMIZE), EPERM);
    r.refused("personality(READ_IMPLIES_EXEC)", ::personality(READ_IMPLIES_EXEC), EPERM);
    r.allowed("personality query", ::personality(0xffffffff));
    r.allowed("personality(PER_LINUX)", ::personality(PER_LINUX));
    r.refused("socket(AF_PACKET)", ::socket(AF_PACKET, SOCK_RAW, 0), EAFNOSUPPORT);
    r.refused("socket(AF_VSOCK)", ::socket(AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT);
    r.refused("socket(AF_ALG)", ::socket(AF_ALG, SOCK_SEQPACKET, 0), EAFNOSUPPORT);
    r.refused("socket(AF_BLUETOOTH)", ::socket(AF_BLUETOOTH, SOCK_STREAM, 0), EAFNOSUPPORT);
    r.refused("socket(AF_INET with a high bit)", ::syscall(SYS_socket, (1L << 32) | AF_INET, SOCK_STREAM, 0),
              EAFNOSUPPORT);
    r.refused("socket(1000)", ::socket(1000, SOCK_STREAM, 0), EAFNOSUPPORT);
    r.refused("socket(AF_NETLINK, NETLINK_AUDIT)", ::socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT), EPROTONOSUPPORT);
    r.refused("socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT)", ::socket(AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT),
              EPROTONOSUPPORT);
    int fds[2];
    r.allowed("pipe", ::pipe(fds));
    char c = 'x';
    r.refused("ioctl(TIOCSTI)", ::ioctl(fds[0], TIOCSTI, &c), EPERM);
    r.refused("ioctl(TIOCSTI with a high bit)", ::syscall(SYS_ioctl, fds[0], (1UL << 32) | TIOCSTI, &c), EPERM);
    r.refused("ioctl(TIOCLINUX)", ::ioctl(fds[0], TIOCLINUX, &c), EPERM);
    r.refused("ioctl(TIOCSETD)", ::ioctl(fds[0], TIOCSETD, &c), EPERM);
    int avail = 0;
    r.allowed("ioctl(FIONREAD)", ::ioctl(fds[0], FIONREAD, &avail));

    // Ordinary work: sockets, files, threads (glibc tries clone3, falls back to clone), fork, exec.
    for (int family : {AF_UNIX, AF_INET, AF_INET6}) {
      int s = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      r.allowed("socket(AF_UNIX/INET/INET6)", s);
      ::close(s);
    }
    int nl = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    r.allowed("socket(AF_NETLINK, NETLINK_ROUTE)", nl);
    ::close(nl);
    char path[] = "/tmp/indexer-guards-XXXXXX";
    int f = ::mkstemp(path);
    r.allowed("mkstemp", f);
    r.allowed("write", ::write(f, "abc", 3));
    r.allowed("pread", ::pread(f, &c, 1, 0));
    ::close(f);
    ::unlink(path);
    bool ran = false;
    std::thread([&] { ran = true; }).join();
    if (!ran) r.fail("a thread did not run");
    pid_t kid = ::fork();
    if (kid == 0) ::_exit(7);
    int st = 0;
    if (kid < 0 || ::waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st) != 7) r.fail("fork and wait");
    pid_t spawned = -1;
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    if (::posix_spawn(&spawned, "/bin/true", nullptr, nullptr, argv, environ) != 0 ||
        ::waitpid(spawned, &st, 0) != spawned || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
      r.fail("posix_spawn /bin/true");
  });
  require_clean_exit(out);
}

TEST_CASE("seccomp: a system call of a foreign ABI kills the process", "[sandbox][guards]") {
  auto program = seccomp_program(workspace_policy());
  REQUIRE(program.ok());
  // x32: the native entry with bit 30 set (getpid's x32 number).
  auto x32 = run_child([&](const Report& r) {
    if (install_seccomp(*program) != 0) return r.fail("install");
    ::syscall(0x40000000L | 39);
    r.fail("an x32 system call returned");
  });
  INFO(x32.failures);
  REQUIRE(WIFSIGNALED(x32.status));
  CHECK(WTERMSIG(x32.status) == SIGSYS);
#if defined(__x86_64__)
  // i386 via int 0x80 (getpid is 20 there).
  auto i386 = run_child([&](const Report& r) {
    if (install_seccomp(*program) != 0) return r.fail("install");
    long ret = 20;
    asm volatile("int $0x80" : "+a"(ret) : : "memory");
    r.fail("an int 0x80 system call returned " + std::to_string(ret));
  });
  INFO(i386.failures);
  REQUIRE(WIFSIGNALED(i386.status));
  CHECK(WTERMSIG(i386.status) == SIGSYS);
#endif
}

TEST_CASE("seccomp: real programs under the filter", "[sandbox][guards]") {
  auto program = seccomp_program(workspace_policy());
  REQUIRE(program.ok());
  // Each runs in a child that installs the filter, then runs the program and reports its output.
  auto run_filtered = [&](std::vector<std::string> argv) {
    auto out = run_child([&](const Report& r) {
      if (install_seccomp(*program) != 0) return r.fail("install");
      std::string output;
      int st = run_program(argv, &output);
      r.fail("status " + std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)) + ": " + output);
    });
    return out.failures;  // "status N: output"
  };
  SECTION("unshare -U fails") {
    std::string got = run_filtered({"unshare", "-U", "true"});
    CHECK(got.rfind("status 0:", 0) != 0);
    CHECK(got.find("Operation not permitted") != std::string::npos);
  }
  SECTION("perl's ioctl TIOCSTI is refused") {
    std::string got = run_filtered({"perl", "-e", "my $c = 'x'; ioctl(STDIN, 0x5412, $c) or die qq(ioctl: $!\\n); print qq(ok\\n)"});
    INFO(got);
    CHECK(got.find("ioctl: Operation not permitted") != std::string::npos);
  }
  SECTION("python3's io_uring_setup is refused, its threads and subprocesses work") {
    std::string got = run_filtered(
        {"/usr/bin/python3", "-c",
         "import ctypes, threading, subprocess\n"
         "libc = ctypes.CDLL(None, use_errno=True)\n"
         "params = ctypes.create_string_buffer(120)\n"
         "print('io_uring', libc.syscall(425, 4, params), ctypes.get_errno())\n"
         "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
         "print('true', subprocess.run(['/bin/true']).returncode)\n"});
    CHECK(got == "status 0: io_uring -1 1\ntrue 0\n\n");
  }
  SECTION("a shell pipeline runs") {
    std::string got = run_filtered({"/bin/sh", "-c", "echo hello | tr a-z A-Z"});
    CHECK(got == "status 0: HELLO\n\n");
  }
}

TEST_CASE("landlock: a child restricted to a directory reads and writes there only", "[sandbox][guards]") {
  if (landlock_abi() < 1) {
    WARN("Landlock is off on this kernel: not tested");
    return;
  }
  test::TempDir work, outside, readonly;
  work.write("in.txt", "inside");
  outside.write("secret.txt", "secret");
  readonly.write("ro.txt", "read-only");
  fs::create_symlink(outside / "secret.txt", work / "link-out");
  fs::create_directory(work / "sub");
  outside.write("one-file.txt", "a single file may be allowed");
  std::vector<PathRule> rules{{work.path().string(), true}, {readonly.path().string(), false},
                              {(outside / "one-file.txt").string(), false}, {"/nonexistent-guards-path", true}};
  auto rs = landlock_ruleset(workspace_policy(), rules);
  REQUIRE(rs.ok());
  CHECK(rs->abi() >= 1);
  CHECK(rs->missing() == std::vector<std::string>{"/nonexistent-guards-path"});
  auto out = run_child([&](const Report& r) {
    if (int err = landlock_restrict(rs->fd()); err != 0) return r.fail(std::string("restrict: ") + std::strerror(err));
    std::string in = (work / "in.txt").string(), ro = (readonly / "ro.txt").string();
    r.allowed("read inside", ::open(in.c_str(), O_RDONLY));
    r.allowed("write inside", ::open(in.c_str(), O_WRONLY | O_TRUNC));
    r.allowed("create inside", ::open((work / "sub/new.txt").c_str(), O_WRONLY | O_CREAT, 0644));
    r.allowed("rename between directories inside", ::rename((work / "sub/new.txt").c_str(), (work / "moved.txt").c_str()));
    r.allowed("mkdir inside", ::mkdir((work / "made").c_str(), 0755));
    r.allowed("read a read-only path", ::open(ro.c_str(), O_RDONLY));
    r.refused("write a read-only path", ::open(ro.c_str(), O_WRONLY), EACCES);
    r.refused("truncate a read-only file", ::truncate(ro.c_str(), 0), EACCES);
    r.refused("create in a read-only path", ::open((readonly / "new").c_str(), O_WRONLY | O_CREAT, 0644), EACCES);
    r.refused("read outside", ::open((outside / "secret.txt").c_str(), O_RDONLY), EACCES);
    r.allowed("read a file allowed by itself", ::open((outside / "one-file.txt").c_str(), O_RDONLY));
    r.refused("write a file allowed read-only", ::open((outside / "one-file.txt").c_str(), O_WRONLY), EACCES);
    r.refused("read through a symlink out", ::open((work / "link-out").c_str(), O_RDONLY), EACCES);
    r.refused("read /etc/hostname", ::open("/etc/hostname", O_RDONLY), EACCES);
    r.refused("list /", ::open("/", O_RDONLY | O_DIRECTORY), EACCES);
    // A hard link from outside into the workspace needs REFER on the source: EXDEV by the ABI.
    long rc = ::link((outside / "secret.txt").c_str(), (work / "hard").c_str());
    if (rc == 0 || (errno != EXDEV && errno != EACCES)) r.fail("hard link from outside was not refused");
    r.refused("mknod a fifo outside", ::mkfifo((outside / "fifo").c_str(), 0644), EACCES);
  });
  require_clean_exit(out);
  CHECK(test::read_file(work / "moved.txt").empty());
  CHECK(!fs::exists(work / "hard"));
}

TEST_CASE("landlock: a rule on a host directory covers its bind mount", "[sandbox][guards]") {
  if (landlock_abi() < 1) {
    WARN("Landlock is off on this kernel: not tested");
    return;
  }
  test::TempDir host, elsewhere;
  host.write("data/file.txt", "host data");
  fs::create_directory(elsewhere / "mnt");
  elsewhere.write("other.txt", "not allowed");
  std::vector<PathRule> rules{{(host / "data").string(), true}};
  auto rs = landlock_ruleset(workspace_policy(), rules);
  REQUIRE(rs.ok());
  // As the engine does: the ruleset names host paths, the child mounts them elsewhere, then restricts.
  auto out = run_child([&](const Report& r) {
    if (!enter_user_and_mount_ns(r)) return;
    std::string target = (elsewhere / "mnt").string();
    if (::mount((host / "data").c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return r.fail(std::string("bind: ") + std::strerror(errno));
    if (int err = landlock_restrict(rs->fd()); err != 0) return r.fail(std::string("restrict: ") + std::strerror(err));
    r.allowed("read through the bind mount", ::open((target + "/file.txt").c_str(), O_RDONLY));
    r.allowed("create through the bind mount", ::open((target + "/made.txt").c_str(), O_WRONLY | O_CREAT, 0644));
    r.refused("read beside the bind mount", ::open((elsewhere / "other.txt").c_str(), O_RDONLY), EACCES);
    r.refused("unmount it (Landlock refuses mount changes)", ::umount2(target.c_str(), MNT_DETACH), EPERM);
  });
  require_clean_exit(out);
  CHECK(fs::exists(host / "data/made.txt"));  // the write went to the host directory
}

TEST_CASE("landlock: the child adds a directory it mounted after fork (the private /tmp)", "[sandbox][guards]") {
  if (landlock_abi() < 1) {
    WARN("Landlock is off on this kernel: not tested");
    return;
  }
  test::TempDir host;
  fs::create_directory(host / "tmp");
  host.write("beside.txt", "not allowed");
  // A ruleset a child adds to is that run's alone: the rule lands in the object the parent's
  // descriptor shares.
  auto rs = landlock_ruleset(workspace_policy(), {});
  REQUIRE(rs.ok());
  auto out = run_child([&](const Report& r) {
    if (!enter_user_and_mount_ns(r)) return;
    std::string tmp = (host / "tmp").string();
    if (::mount("tmpfs", tmp.c_str(), "tmpfs", 0, "size=1m") != 0) return r.fail(std::string("tmpfs: ") + std::strerror(errno));
    int fd = ::open(tmp.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (int err = landlock_add_path(rs->fd(), fd, rs->write_access()); err != 0)
      return r.fail(std::string("add_path: ") + std::strerror(err));
    ::close(fd);
    if (int err = landlock_restrict(rs->fd()); err != 0) return r.fail(std::string("restrict: ") + std::strerror(err));
    r.allowed("create in the private tmp", ::open((tmp + "/x").c_str(), O_WRONLY | O_CREAT, 0600));
    r.allowed("mkdir in the private tmp", ::mkdir((tmp + "/d").c_str(), 0700));
    r.refused("read beside it", ::open((host / "beside.txt").c_str(), O_RDONLY), EACCES);
  });
  require_clean_exit(out);
  CHECK(!fs::exists(host / "tmp/x"));  // it was the child's tmpfs
}

TEST_CASE("landlock: abstract Unix sockets and signals outside the domain are refused", "[sandbox][guards]") {
  if (landlock_abi() < 6) {
    WARN("Landlock ABI < 6: no scoping on this kernel, not tested");
    return;
  }
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string name = "indexer-guards-" + std::to_string(::getpid());
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // sun_path[0] == 0: abstract
  socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  auto rs = landlock_ruleset(workspace_policy(), {});
  REQUIRE(rs.ok());
  CHECK(rs->weakened().empty());
  auto out = run_child([&](const Report& r) {
    // Controls before the restriction: both work.
    int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    r.allowed("connect before restricting", ::connect(s, reinterpret_cast<const sockaddr*>(&addr), len));
    ::close(s);
    r.allowed("kill(parent, 0) before restricting", ::kill(::getppid(), 0));
    if (int err = landlock_restrict(rs->fd()); err != 0) return r.fail(std::string("restrict: ") + std::strerror(err));
    s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    r.refused("connect to a host abstract socket", ::connect(s, reinterpret_cast<const sockaddr*>(&addr), len), EPERM);
    ::close(s);
    r.refused("kill(parent, 0)", ::kill(::getppid(), 0), EPERM);
    r.refused("kill(1, 0)", ::kill(1, 0), EPERM);
    // Inside the domain, signals still work.
    pid_t kid = ::fork();
    if (kid == 0) {
      ::pause();
      ::_exit(0);
    }
    r.allowed("kill(own child)", ::kill(kid, SIGKILL));
    int st;
    ::waitpid(kid, &st, 0);
  });
  ::close(listener);
  require_clean_exit(out);
}

TEST_CASE("landlock: TCP connect only to the listed ports, bind to none", "[sandbox][guards]") {
  if (landlock_abi() < 4) {
    WARN("Landlock ABI < 4: no TCP rules on this kernel, not tested");
    return;
  }
  auto listen_any = [](uint16_t* port) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), l) == 0);
    REQUIRE(::listen(s, 4) == 0);
    REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &l) == 0);
    *port = ntohs(a.sin_port);
    return s;
  };
  uint16_t listed = 0, other = 0;
  int l1 = listen_any(&listed), l2 = listen_any(&other);
  auto connect_to = [](uint16_t port) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    long rc = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    int err = errno;
    ::close(s);
    errno = err;
    return rc;
  };
  sandbox::Policy with_network = workspace_policy();
  with_network.network.enabled = true;
  TcpRules tcp;
  tcp.connect_ports = {listed};
  auto rs = landlock_ruleset(with_network, {}, tcp);
  auto rs_offline = landlock_ruleset(workspace_policy(), {}, tcp);  // no network: the port is ignored
  REQUIRE(rs.ok());
  REQUIRE(rs_offline.ok());
  auto out = run_child([&](const Report& r) {
    if (int err = landlock_restrict(rs->fd()); err != 0) return r.fail(std::string("restrict: ") + std::strerror(err));
    r.allowed("connect to the listed port", connect_to(listed));
    r.refused("connect to another port", connect_to(other), EACCES);
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r.refused("bind", ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), EACCES);
  });
  require_clean_exit(out);
  auto offline = run_child([&](const Report& r) {
    if (int err = landlock_restrict(rs_offline->fd()); err != 0) return r.fail("restrict");
    r.refused("connect to the listed port without network", connect_to(listed), EACCES);
  });
  require_clean_exit(offline);
  ::close(l1);
  ::close(l2);
}

TEST_CASE("cgroup: the probe says what this host has", "[sandbox][guards]") {
  CgroupSupport s = probe_cgroups();
  INFO(s.reason);
  if (::geteuid() != 0) {
    CHECK(!s.reason.empty());
    return;
  }
  CHECK(s.reason.empty() == (s.memory && s.pids));
  // The same host seen by an unprivileged uid: nothing usable, and the reason says so.
  auto out = run_child([&](const Report& r) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) return r.fail("setresuid");
    CgroupSupport nobody = probe_cgroups();
    if (nobody.memory || nobody.pids) r.fail("usable as nobody");
    if (nobody.reason.find("not root") == std::string::npos) r.fail("reason: " + nobody.reason);
    auto cg = Cgroup::create({}, "test-nobody");
    if (cg.ok()) r.fail("created as nobody");
  });
  require_clean_exit(out);
}

TEST_CASE("cgroup: a tree past its memory limit is OOM-killed and the group says so", "[sandbox][guards]") {
  CgroupSupport support = probe_cgroups();
  if (!support.memory) {
    WARN("no usable memory cgroup: " << support.reason);
    return;
  }
  sandbox::Limits limits;
  limits.memory_bytes = uint64_t(64) << 20;
  std::string name = "test-oom-" + std::to_string(::getpid());
  auto cg = Cgroup::create(limits, name);
  REQUIRE(cg.ok());
  std::string dir = cg->memory_dir();
  CHECK(test::read_file(dir + "/memory.limit_in_bytes") == "67108864\n");
  CHECK(fs::exists(dir));
  auto out = run_child([&](const Report& r) {
    if (int err = cgroup_join(cg->join()); err != 0) return r.fail(std::string("join: ") + std::strerror(err));
    size_t size = size_t(256) << 20;
    char* p = static_cast<char*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    r.fail("allocated 256 MiB under a 64 MiB limit");
  });
  INFO(out.failures);
  REQUIRE(WIFSIGNALED(out.status));
  CHECK(WTERMSIG(out.status) == SIGKILL);
  CHECK(cg->oom_killed());
  CHECK(cg->peak_memory() > (uint64_t(32) << 20));
  CHECK(cg->peak_memory() <= (uint64_t(64) << 20));
  REQUIRE(cg->remove().ok());
  CHECK(!fs::exists(dir));
}

TEST_CASE("cgroup: pids.max stops a fork loop, removal kills what is left", "[sandbox][guards]") {
  CgroupSupport support = probe_cgroups();
  if (!support.pids) {
    WARN("no usable pids cgroup: " << support.reason);
    return;
  }
  sandbox::Limits limits;
  limits.processes = 16;
  std::string name = "test-pids-" + std::to_string(::getpid());
  auto cg = Cgroup::create(limits, name);
  REQUIRE(cg.ok());
  CHECK(!cg->pids_limited());
  std::string dir = cg->pids_dir();
  int forked = 0, err = 0;
  int p[2];
  REQUIRE(::pipe(p) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::alarm(30);
    if (cgroup_join(cg->join()) != 0) ::_exit(2);
    int n = 0, e = 0;
    for (; n < 100; ++n) {
      pid_t k = ::fork();
      if (k == 0) {
        ::pause();  // stays until remove() kills it
        ::_exit(0);
      }
      if (k < 0) {
        e = errno;
        break;
      }
    }
    int msg[2] = {n, e};
    (void)!::write(p[1], msg, sizeof msg);
    ::_exit(0);
  }
  ::close(p[1]);
  int msg[2] = {0, 0};
  REQUIRE(::read(p[0], msg, sizeof msg) == ssize_t(sizeof msg));
  ::close(p[0]);
  forked = msg[0];
  err = msg[1];
  int st;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  CHECK(forked == 15);  // 16 tasks: the child and 15 of its own
  CHECK(err == EAGAIN);
  CHECK(cg->pids_limited());
  CHECK(cg->tasks().size() == 15);  // the forked ones, still pausing
  REQUIRE(cg->remove().ok());
  CHECK(!fs::exists(dir));
  CHECK(cg->tasks().empty());
}

TEST_CASE("cgroup: a child joins from inside its own user namespace", "[sandbox][guards]") {
  CgroupSupport support = probe_cgroups();
  if (!support.memory || !support.pids) {
    WARN("no usable cgroups: " << support.reason);
    return;
  }
  auto cg = Cgroup::create({}, "test-userns-" + std::to_string(::getpid()));
  REQUIRE(cg.ok());
  int ready[2], done[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(done) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::alarm(30);
    // Its copy of the write end closed, so the parent's close is an EOF here (it waited for the alarm).
    ::close(done[1]);
    ::close(ready[0]);
    // Unmapped in its new namespace, as the engine's child is before its uid map is written: the
    // kernel checks the credentials the descriptors were opened with (root, in the parent).
    int err = ::unshare(CLONE_NEWUSER) != 0 ? errno : cgroup_join(cg->join());
    (void)!::write(ready[1], &err, sizeof err);
    char c;
    (void)!::read(done[0], &c, 1);
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(done[0]);
  int err = -1;
  REQUIRE(::read(ready[0], &err, sizeof err) == ssize_t(sizeof err));
  CHECK(err == 0);
  CHECK(cg->tasks() == std::vector<pid_t>{pid});
  CHECK(test::read_file(cg->pids_dir() + "/pids.current") == "1\n");
  ::close(done[1]);
  int st;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  ::close(ready[0]);
  CHECK(cg->remove().ok());
}

TEST_CASE("cgroup: a group reset for the next run keeps its limits and starts its counters afresh", "[sandbox][guards]") {
  CgroupSupport support = probe_cgroups();
  if (!support.memory || !support.pids) {
    WARN("no usable cgroups: " << support.reason);
    return;
  }
  sandbox::Limits limits;
  limits.memory_bytes = uint64_t(32) << 20;
  limits.processes = 4;
  auto cg = Cgroup::create(limits, "test-reset-" + std::to_string(::getpid()));
  REQUIRE(cg.ok());
  // Run 1: past both limits, and a task left behind.
  auto first = run_child([&](const Report& r) {
    if (cgroup_join(cg->join()) != 0) return r.fail("join");
    for (int i = 0; i < 8; ++i)
      if (::fork() == 0) {
        ::close(r.fd);  // the parent reads the report to its end
        ::pause();
        ::_exit(0);
      }
    if (::fork() == 0) {  // the 4th task cannot exist: this fork fails, so the OOM below is the child's own
      ::_exit(0);
    }
    size_t size = size_t(128) << 20;
    char* p = static_cast<char*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
  });
  CHECK(WIFSIGNALED(first.status));
  CHECK(cg->oom_killed());
  CHECK(cg->pids_limited());
  CHECK(!cg->tasks().empty());
  REQUIRE(cg->reset().ok());
  CHECK(cg->tasks().empty());
  CHECK(!cg->oom_killed());
  CHECK(!cg->pids_limited());
  CHECK(fs::exists(cg->memory_dir()));
  // Run 2, through the same join descriptors: within both limits.
  auto second = run_child([&](const Report& r) {
    if (int err = cgroup_join(cg->join()); err != 0) return r.fail(std::string("join: ") + std::strerror(err));
    pid_t k = ::fork();
    if (k == 0) ::_exit(0);
    ::waitpid(k, nullptr, 0);
  });
  require_clean_exit(second);
  CHECK(!cg->oom_killed());
  CHECK(!cg->pids_limited());
  CHECK(cg->peak_memory() < (uint64_t(32) << 20));
  CHECK(test::read_file(cg->memory_dir() + "/memory.limit_in_bytes") == "33554432\n");
  CHECK(test::read_file(cg->pids_dir() + "/pids.max") == "4\n");
  REQUIRE(cg->remove().ok());
}

TEST_CASE("cgroup: names are checked, a live name is not taken twice", "[sandbox][guards]") {
  CHECK(!Cgroup::create({}, "../escape").ok());
  CHECK(!Cgroup::create({}, "").ok());
  CHECK(!Cgroup::create({}, "a/b").ok());
  if (!probe_cgroups().memory) return;
  std::string name = "test-twice-" + std::to_string(::getpid());
  auto first = Cgroup::create({}, name);
  REQUIRE(first.ok());
  auto second = Cgroup::create({}, name);
  REQUIRE(!second.ok());
  CHECK(second.error().find("in use") != std::string::npos);
}
