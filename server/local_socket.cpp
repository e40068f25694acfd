#include "server/local_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace server {

namespace {

static_assert(kMaxLocalPath + 1 == sizeof(sockaddr_un::sun_path));

sockaddr_un local_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), kMaxLocalPath));
  return addr;
}

const char* kind_of(mode_t mode) {
  if (S_ISLNK(mode)) return "a symlink";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISREG(mode)) return "a regular file";
  return "not a socket";
}

}  // namespace

int connect_local(const std::string& path, int timeout_ms) {
  if (path.empty() || path.size() > kMaxLocalPath) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  // Before connect: a server whose backlog is full makes connect() wait, for at most the send timeout.
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_un addr = local_address(path);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

LocalListener listen_local(const std::string& path, int backlog) {
  LocalListener out;
  auto refuse = [&](const std::string& why) {
    out.error = path + ": " + why;
    return std::move(out);
  };
  if (path.empty() || path.front() != '/') return refuse("a Unix socket path must be absolute");
  if (path.size() > kMaxLocalPath)
    return refuse(std::to_string(path.size()) + " bytes, longer than a Unix socket's path may be (" + std::to_string(kMaxLocalPath) +
                  " bytes, sun_path): choose a shorter one");
  if (path.find('\0') != std::string::npos) return refuse("a Unix socket path cannot hold a NUL byte");

  // lstat, not stat: a symlink is refused as it is, never followed to what it names.
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return refuse(std::string("exists and is ") + kind_of(st.st_mode) + ", not a socket: not replaced");
    if (int live = connect_local(path, 1000); live >= 0) {
      ::close(live);
      return refuse("another server is listening on this socket: stop it, or choose another path");
    } else if (errno != ECONNREFUSED) {
      // EAGAIN: a live server with a full backlog; EACCES: someone else's socket. Neither is ours to take.
      return refuse(std::string("a socket is there that did not refuse a connection (") + std::strerror(errno) + "): not replaced");
    }
    // Refused: no process listens on it any more (a server killed before it could remove it).
    // Removed by name, so someone could swap the entry between the check and the unlink, but only
    // someone who may write the directory, who could as well remove the entry themselves.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return refuse(std::string("cannot remove the stale socket: ") + std::strerror(errno));
  } else if (errno != ENOENT) {
    return refuse(std::strerror(errno));
  }

  indexer::confine::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return refuse(std::string("cannot make a socket: ") + std::strerror(errno));
  sockaddr_un addr = local_address(path);
  // bind() makes the file with mode 0777 less the umask and takes no mode of its own; a chmod
  // after it would leave a moment in which anyone may connect. So the umask is narrowed around
  // the call and the file is born 0600. The umask belongs to the process: serve() binds before it
  // starts any thread of its own, so nothing else creates a file meanwhile.
  mode_t umask_before = ::umask(0177);
  int bound = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int bind_error = errno;
  ::umask(umask_before);
  if (bound != 0) {
    // EADDRINUSE: something (a server just started, or an entry we found no socket at) took the path first.
    return refuse(std::string("cannot bind: ") + std::strerror(bind_error));
  }
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return refuse("the socket vanished as it was bound");
  out.dev = st.st_dev, out.ino = st.st_ino;
  if ((st.st_mode & 07777) != 0600) {
    unlink_local(path, out.dev, out.ino);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    return refuse(std::string("bound with mode ") + mode + ", not 0600: removed");
  }
  if (::listen(fd.get(), backlog) != 0) {
    int e = errno;
    unlink_local(path, out.dev, out.ino);
    return refuse(std::string("cannot listen: ") + std::strerror(e));
  }
  out.fd = std::move(fd);
  return out;
}

void unlink_local(const std::string& path, dev_t dev, ino_t ino) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev && st.st_ino == ino) ::unlink(path.c_str());
}

}  // namespace server
