// The Landlock ruleset (guards.h). Debian 12's <linux/landlock.h> stops at ABI 2, so the later
// structures and bits are spelled out here, with the ABI that brought each.
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "sandbox/guards.h"

namespace sandbox::detail {
namespace {

#ifndef SYS_landlock_create_ruleset
constexpr long SYS_landlock_create_ruleset = 444, SYS_landlock_add_rule = 445, SYS_landlock_restrict_self = 446;
#endif

// Filesystem rights: bit i is the right the kernel numbers i.
constexpr uint64_t EXECUTE = 1ULL << 0, WRITE_FILE = 1ULL << 1, READ_FILE = 1ULL << 2, READ_DIR = 1ULL << 3,
                   REMOVE_DIR = 1ULL << 4, REMOVE_FILE = 1ULL << 5, MAKE_CHAR = 1ULL << 6, MAKE_DIR = 1ULL << 7,
                   MAKE_REG = 1ULL << 8, MAKE_SOCK = 1ULL << 9, MAKE_FIFO = 1ULL << 10, MAKE_BLOCK = 1ULL << 11,
                   MAKE_SYM = 1ULL << 12,
                   REFER = 1ULL << 13,      // ABI 2: link and rename across directories
                   TRUNCATE = 1ULL << 14,   // ABI 3
                   IOCTL_DEV = 1ULL << 15;  // ABI 5: ioctl on device files
// The rights that apply to a file (not a directory) in a path_beneath rule.
constexpr uint64_t kFileRights = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;
constexpr uint64_t NET_BIND_TCP = 1ULL << 0, NET_CONNECT_TCP = 1ULL << 1;          // ABI 4
constexpr uint64_t SCOPE_ABSTRACT_UNIX_SOCKET = 1ULL << 0, SCOPE_SIGNAL = 1ULL << 1;  // ABI 6
constexpr uint32_t CREATE_RULESET_VERSION = 1U << 0;
constexpr int RULE_PATH_BENEATH = 1, RULE_NET_PORT = 2;

struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;  // ABI 4
  uint64_t scoped;              // ABI 6
};
struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};
struct NetPortAttr {
  uint64_t allowed_access;
  uint64_t port;
};

uint64_t fs_rights(int abi) {
  uint64_t r = (MAKE_SYM << 1) - 1;  // ABI 1: bits 0..12
  if (abi >= 2) r |= REFER;
  if (abi >= 3) r |= TRUNCATE;
  if (abi >= 5) r |= IOCTL_DEV;
  return r;
}

}  // namespace

int landlock_abi() noexcept {
  long v = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, CREATE_RULESET_VERSION);
  return v < 0 ? 0 : int(v);
}

LandlockRuleset& LandlockRuleset::operator=(LandlockRuleset&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    abi_ = o.abi_;
    read_ = o.read_;
    write_ = o.write_;
    missing_ = std::move(o.missing_);
    weakened_ = std::move(o.weakened_);
  }
  return *this;
}

LandlockRuleset::~LandlockRuleset() {
  if (fd_ >= 0) ::close(fd_);
}

int landlock_add_path(int ruleset_fd, int fd, uint64_t access) noexcept {
  struct stat st;
  if (::fstat(fd, &st) != 0) return errno;
  PathBeneathAttr attr{access, fd};
  if (!S_ISDIR(st.st_mode)) attr.allowed_access &= kFileRights;
  if (::syscall(SYS_landlock_add_rule, ruleset_fd, RULE_PATH_BENEATH, &attr, 0) != 0) return errno;
  return 0;
}

int landlock_restrict(int ruleset_fd) noexcept {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  if (::syscall(SYS_landlock_restrict_self, ruleset_fd, 0) != 0) return errno;
  return 0;
}

Result<LandlockRuleset> landlock_ruleset(const Policy& policy, std::span<const PathRule> rules, const TcpRules& tcp) {
  LandlockRuleset rs;
  rs.abi_ = landlock_abi();
  if (rs.abi_ <= 0) return Error{"Landlock is not available (kernel without it, or not in the lsm= list)"};
  const uint64_t handled = fs_rights(rs.abi_);
  rs.read_ = handled & (EXECUTE | READ_FILE | READ_DIR);
  rs.write_ = handled & ~(MAKE_CHAR | MAKE_BLOCK);  // device nodes: never, even where writable

  RulesetAttr attr{handled, 0, 0};
  size_t attr_size = sizeof(uint64_t);
  if (rs.abi_ >= 4 && tcp.restricted) {
    attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP;
    attr_size = 2 * sizeof(uint64_t);
  } else if (tcp.restricted) {
    rs.weakened_.push_back("Landlock ABI " + std::to_string(rs.abi_) + " has no TCP rules (4+): ports not restricted");
  }
  if (rs.abi_ >= 6) {
    attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL;
    attr_size = sizeof(RulesetAttr);
  } else {
    rs.weakened_.push_back("Landlock ABI " + std::to_string(rs.abi_) +
                           " cannot scope abstract Unix sockets and signals (6+)");
  }
  long fd = ::syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
  if (fd < 0) return Error{std::string("landlock_create_ruleset: ") + std::strerror(errno)};
  rs.fd_ = int(fd);

  for (const PathRule& rule : rules) {
    const bool opened = rule.fd < 0;
    int pfd = opened ? ::open(rule.path.c_str(), O_PATH | O_CLOEXEC) : rule.fd;
    if (pfd < 0) {
      if (errno == ENOENT || errno == ENOTDIR) {
        rs.missing_.push_back(rule.path);
        continue;
      }
      return Error{"Landlock rule for " + rule.path + ": " + std::strerror(errno)};
    }
    int err = landlock_add_path(rs.fd_, pfd, rule.writable ? rs.write_ : rs.read_);
    if (opened) ::close(pfd);
    if (err != 0) return Error{"Landlock rule for " + rule.path + ": " + std::strerror(err)};
  }
  if (attr.handled_access_net != 0) {
    auto add_port = [&](uint16_t port, uint64_t access) -> Status {
      NetPortAttr net{access, port};
      if (::syscall(SYS_landlock_add_rule, rs.fd_, RULE_NET_PORT, &net, 0) != 0)
        return Error{"Landlock rule for TCP port " + std::to_string(port) + ": " + std::strerror(errno)};
      return {};
    };
    // Without network the policy wins over the caller: no port at all.
    if (policy.network.enabled)
      for (uint16_t port : tcp.connect_ports)
        if (Status s = add_port(port, NET_CONNECT_TCP); !s) return Error{s.error()};
    for (uint16_t port : tcp.bind_ports)
      if (Status s = add_port(port, NET_BIND_TCP); !s) return Error{s.error()};
  }
  return rs;
}

}  // namespace sandbox::detail
