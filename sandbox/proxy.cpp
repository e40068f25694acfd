// The proxy's threads: one accepts, one serves each connection (read the head under a deadline,
// decide, resolve on the pool, check every address, connect, then relay), a few resolve names.
// Every blocking wait is a poll() that also watches stop_fd, an eventfd the destructor makes
// readable once and nobody drains, so one write wakes every thread.
#include "sandbox/proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <thread>

#include "sandbox/proxy_request.h"
#include "sandbox/violations.h"

namespace sandbox {

using namespace proxy_detail;

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kRelayBuffer = 64 * 1024;
constexpr size_t kMaxEvents = 4096;
constexpr size_t kMaxAddresses = 16;
constexpr size_t kResolverThreads = 4;

Clock::time_point after_ms(uint64_t ms) { return Clock::now() + std::chrono::milliseconds(std::min<uint64_t>(ms, uint64_t(1) << 40)); }

int ms_until(Clock::time_point deadline) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return int(std::clamp<decltype(ms)>(ms, 0, INT_MAX));
}

std::string errno_text(int e) { return std::strerror(e); }

std::string address_text(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (a.ss_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
  if (a.ss_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof buf);
  return buf;
}

const char* status_text(int status) {
  switch (status) {
    case 200: return "Connection established";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
  }
  return "Error";
}

// The reason goes in a header line too: nothing a policy or a client wrote may break it.
std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s) out += (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) ? c : ' ';
  return out;
}

std::string error_response(int status, std::string_view reason) {
  std::string r = one_line(reason);
  return "HTTP/1.1 " + std::to_string(status) + " " + status_text(status) + "\r\nContent-Type: text/plain\r\n" +
         "X-Proxy-Reason: " + r + "\r\nContent-Length: " + std::to_string(r.size() + 1) + "\r\nConnection: close\r\n\r\n" + r + "\n";
}

// Waits until `fd` is ready for `events`. 1: ready, 0: deadline passed, -1: stopping or failed.
int wait_for(int fd, short events, int stop_fd, Clock::time_point deadline) {
  for (;;) {
    pollfd p[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
    int r = ::poll(p, 2, ms_until(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || p[1].revents) return -1;
    if (r == 0) return 0;
    return 1;  // ready, or an error/hangup the next read or write reports
  }
}

bool write_all(int fd, std::string_view data, int stop_fd, Clock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(size_t(n));
    } else if (n < 0 && errno == EINTR) {
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_for(fd, POLLOUT, stop_fd, deadline) != 1) return false;
    } else {
      return false;
    }
  }
  return true;
}

// After an error answer: stop writing, then read what the client still sends for a moment, so
// that closing with unread input does not reset the connection before the client read the answer.
void linger_close(int fd, int stop_fd) {
  ::shutdown(fd, SHUT_WR);
  auto deadline = after_ms(1000);
  char sink[4096];
  for (size_t total = 0; total < (size_t(1) << 20);) {
    if (wait_for(fd, POLLIN, stop_fd, deadline) != 1) return;
    ssize_t n = ::recv(fd, sink, sizeof sink, 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return;
    if (n > 0) total += size_t(n);
  }
}

// Name resolution on a few threads, so that a slow DNS answer costs a pool thread, not the
// connection's deadline: the connection waits at most resolve_timeout_ms and walks away; the job
// finishes (and counts against max_resolutions) until getaddrinfo returns.
class Resolver {
 public:
  struct Job {
    std::string host;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int rc = 0;
    std::vector<sockaddr_storage> addresses;
  };

  explicit Resolver(size_t max_in_flight) : max_(max_in_flight) {
    try {
      for (size_t i = 0; i < std::min(kResolverThreads, max_in_flight); ++i) threads_.emplace_back([this] { run(); });
    } catch (...) {
      stop();
      throw;
    }
  }
  ~Resolver() { stop(); }

  void stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();  // at worst after the resolver library's own timeout
    threads_.clear();
  }

  std::shared_ptr<Job> submit(std::string host) {
    std::lock_guard lock(mu_);
    if (in_flight_ >= max_) return nullptr;
    auto job = std::make_shared<Job>();
    job->host = std::move(host);
    queue_.push_back(job);
    ++in_flight_;
    cv_.notify_one();
    return job;
  }

 private:
  void run() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      int rc = ::getaddrinfo(job->host.c_str(), nullptr, &hints, &res);
      std::vector<sockaddr_storage> addresses;
      for (addrinfo* a = res; rc == 0 && a != nullptr && addresses.size() < kMaxAddresses; a = a->ai_next) {
        if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) || a->ai_addrlen > sizeof(sockaddr_storage)) continue;
        sockaddr_storage s{};
        std::memcpy(&s, a->ai_addr, a->ai_addrlen);
        addresses.push_back(s);
      }
      if (res) ::freeaddrinfo(res);
      {
        std::lock_guard lock(job->mu);
        job->rc = rc;
        job->addresses = std::move(addresses);
        job->done = true;
      }
      job->cv.notify_all();
      std::lock_guard lock(mu_);
      --in_flight_;
    }
  }

  size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  size_t in_flight_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// An answer the connection gives up with; status 0 means it goes on.
