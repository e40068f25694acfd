// The seccomp filter (guards.h): built with libseccomp in the parent, exported as classic BPF into
// memory, installed by the child with two raw system calls.
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "sandbox/guards.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef TIOCSETD
#define TIOCSETD 0x5423
#endif

namespace sandbox::detail {
namespace {

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

// Refused outright, with EPERM. Names, so that a call this architecture lacks is skipped.
constexpr const char* kRefused[] = {
    // Reaching into other processes (Yama is absent: nothing else stops a same-uid ptrace).
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise",
    // Mounts, old and new API: the sandbox's view of the filesystem is fixed before exec.
    "mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsmount", "fsconfig",
    "fspick", "mount_setattr", "chroot",
    // Joining other namespaces.
    "setns",
    // Wide kernel surfaces a build or a test never needs.
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "userfaultfd", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "acct", "swapon", "swapoff", "reboot", "settimeofday", "clock_settime",
    "clock_adjtime", "adjtimex", "name_to_handle_at", "open_by_handle_at", "iopl", "ioperm", "syslog",
    "quotactl", "lookup_dcookie", "uselib", "vhangup",
};

// A namespace flag in clone(2)'s flags or unshare(2)'s argument. CLONE_NEWTIME shares its bit with
// clone's exit signal (CSIGNAL), so it is checked for unshare only (clone3 is refused anyway).
constexpr uint64_t kNamespaceFlags[] = {CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
                                        CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP};

// personality(2) flags that weaken the process's own defences (ASLR off, readable means executable,
// page zero mapped, a legacy address layout). The query 0xffffffff has every bit set, so each rule
// also requires that bit 31 (no flag's) be clear.
constexpr uint64_t kUnsafePersonality[] = {ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, MMAP_PAGE_ZERO,
                                           ADDR_COMPAT_LAYOUT, ADDR_LIMIT_3GB, ADDR_LIMIT_32BIT};

// Socket families allowed; the rest of 0..kFamilies-1 get EAFNOSUPPORT, as do values past it.
// kFamilies is a power of two past AF_MAX (46 on Linux 6.x), so the blocks below tile it.
constexpr uint64_t kFamilies = 64;
bool family_allowed(int f) { return f == AF_UNIX || f == AF_INET || f == AF_INET6 || f == AF_NETLINK; }
bool all_refused(uint64_t start, uint64_t size) {
  for (uint64_t f = start; f < start + size; ++f)
    if (family_allowed(int(f))) return false;
  return true;
}

// A 32-bit argument (int, unsigned int) compared on its low half only: the kernel ignores the upper
// half, so a plain 64-bit comparison is bypassed by setting a high bit.
scmp_arg_cmp low32_eq(unsigned arg, uint32_t value) {
  return scmp_arg_cmp{arg, SCMP_CMP_MASKED_EQ, 0xffffffffULL, value};
}

// Adds rules and keeps the first error, so the list below reads as a list.
class Rules {
 public:
  explicit Rules(scmp_filter_ctx ctx) : ctx_(ctx) {}
  void add(uint32_t action, const char* name, std::initializer_list<scmp_arg_cmp> cmps = {}) {
    int nr = seccomp_syscall_resolve_name(name);
    if (!status_ || nr == __NR_SCMP_ERROR) return;  // a call this architecture does not have
    int rc = seccomp_rule_add_array(ctx_, action, nr, unsigned(cmps.size()), cmps.size() ? cmps.begin() : nullptr);
    if (rc < 0) status_ = Error{std::string("seccomp rule for ") + name + ": " + std::strerror(-rc)};
  }
  const Status& status() const { return status_; }

