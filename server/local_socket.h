// The Unix domain socket of `indexer serve --listen unix:PATH`: for a sidecar that starts the
// service beside itself, no port to discover and no token to pass; whoever may open the socket
// file (mode 0600: its owner) may use the server.
//
// Invariants: the socket is never more open than 0600, not even between bind() and chmod(); a
// path that is not a socket (a file, a directory, a symlink) is never followed, replaced or
// deleted; a socket a live server accepts on is never taken over; a stale one (connection
// refused: its server died without removing it) is replaced. Plain POSIX, no Beast: the client
// side (post_rpc) links it too.
#pragma once

#include <sys/types.h>

#include <string>

#include "indexer/confine.h"

namespace server {

// sun_path's size, less its terminating NUL: the longest path a Unix socket can be bound at.
constexpr size_t kMaxLocalPath = 107;

struct LocalListener {
  indexer::confine::Fd fd;  // bound and listening, close-on-exec; invalid when refused
  std::string error;        // why not, naming the path
  dev_t dev = 0;            // the socket file bound, so only it is removed at exit
  ino_t ino = 0;
  explicit operator bool() const { return bool(fd); }
};

// Binds and listens at `path` (absolute, at most kMaxLocalPath bytes), or says why not.
LocalListener listen_local(const std::string& path, int backlog);

// Removes the socket file at `path` if it is still the one `listener` bound (another server may
// have replaced it after it was deleted).
void unlink_local(const std::string& path, dev_t dev, ino_t ino);

// A connected stream socket (close-on-exec) to `path`, its sends and receives (and the connect,
// when the server's backlog is full) bounded by `timeout_ms`; or -1 with errno set.
int connect_local(const std::string& path, int timeout_ms);

}  // namespace server
