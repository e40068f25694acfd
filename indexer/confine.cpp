#include "indexer/confine.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace indexer::confine {
namespace {

// Whether the kernel has openat2: unknown until the first call says.
enum class Have : int { Unknown, Yes, No };
std::atomic<Have> have_openat2{Have::Unknown};

Opened refuse(Refusal r, int error) {
  Opened o;
  o.refusal = r;
  o.error = error;
  return o;
}

// The checks that need no lookup: relative, no `..`, no NUL, short enough. Copies `rel` into
// `out` NUL-terminated ("." for the root itself).
Refusal check_lexically(std::string_view rel, char (&out)[PATH_MAX], int& error) {
  if (!rel.empty() && rel.front() == '/') return error = EXDEV, Refusal::Outside;
  for (size_t start = 0; start <= rel.size();) {
    size_t slash = std::min(rel.find('/', start), rel.size());
    if (rel.substr(start, slash - start) == "..") return error = EXDEV, Refusal::Outside;
    start = slash + 1;
  }
  if (rel.find('\0') != std::string_view::npos) return error = ENOENT, Refusal::NotFound;
  if (rel.size() >= sizeof out - 1) return error = ENAMETOOLONG, Refusal::Unreadable;
  if (rel.empty()) rel = ".";
  std::memcpy(out, rel.data(), rel.size());
  out[rel.size()] = '\0';
  return Refusal::None;
}

// Why `name` in `dir` could not be opened as asked, from errno `e`.
Opened classify(int dir, const char* name, int e) {
  struct stat st;
  if ((e == ELOOP || e == ENOTDIR || e == EMLINK) && ::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
    return refuse(Refusal::Symlink, ELOOP);
  if (e == ENOENT || e == ENOTDIR) return refuse(Refusal::NotFound, e);
  if (e == ELOOP) return refuse(Refusal::Symlink, e);
  return refuse(Refusal::Unreadable, e);
}

// Whether openat2 opens the root itself: false when a filter refuses the syscall outright.
bool opens_root(int root_fd, open_how how) {
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  long fd = ::syscall(SYS_openat2, root_fd, ".", &how, sizeof how);
  if (fd < 0) return false;
  ::close(int(fd));
  return true;
}

Opened walk(int root_fd, const char* path, int flags) {
  Fd held;
  int at = root_fd;
  const char* p = path;
  for (;;) {
    while (*p == '/') ++p;
    const char* end = p;
    while (*end && *end != '/') ++end;
    const char* next = end;
    while (*next == '/') ++next;
    const bool last = *next == '\0';
    char name[NAME_MAX + 1];
    size_t n = size_t(end - p);
    if (n > NAME_MAX) return refuse(Refusal::Unreadable, ENAMETOOLONG);
    std::memcpy(name, p, n);
    name[n] = '\0';
    if (n == 0) std::strcpy(name, ".");  // "" or "a/": the directory reached so far
    // On the way: directories only, and O_PATH, which needs no read permission (as a lookup).
    int f = last ? (flags | O_CLOEXEC | O_NOFOLLOW) : (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int fd = ::openat(at, name, f);
    if (fd < 0) return classify(at, name, errno);
    Fd opened(fd);
    if (!last || (flags & O_PATH)) {  // O_PATH | O_NOFOLLOW opens a link itself: look at what came
      struct stat st;
      if (::fstat(fd, &st) != 0) return refuse(Refusal::Unreadable, errno);
      if (S_ISLNK(st.st_mode)) return refuse(Refusal::Symlink, ELOOP);
      if (!last && !S_ISDIR(st.st_mode)) return refuse(Refusal::NotFound, ENOTDIR);
    }
    held = std::move(opened);
    at = held.get();
    if (last) return Opened{std::move(held)};
    p = next;
  }
}

}  // namespace

std::string_view refusal_name(Refusal r) {
  switch (r) {
    case Refusal::None: return "none";
    case Refusal::Outside: return "outside the root";
    case Refusal::Symlink: return "through a symlink";
    case Refusal::NotFound: return "not found";
    case Refusal::Unreadable: return "unreadable";
  }
  return "?";
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Opened open_root(const std::string& root) {
  int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return refuse(errno == ENOENT || errno == ENOTDIR ? Refusal::NotFound : Refusal::Unreadable, errno);
  return Opened{Fd(fd)};
}

Opened open_beneath(int root_fd, std::string_view rel, int flags) {
  char path[PATH_MAX];
  int error = 0;
  if (Refusal r = check_lexically(rel, path, error); r != Refusal::None) return refuse(r, error);
  if (have_openat2.load(std::memory_order_relaxed) != Have::No) {
    struct open_how how{};
    // Without O_NOFOLLOW a trailing link is one to resolve, which RESOLVE_NO_SYMLINKS refuses
    // with ELOOP; with it, O_PATH would open the link itself.
    how.flags = uint64_t(unsigned(flags | O_CLOEXEC) & ~unsigned(O_NOFOLLOW));
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0;; ++attempt) {
      long fd = ::syscall(SYS_openat2, root_fd, path, &how, sizeof how);
      if (fd >= 0) {
        have_openat2.store(Have::Yes, std::memory_order_relaxed);
        return Opened{Fd(int(fd))};
      }
      int e = errno;
      if (e == EAGAIN && attempt < 16) continue;  // a rename raced the lookup: the kernel asks to retry
      // Old kernels say ENOSYS; some container seccomp filters say EPERM for any syscall they do
      // not know, which the root itself then gets too.
      if (e == ENOSYS || (e == EPERM && have_openat2.load(std::memory_order_relaxed) == Have::Unknown &&
                          !opens_root(root_fd, how))) {
        have_openat2.store(Have::No, std::memory_order_relaxed);
        break;
      }
      if (e == EXDEV) return refuse(Refusal::Outside, e);
      if (e == ELOOP) return refuse(Refusal::Symlink, e);
      if (e == ENOENT || e == ENOTDIR) return refuse(Refusal::NotFound, e);
      return refuse(Refusal::Unreadable, e);
    }
  }
  return walk(root_fd, path, flags);
}

Opened open_by_walk(int root_fd, std::string_view rel, int flags) {
  char path[PATH_MAX];
  int error = 0;
  if (Refusal r = check_lexically(rel, path, error); r != Refusal::None) return refuse(r, error);
  return walk(root_fd, path, flags);
}

Refusal stat_beneath(int root_fd, std::string_view rel, struct stat& st) {
  while (!rel.empty() && rel.back() == '/') rel.remove_suffix(1);
  size_t slash = rel.rfind('/');
  std::string_view dir = slash == std::string_view::npos ? std::string_view() : rel.substr(0, slash);
  std::string_view name = slash == std::string_view::npos ? rel : rel.substr(slash + 1);
  if (name == "..") return Refusal::Outside;
  Opened parent = open_beneath(root_fd, dir, O_PATH | O_DIRECTORY);
  if (!parent) return parent.refusal;
  char last[NAME_MAX + 1];
  if (name.size() > NAME_MAX || name.find('\0') != std::string_view::npos) return Refusal::NotFound;
  if (name.empty()) name = ".";
  std::memcpy(last, name.data(), name.size());
  last[name.size()] = '\0';
  if (::fstatat(parent.fd.get(), last, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT || errno == ENOTDIR ? Refusal::NotFound : Refusal::Unreadable;
  return Refusal::None;
}

Opened open_state_dir(const std::string& root) {
  Opened r = open_root(root);
  if (!r) return r;
  if (::mkdirat(r.fd.get(), ".indexer", 0700) != 0 && errno != EEXIST) return refuse(Refusal::Unreadable, errno);
  return open_beneath(r.fd.get(), ".indexer", O_RDONLY | O_DIRECTORY);
}

}  // namespace indexer::confine