struct Refusal {
  int status = 0;
  std::string reason;
};

}  // namespace

struct Proxy::Impl {
  Options opt;
  int listen_fd = -1;
  int stop_fd = -1;
  dev_t socket_dev = 0;
  ino_t socket_ino = 0;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> active{0};
  std::thread acceptor;
  struct Connection {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Connection> connections;  // the acceptor's alone until it is joined
  std::unique_ptr<Resolver> resolver;
  mutable std::mutex events_mu;
  std::deque<Event> events;

  void record(const std::string& host, uint16_t port, bool allowed, std::string reason) {
    if (!allowed) record_violation(ViolationKind::Network, host + ":" + std::to_string(port), reason, "proxy");
    std::lock_guard lock(events_mu);
    if (events.size() == kMaxEvents) events.pop_front();
    events.push_back({host, port, allowed, std::move(reason)});
  }

  void accept_loop();
  void serve(int fd);
  Refusal resolve(const RequestHead& h, std::vector<sockaddr_storage>& addresses);
  Refusal connect_to(const RequestHead& h, const std::vector<sockaddr_storage>& addresses, int& origin);
  void relay(int client, int origin, std::string_view pending, uint64_t client_budget, bool sniff, const RequestHead& h);
};

void Proxy::Impl::accept_loop() {
  while (!stopping.load()) {
    for (auto it = connections.begin(); it != connections.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
    pollfd p[2] = {{listen_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    int r = ::poll(p, 2, 1000);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || p[1].revents) break;
    if (!(p[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) ::poll(nullptr, 0, 50);  // let some close
      continue;
    }
    if (active.load() >= opt.max_connections) {
      write_all(fd, error_response(503, "the proxy serves " + std::to_string(opt.max_connections) + " connections at most"),
                stop_fd, after_ms(100));
      ::close(fd);
      continue;
    }
    ++active;
    auto done = std::make_shared<std::atomic<bool>>(false);
    try {
      connections.push_back({std::thread([this, fd, done] {
                               serve(fd);
                               ::close(fd);
                               --active;
                               done->store(true);
                             }),
                             done});
    } catch (const std::system_error&) {  // no thread to be had: refuse this one, keep serving
      ::close(fd);
      --active;
    }
  }
}

void Proxy::Impl::serve(int client) {
  // 1. The head, whole, within header_timeout_ms and max_header_bytes.
  std::string buf;
  buf.reserve(std::min<size_t>(opt.max_header_bytes + 1, 16 * 1024));
  auto deadline = after_ms(opt.header_timeout_ms);
  size_t head_end = std::string::npos;
  char chunk[16 * 1024];
  auto refuse = [&](int status, std::string_view reason) {
    if (write_all(client, error_response(status, reason), stop_fd, after_ms(std::min<uint64_t>(opt.idle_timeout_ms, 5000))))
      linger_close(client, stop_fd);
  };
  while (head_end == std::string::npos) {
    if (buf.size() > opt.max_header_bytes)
      return refuse(431, "the request head passed " + std::to_string(opt.max_header_bytes) + " bytes");
    int w = wait_for(client, POLLIN, stop_fd, deadline);
    if (w < 0) return;
    if (w == 0) return refuse(408, "the request head did not arrive within " + std::to_string(opt.header_timeout_ms) + " ms");
    ssize_t n = ::recv(client, chunk, std::min(sizeof chunk, opt.max_header_bytes + 1 - buf.size()), 0);
    if (n == 0) return;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return;
    }
    size_t from = buf.size() >= 3 ? buf.size() - 3 : 0;
    buf.append(chunk, size_t(n));
    size_t e = find_head_end(std::string_view(buf).substr(from));
    if (e != std::string::npos) head_end = from + e;
  }
  if (head_end > opt.max_header_bytes)
    return refuse(431, "the request head passed " + std::to_string(opt.max_header_bytes) + " bytes");

  // 2. What it asks for, and whether the policy allows it.
  RequestHead h;
  ParseOutcome parsed = parse_request_head(std::string_view(buf).substr(0, head_end), h);
  if (parsed.status != 0) return refuse(parsed.status, parsed.reason);
  Decision d;
  try {
    d = opt.decide(h.host, h.port, h.connect);
  } catch (const std::exception& e) {
    d = {false, std::string("the policy check failed: ") + e.what()};
  }
  if (!d.allowed) {
    if (d.reason.empty()) d.reason = "refused by the policy";
    record(h.host, h.port, false, d.reason);
    return refuse(403, d.reason);
  }

  // 3. Its addresses, every one checked; then one of exactly those connected.
  std::vector<sockaddr_storage> addresses;
  if (Refusal r = resolve(h, addresses); r.status != 0) return refuse(r.status, r.reason);
  for (const sockaddr_storage& a : addresses) {
    const sockaddr* sa = reinterpret_cast<const sockaddr*>(&a);
    std::string why;
    if (is_metadata_address(sa))
      why = h.host + " resolves to " + address_text(a) + ", a cloud metadata endpoint";
    else if (std::string range = reserved_range(sa); !range.empty() && !opt.allow_private &&
                                                                 !(opt.allow_loopback && is_loopback_address(sa)))
      why = h.host + " resolves to " + address_text(a) + ", in " + range;
    if (!why.empty()) {
      record(h.host, h.port, false, why);
      return refuse(403, why);
    }
  }
  record(h.host, h.port, true, d.reason.empty() ? "allowed" : d.reason);
  int origin = -1;
  if (Refusal r = connect_to(h, addresses, origin); r.status != 0) return refuse(r.status, r.reason);

  // 4. The tunnel, or the one forwarded request and its response.
  std::string_view leftover = std::string_view(buf).substr(head_end);
  auto io_deadline = [&] { return after_ms(opt.idle_timeout_ms); };
  if (h.connect) {
    if (write_all(client, "HTTP/1.1 200 Connection established\r\n\r\n", stop_fd, io_deadline()))
      relay(client, origin, leftover, UINT64_MAX, true, h);
  } else {
    leftover = leftover.substr(0, std::min<uint64_t>(leftover.size(), h.content_length));
    if (write_all(origin, forward_head(h), stop_fd, io_deadline()))
      relay(client, origin, leftover, h.content_length - leftover.size(), false, h);
  }
  ::close(origin);
}

Refusal Proxy::Impl::resolve(const RequestHead& h, std::vector<sockaddr_storage>& addresses) {
  if (h.host_is_ip) {
    sockaddr_storage s{};
    if (inet_pton(AF_INET, h.host.c_str(), &reinterpret_cast<sockaddr_in&>(s).sin_addr) == 1)
      s.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, h.host.c_str(), &reinterpret_cast<sockaddr_in6&>(s).sin6_addr) == 1)
      s.ss_family = AF_INET6;
    else
      return {400, "malformed IP address " + h.host};  // parse_authority made it canonical: not reached
    addresses.push_back(s);
    return {};
  }
  auto job = resolver->submit(h.host);
  if (!job) return {503, "too many names being resolved at once; try again"};
  auto deadline = after_ms(opt.resolve_timeout_ms);
  std::unique_lock lock(job->mu);
  while (!job->done) {
    if (stopping.load()) return {503, "the proxy is stopping"};
    if (Clock::now() >= deadline)
      return {504, "resolving " + h.host + " took longer than " + std::to_string(opt.resolve_timeout_ms) + " ms"};
    job->cv.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(100)));
  }
  if (job->rc != 0) return {502, "cannot resolve " + h.host + ": " + gai_strerror(job->rc)};
  if (job->addresses.empty()) return {502, "cannot resolve " + h.host + ": no IPv4 or IPv6 address"};
  addresses = job->addresses;
  return {};
}

