// Confinement: the one rule for every path that reaches a file, whichever surface it came from
// (RPC params, LSP URIs, MCP tools, watcher events, refresh lists, the walk itself).
//
// A path is relative to the root, has no `..` and no component of it is a symlink. It is opened
// relative to a descriptor of the root with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS), so the kernel checks every component in the same lookup that opens the
// file: a link swapped in between a check and the open cannot win, because there is no separate
// check. Callers then read through the descriptor (fstat + read), never through the name again.
// Where the kernel lacks openat2 (before 5.6, or a seccomp filter answering ENOSYS), the same is
// done by hand: openat one component at a time with O_NOFOLLOW, each relative to the last.
//
// Cost: one syscall per open, as a plain open(2) of the joined path was; the fallback walk costs
// one openat per component. Nothing allocates. The root itself is trusted (it may be a link).
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>

namespace indexer::confine {

enum class Refusal : unsigned char {
  None,
  Outside,     // absolute, or `..` in it
  Symlink,     // some component is a symlink (followed nowhere, whatever it points at)
  NotFound,    // a component is missing or is not a directory
  Unreadable,  // permission denied, I/O error ...: `error` holds errno
};
std::string_view refusal_name(Refusal r);

// An owned descriptor, closed when it goes.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct Opened {
  Fd fd;                            // valid unless refused
  Refusal refusal = Refusal::None;
  int error = 0;                    // errno behind the refusal
  explicit operator bool() const { return bool(fd); }
};

// The root directory, which may itself be reached through links. Open it per run or per
// request, not once for the process: a root deleted and created again is then seen anew.
Opened open_root(const std::string& root);

// Opens `rel` (relative to `root_fd`; "" is the root itself) with `flags` (O_RDONLY, O_DIRECTORY,
// O_PATH, O_NONBLOCK ...; O_CLOEXEC is added; O_NOFOLLOW is implied), under the rule above.
Opened open_beneath(int root_fd, std::string_view rel, int flags);

// The same by the component walk only, whatever the kernel has: what open_beneath() falls back
// to, public so tests run both on the same cases.
Opened open_by_walk(int root_fd, std::string_view rel, int flags);

// lstat() of `rel`'s last component, every component before it checked as open_beneath() does:
// a trailing link is reported as a link (S_ISLNK), a link on the way is refused.
Refusal stat_beneath(int root_fd, std::string_view rel, struct stat& st);

// <root>/.indexer, where indexer keeps its own files (the snapshot, server.json), opened
// O_RDONLY | O_DIRECTORY and made (mode 0700) when missing; the root itself is not made. The
// repository controls this name like any other: a link there is refused, so nothing is written
// through it. Files in it are then made with openat(O_EXCL | O_NOFOLLOW) and renamed with renameat.
Opened open_state_dir(const std::string& root);

}  // namespace indexer::confine