 private:
  scmp_filter_ctx ctx_;
  Status status_;
};

}  // namespace

Result<SeccompProgram> seccomp_program(const Policy&) {
  Ctx ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Error{"seccomp_init failed"};
  // Only the native ABI is described by the rules below; another (i386 int 0x80, x32) is killed.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc < 0)
    return Error{std::string("seccomp bad-arch action: ") + std::strerror(-rc)};
  // A binary tree of the call numbers (SCMP_FLTATR_CTL_OPTIMIZE 2) rather than a linear chain: slower
  // to build (once per process) but faster to install, which every run pays. Installing makes the
  // kernel run the filter over every call number to cache the always-allowed ones (5.11+), ~10
  // instructions a number instead of ~60: 0.11 ms instead of 0.18-0.20 ms here
  // (indexer_sandbox_guards_bench, "install seccomp alone"). Where the attribute is unknown
  // (libseccomp < 2.5) the chain stays. no_new_privs is set by install_seccomp itself.
  (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  Rules rules(ctx.get());
  for (const char* name : kRefused) rules.add(eperm, name);
  rules.add(SCMP_ACT_ERRNO(ENOSYS), "clone3");
  for (uint64_t flag : kNamespaceFlags) {
    rules.add(eperm, "clone", {scmp_arg_cmp{0, SCMP_CMP_MASKED_EQ, flag, flag}});
    rules.add(eperm, "unshare", {scmp_arg_cmp{0, SCMP_CMP_MASKED_EQ, flag, flag}});
  }
  rules.add(eperm, "unshare", {scmp_arg_cmp{0, SCMP_CMP_MASKED_EQ, CLONE_NEWTIME, CLONE_NEWTIME}});
  for (uint64_t flag : kUnsafePersonality)
    rules.add(eperm, "personality", {scmp_arg_cmp{0, SCMP_CMP_MASKED_EQ, flag | 0x80000000ULL, flag}});
  const uint32_t no_family = SCMP_ACT_ERRNO(EAFNOSUPPORT);
  // The refused families below kFamilies as aligned blocks ((family & ~(size-1)) == start): 11
  // rules instead of 60, so the filter stays short for every socket(2).
  for (uint64_t start = 0; start < kFamilies;) {
    if (family_allowed(int(start))) {
      ++start;
      continue;
    }
    uint64_t size = 1;
    while (start % (size * 2) == 0 && start + size * 2 <= kFamilies && all_refused(start, size * 2)) size *= 2;
    rules.add(no_family, "socket", {scmp_arg_cmp{0, SCMP_CMP_MASKED_EQ, ~(size - 1), start}});
    start += size;
  }
  // Compared on all 64 bits: a family >= kFamilies, or any value with a high bit set, is refused.
  rules.add(no_family, "socket", {scmp_arg_cmp{0, SCMP_CMP_GE, kFamilies, 0}});
  // Netlink: routing only (getaddrinfo's AI_ADDRCONFIG, getifaddrs); not audit, uevents, diag.
  rules.add(SCMP_ACT_ERRNO(EPROTONOSUPPORT), "socket",
            {low32_eq(0, AF_NETLINK), scmp_arg_cmp{2, SCMP_CMP_NE, NETLINK_ROUTE, 0}});
  for (uint32_t request : {uint32_t(TIOCSTI), uint32_t(TIOCLINUX), uint32_t(TIOCSETD)})
    rules.add(eperm, "ioctl", {low32_eq(1, request)});
  if (!rules.status()) return Error{rules.status().error()};

  // Export into memory: libseccomp 2.5 writes only to a descriptor.
  int mfd = ::memfd_create("seccomp-bpf", MFD_CLOEXEC);
  if (mfd < 0) return Error{std::string("memfd_create: ") + std::strerror(errno)};
  SeccompProgram program;
  int rc = seccomp_export_bpf(ctx.get(), mfd);
  off_t size = rc < 0 ? -1 : ::lseek(mfd, 0, SEEK_END);
  if (rc >= 0 && size > 0 && size % sizeof(sock_filter) == 0) {
    program.filter.resize(size_t(size) / sizeof(sock_filter));
    if (::pread(mfd, program.filter.data(), size_t(size), 0) != size) size = -1;
  }
  ::close(mfd);
  if (rc < 0) return Error{std::string("seccomp_export_bpf: ") + std::strerror(-rc)};
  if (size <= 0 || program.filter.empty() || program.filter.size() > BPF_MAXINSNS)
    return Error{"seccomp_export_bpf wrote no usable program"};
  return program;
}

int install_seccomp(const SeccompProgram& program) noexcept {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.filter.size());
  prog.filter = const_cast<sock_filter*>(program.filter.data());
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return errno;
  return 0;
}

}  // namespace sandbox::detail
