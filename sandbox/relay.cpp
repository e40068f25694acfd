// The proxy relay, run by pid 1 of a sandbox that has Command.proxy_socket: it listens on
// 127.0.0.1:3128 inside the run's empty network namespace and copies each TCP connection to a new
// connection on the Unix socket bound in at plan.proxy_path, until the command exits. The proxy
// behind that socket (sandbox/proxy.h) decides what goes out; the relay only carries bytes.
//
// Runs in the child (spawn_plan.h): system calls only, fixed buffers on its own stack, at most
// kPairs connections at once (more wait in the listen backlog).
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "sandbox/spawn_plan.h"

namespace sandbox::detail {
namespace {

constexpr int kPairs = 32;
constexpr size_t kBuf = 8192;

struct Half {  // one direction: read from `from`, buffered, written to `to`
  char buf[kBuf];
  size_t len = 0, off = 0;
  bool eof = false;  // `from` said EOF (or failed); `to` is shut for writing once the buffer drains
  bool shut = false;
};

struct Pair {
  int client = -1, upstream = -1;
  Half up, down;  // client -> upstream, upstream -> client
};

void close_pair(Pair& p) {
  if (p.client >= 0) close(p.client);
  if (p.upstream >= 0) close(p.upstream);
  p.client = p.upstream = -1;
  p.up.len = p.up.off = p.down.len = p.down.off = 0;
  p.up.eof = p.up.shut = p.down.eof = p.down.shut = false;
}

int connect_upstream(const char* path) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  size_t n = strlen(path);
  if (n >= sizeof a.sun_path) return close(s), -1;
  memcpy(a.sun_path, path, n);
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return close(s), -1;
  return s;
}

// Moves what it can in one direction without blocking; false when the pair is finished.
void pump(Half& h, int from, int to, short from_ev, short to_ev) {
  if (!h.eof && h.len == 0 && (from_ev & (POLLIN | POLLHUP | POLLERR))) {
    ssize_t n = recv(from, h.buf, kBuf, MSG_DONTWAIT);
    if (n > 0) h.len = size_t(n), h.off = 0;
    else if (n == 0 || (errno != EAGAIN && errno != EINTR)) h.eof = true;
  }
  if (h.len > h.off && (to_ev & POLLOUT)) {
    ssize_t n = send(to, h.buf + h.off, h.len - h.off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) h.off += size_t(n);
    else if (n < 0 && errno != EAGAIN && errno != EINTR) h.eof = true, h.len = h.off = 0;
    if (h.off == h.len) h.len = h.off = 0;
  }
  if (h.eof && h.len == 0 && !h.shut) {
    shutdown(to, SHUT_WR);
    h.shut = true;
  }
}

}  // namespace

int relay_listen() {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return -1;
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(3128);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(s, 64) != 0) {
    int e = errno;
    close(s);
    errno = e;
    return -1;
  }
  return s;
}

int relay_serve(int listen_fd, const char* path, pid_t command) {
  Pair pairs[kPairs];
  int cmd_fd = int(syscall(SYS_pidfd_open, command, 0));
  for (;;) {
    pollfd fds[2 + 2 * kPairs];
    int nf = 0;
    fds[nf++] = {cmd_fd, POLLIN, 0};
    int free_slots = 0;
    for (auto& p : pairs) free_slots += p.client < 0;
    fds[nf++] = {free_slots ? listen_fd : -1, POLLIN, 0};
    for (auto& p : pairs) {
      short c = 0, u = 0;
      if (p.client >= 0) {
        if (!p.up.eof && p.up.len == 0) c |= POLLIN;
        if (p.down.len > p.down.off) c |= POLLOUT;
        if (!p.down.eof && p.down.len == 0) u |= POLLIN;
        if (p.up.len > p.up.off) u |= POLLOUT;
      }
      fds[nf++] = {p.client >= 0 ? p.client : -1, c, 0};
      fds[nf++] = {p.upstream >= 0 ? p.upstream : -1, u, 0};
    }
    int r = poll(fds, nfds_t(nf), cmd_fd >= 0 ? -1 : 100);
    if (r < 0 && errno != EINTR) break;
    // Orphans of the tree are reparented here: reap them as they come, and the command last.
    int status = 0;
    for (;;) {
      pid_t w = wait4(-1, &status, WNOHANG | __WALL, nullptr);
      if (w <= 0) break;
      if (w == command) {
        for (auto& p : pairs) close_pair(p);
        if (cmd_fd >= 0) close(cmd_fd);
        return status;
      }
    }
    if (r <= 0) continue;
    if (fds[1].revents & POLLIN) {
      for (auto& p : pairs) {
        if (p.client >= 0) continue;
        int c = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) break;
        int u = connect_upstream(path);
        if (u < 0) {  // the proxy is gone: the client sees its connection closed
          close(c);
          continue;
        }
        fcntl(u, F_SETFL, O_NONBLOCK);
        p.client = c;
        p.upstream = u;
      }
    }
    for (int i = 0; i < kPairs; ++i) {
      Pair& p = pairs[i];
      if (p.client < 0) continue;
      short ce = fds[2 + 2 * i].revents, ue = fds[3 + 2 * i].revents;
      pump(p.up, p.client, p.upstream, ce, ue);
      pump(p.down, p.upstream, p.client, ue, ce);
      if ((p.up.shut && p.down.shut) || ((ce | ue) & POLLNVAL)) close_pair(p);
    }
  }
  // poll failed: fall back to plain reaping.
  int status = 0;
  while (wait4(command, &status, __WALL, nullptr) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace sandbox::detail