Refusal Proxy::Impl::connect_to(const RequestHead& h, const std::vector<sockaddr_storage>& addresses, int& origin) {
  std::string last = "no address";
  auto deadline = after_ms(opt.connect_timeout_ms);
  for (sockaddr_storage a : addresses) {
    socklen_t len = a.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (a.ss_family == AF_INET) reinterpret_cast<sockaddr_in&>(a).sin_port = htons(h.port);
    else reinterpret_cast<sockaddr_in6&>(a).sin6_port = htons(h.port);
    int fd = ::socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last = address_text(a) + ": " + errno_text(errno);
      continue;
    }
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), len);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      int w = wait_for(fd, POLLOUT, stop_fd, deadline);
      socklen_t el = sizeof err;
      if (w == 1) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
      else err = w == 0 ? ETIMEDOUT : ECANCELED;
    }
    if (err == 0) {
      origin = fd;
      return {};
    }
    ::close(fd);
    last = address_text(a) + ": " + errno_text(err);
    if (err == ECANCELED || Clock::now() >= deadline) break;
  }
  return {502, "cannot connect to " + h.host + ":" + std::to_string(h.port) + " (" + last + ")"};
}

// Both directions until both ended, either failed, nothing moved for idle_timeout_ms, or the proxy
// stops. A forward reads at most `client_budget` more bytes from the client (the request's body)
// and ends when the origin's response ends. In a tunnel (`sniff`) the client's first bytes are held
// back until sniff_tunnel rules out a request meant for a proxy.
void Proxy::Impl::relay(int client, int origin, std::string_view pending, uint64_t client_budget, bool sniff, const RequestHead& h) {
  struct Pipe {
    std::vector<char> buf;
    size_t len = 0, off = 0;
    bool eof = false, shut = false;
  };
  Pipe up, down;  // up: client to origin; down: origin to client
  up.buf.resize(std::max(kRelayBuffer, pending.size()));
  down.buf.resize(kRelayBuffer);
  std::memcpy(up.buf.data(), pending.data(), pending.size());
  up.len = pending.size();
  bool sent_down = false;
  auto idle = after_ms(opt.idle_timeout_ms);

  auto check_sniff = [&]() -> bool {  // false: refused
    if (!sniff) return true;
    std::string target;
    Sniff s = sniff_tunnel(std::string_view(up.buf.data(), up.len), &target);
    if (s == Sniff::NeedMore && !up.eof) return true;
    sniff = false;
    if (s != Sniff::ProxyRequest) return true;
    std::string why = "a request for another proxy inside the tunnel to " + h.host + ":" + std::to_string(h.port) +
                      " (target " + target + "): relayed proxying is refused";
    record(h.host, h.port, false, why);
    if (!sent_down) write_all(client, error_response(403, why), stop_fd, after_ms(1000));
    return false;
  };
  if (!check_sniff()) return;

  for (;;) {
    bool up_ready = !up.eof && client_budget > 0 && up.len < up.buf.size();
    bool down_ready = !down.eof && down.len < down.buf.size();
    // The client is always watched (a hangup there means it is gone both ways); the origin only
    // for what we wait on, so that its hangup does not spin the loop while the client is slow.
    short origin_events = short((down_ready ? POLLIN : 0) | (!sniff && up.off < up.len ? POLLOUT : 0));
    pollfd p[3] = {{client, short((up_ready ? POLLIN : 0) | (down.off < down.len ? POLLOUT : 0)), 0},
                   {origin_events ? origin : -1, origin_events, 0},
                   {stop_fd, POLLIN, 0}};
    int r = ::poll(p, 3, ms_until(idle));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || p[2].revents) return;  // idle too long, or stopping
    if ((p[0].revents | p[1].revents) & POLLERR) return;
    bool moved = false;
    if (p[0].revents & (POLLIN | POLLHUP) && up_ready) {
      ssize_t n = ::recv(client, up.buf.data() + up.len, std::min<uint64_t>(up.buf.size() - up.len, client_budget), 0);
      if (n < 0 && errno != EINTR && errno != EAGAIN) return;
      if (n == 0) up.eof = true;
      if (n > 0) up.len += size_t(n), client_budget -= uint64_t(n);
      moved = true;
      if (!check_sniff()) return;
    } else if (p[0].revents & POLLHUP) {
      return;  // the client is gone both ways while we were not reading it
    }
    if (p[1].revents & (POLLIN | POLLHUP) && down_ready) {
      ssize_t n = ::recv(origin, down.buf.data() + down.len, down.buf.size() - down.len, 0);
      if (n < 0 && errno != EINTR && errno != EAGAIN) return;
      if (n == 0) down.eof = true;
      if (n > 0) down.len += size_t(n);
      moved = true;
    }
    for (auto [pipe, to] : {std::pair{&up, origin}, std::pair{&down, client}}) {
      if (pipe == &up && sniff) continue;
      if (pipe->off < pipe->len) {
        ssize_t n = ::send(to, pipe->buf.data() + pipe->off, pipe->len - pipe->off, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR && errno != EAGAIN) return;
        if (n > 0) pipe->off += size_t(n), moved = true, sent_down |= pipe == &down;
        if (pipe->off == pipe->len) pipe->off = pipe->len = 0;
      }
      if (pipe->eof && pipe->len == 0 && !pipe->shut) {
        ::shutdown(to, SHUT_WR);
        pipe->shut = true;
      }
    }
    if (down.shut && (up.shut || !h.connect)) return;  // a forward ends with its response
    if (moved) idle = after_ms(opt.idle_timeout_ms);
  }
}

Proxy::Proxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Proxy::~Proxy() {
  impl_->stopping.store(true);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(impl_->stop_fd, &one, sizeof one);
  if (impl_->acceptor.joinable()) impl_->acceptor.join();
  for (auto& c : impl_->connections) c.thread.join();
  impl_->resolver.reset();
  ::close(impl_->listen_fd);
  ::close(impl_->stop_fd);
  struct stat st;  // remove the socket file only if it is still the one we bound
  if (::lstat(impl_->opt.socket_path.c_str(), &st) == 0 && st.st_dev == impl_->socket_dev && st.st_ino == impl_->socket_ino)
    ::unlink(impl_->opt.socket_path.c_str());
}

std::vector<Proxy::Event> Proxy::events() const {
  std::lock_guard lock(impl_->events_mu);
  return {impl_->events.begin(), impl_->events.end()};
}

Result<std::unique_ptr<Proxy>> Proxy::start(Options options) {
  if (!options.decide) return Error{"proxy: no decide function"};
  if (options.max_connections == 0 || options.max_resolutions == 0 || options.max_header_bytes < 64 || options.idle_timeout_ms == 0 ||
      options.header_timeout_ms == 0 || options.resolve_timeout_ms == 0 || options.connect_timeout_ms == 0)
    return Error{"proxy: every limit must be positive (and max_header_bytes at least 64)"};
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(options);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  const std::string& path = impl->opt.socket_path;
  if (path.empty() || path.size() >= sizeof sun.sun_path)
    return Error{"proxy: socket path '" + path + "' is empty or longer than " + std::to_string(sizeof sun.sun_path - 1) + " bytes"};
  std::memcpy(sun.sun_path, path.data(), path.size());
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    bool stale = false;
    if (S_ISSOCK(st.st_mode)) {
      int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      stale = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&sun), sizeof sun) < 0 && errno == ECONNREFUSED;
      if (probe >= 0) ::close(probe);
    }
    if (!stale) return Error{"proxy: " + path + " exists (and is not a stale socket)"};
    ::unlink(path.c_str());
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error{"proxy: socket: " + errno_text(errno)};
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) < 0) {
    int e = errno;
    ::close(fd);
    return Error{"proxy: cannot bind " + path + ": " + errno_text(e)};
  }
  // Nobody can connect before listen(), so setting the mode here leaves no window.
  if (::chmod(path.c_str(), impl->opt.socket_mode) < 0 || ::lstat(path.c_str(), &st) < 0 || ::listen(fd, 128) < 0) {
    int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return Error{"proxy: cannot listen on " + path + ": " + errno_text(e)};
  }
  impl->listen_fd = fd;
  impl->socket_dev = st.st_dev;
  impl->socket_ino = st.st_ino;
  impl->stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->stop_fd < 0) {
    int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return Error{"proxy: eventfd: " + errno_text(e)};
  }
  Impl* raw = impl.get();
  try {
    impl->resolver = std::make_unique<Resolver>(impl->opt.max_resolutions);
    impl->acceptor = std::thread([raw] { raw->accept_loop(); });
  } catch (const std::system_error& e) {  // no threads to be had
    impl->resolver.reset();
    ::close(impl->stop_fd);
    ::close(fd);
    ::unlink(path.c_str());
    return Error{std::string("proxy: cannot start its threads: ") + e.what()};
  }
  return std::unique_ptr<Proxy>(new Proxy(std::move(impl)));
}

}  // namespace sandbox
