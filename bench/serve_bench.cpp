// indexer_serve_bench: the service as its clients see it, over loopback. Not a test.
//
//   indexer_serve_bench [--seconds S] [--process-runs N] [--no-peers] [--clangd DIR]... [--pyright DIR] DIR
//
// Starts `indexer serve DIR` (a child process, on a free port) and measures, in one run:
// 1. symbols/search over WebSocket, one client, one request at a time: p50/p99 latency;
// 2. 64 clients at once, each waiting for its answer before the next request: requests per
//    second, p50/p99;
// 3. `indexer query` as a whole process answered by the running server (the server's count of
//    searches must move by one a run, or the bench fails): p50/p90 wall time, and the process's
//    CPU time and page faults (wait4), which other load on the host moves less; beside /bin/true
//    and `indexer --version` run in turn with it (--process-runs N of each, default 200);
// 4. a Unix socket next to TCP loopback: a second server on DIR with --listen unix:PATH, and
//    requests sent in turn to each (one WebSocket client a server; POST /rpc on a new connection
//    each, as `indexer query` sends it): p50/p99 of both, and `indexer query` through the socket;
// 5. workspace/symbol over `indexer lsp DIR` (stdio), one request at a time: p50/p99;
// 6. the LSP peers (lsp_peers.h), each next to `indexer lsp` on the same tree, both cold:
//    clangd on Boost's headers (--clangd DIR, repeatable, sibling directories; by default
//    /usr/include/boost/asio and beast) and pyright on the Python standard library (--pyright
//    DIR; by default Debian's newest /usr/lib/python3.N). pyright is the npm package that
//    bench/run.sh installs under $INDEXER_BENCH_CACHE (~/.cache/indexer/bench). --no-peers
//    leaves this section out; it takes a few minutes, most of them clangd's background index.
// Asio and Beast first: their traits call an unqualified query(), which our namespace would hide.
#include <boost/asio/connect.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "lsp_peers.h"
#include "server/ws_server.h"  // post_rpc: the round trip of `indexer query`
#include "stats.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using stream_protocol = net::generic::stream_protocol;  // TCP or a Unix socket: one client type
using bench::Child;
using bench::Clock;
using bench::ms_since;
using bench::percentile;
using bench::spawn;

const std::vector<std::string> kQueries = {"get", "parse", "Iterator", "gRS", "shared_ptr", "read", "http", "Node",
                                           "os.path", "make_shared", "visit", "handle", "str", "x", "config", "lower_bound"};

std::string request(int id, const std::string& pattern) {
  return "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"method\":\"symbols/search\",\"params\":{\"pattern\":\"" + pattern +
         "\",\"limit\":50}}";
}

// A process's CPU time (user + system), from /proc: what a request costs the server, whatever
// else the machine runs.
double cpu_seconds(pid_t pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return 0;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
  unsigned long utime = 0, stime = 0;
  if (!p || std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) return 0;
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// The server's count of symbols/search requests, from GET /metrics; -1 when it cannot be read.
long long searches_served(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  const std::string get = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::send(fd, get.data(), get.size(), 0) == ssize_t(get.size())) {
    char buf[65536];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) response.append(buf, size_t(n));
  }
  ::close(fd);
  const std::string name = "\nindexer_requests_total{method=\"symbols/search\"} ";
  size_t at = response.find(name);
  return at == std::string::npos ? -1 : std::atoll(response.c_str() + at + name.size());
}

std::string read_line(int fd) {
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

struct Client {
  net::io_context ioc;
  websocket::stream<stream_protocol::socket> ws{ioc};
  beast::flat_buffer buffer;

  explicit Client(uint16_t port) : Client(tcp::endpoint(net::ip::make_address("127.0.0.1"), port)) {}
  explicit Client(const std::string& socket_path) : Client(net::local::stream_protocol::endpoint(socket_path)) {}
  explicit Client(const stream_protocol::endpoint& to) {
    ws.next_layer().connect(to);
    if (to.protocol().family() != AF_UNIX) ws.next_layer().set_option(tcp::no_delay(true));
    ws.handshake("localhost", "/");
    ws.text(true);
  }
  // One request and its answer; the answer's size.
  size_t call(const std::string& message) {
    ws.write(net::buffer(message));
    buffer.clear();
    return ws.read(buffer);
  }
};

// Many WebSocket connections driven by one thread with epoll, framing by hand (RFC 6455): the
// load generator for the throughput test. A thread per blocking client spends more CPU on
// waking 64 threads than the server spends answering, on the same two cores.
class LoadThread {
 public:
  LoadThread(uint16_t port, int connections, int offset) : offset_(offset) {
    epoll_ = epoll_create1(0);
    for (int i = 0; i < connections; ++i) conns_.push_back(connect_one(port));
  }
  ~LoadThread() {
    for (auto& c : conns_) ::close(c.fd);
    ::close(epoll_);
  }
  // Until `stop`: each connection sends a request, waits for its whole answer, sends the next.
  void run(const std::atomic<bool>& stop) {
    for (size_t i = 0; i < conns_.size(); ++i) send_next(conns_[i], int(i));
    epoll_event events[64];
    while (!stop) {
      int n = epoll_wait(epoll_, events, 64, 100);
      for (int e = 0; e < n; ++e) {
        Conn& c = conns_[events[e].data.u32];
        char chunk[65536];
        for (;;) {
          ssize_t got = ::recv(c.fd, chunk, sizeof chunk, 0);
          if (got <= 0) break;
          c.in.append(chunk, size_t(got));
        }
        while (take_message(c)) {
          ms_.push_back(ms_since(c.sent));
          send_next(c, int(events[e].data.u32));
        }
      }
    }
  }
  const std::vector<double>& latencies() const { return ms_; }

 private:
  struct Conn {
    int fd = -1;
    std::string in;
    Clock::time_point sent;
    int id = 0;
  };

  Conn connect_one(uint16_t port) {
    Conn c;
    c.fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::exit(1);
    std::string upgrade = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    if (::send(c.fd, upgrade.data(), upgrade.size(), 0) != ssize_t(upgrade.size())) std::exit(1);
    std::string head;
    char ch;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(c.fd, &ch, 1, 0) == 1) head += ch;
    if (head.find(" 101 ") == std::string::npos) {
      std::fprintf(stderr, "the WebSocket upgrade failed: %s\n", head.c_str());
      std::exit(1);
    }
    ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = uint32_t(conns_.size());
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
    return c;
  }

  // A client's text frame: masked, as RFC 6455 requires of clients.
  void send_next(Conn& c, int n) {
    const int id = ++c.id;
    std::string body = request(id, kQueries[size_t(id + n + offset_) % kQueries.size()]);
    std::string frame;
    frame.push_back(char(0x81));
    if (body.size() < 126) {
      frame.push_back(char(0x80 | body.size()));
    } else {
      frame.push_back(char(0x80 | 126));
      frame.push_back(char(body.size() >> 8));
      frame.push_back(char(body.size() & 0xff));
    }
    uint32_t key = uint32_t(rng_());
    char mask[4];
    std::memcpy(mask, &key, 4);
    frame.append(mask, 4);
    for (size_t i = 0; i < body.size(); ++i) frame.push_back(char(body[i] ^ mask[i % 4]));
    c.sent = Clock::now();
    if (::send(c.fd, frame.data(), frame.size(), 0) != ssize_t(frame.size())) std::exit(1);
  }

  // Drops one whole message (its frames through the one with FIN) from the front of c.in, if
  // all of it is there.
  static bool take_message(Conn& c) {
    size_t at = 0;
    for (;;) {
      if (c.in.size() < at + 2) return false;
      const auto* b = reinterpret_cast<const unsigned char*>(c.in.data() + at);
      bool fin = b[0] & 0x80;
      uint64_t len = b[1] & 0x7f;
      size_t header = 2;
      if (len == 126) {
        if (c.in.size() < at + 4) return false;
        len = uint64_t(b[2]) << 8 | b[3];
        header = 4;
      } else if (len == 127) {
        if (c.in.size() < at + 10) return false;
        len = 0;
        for (int i = 0; i < 8; ++i) len = len << 8 | b[2 + i];
        header = 10;
      }
      if (c.in.size() < at + header + len) return false;
      at += header + size_t(len);
      if (fin) {
        c.in.erase(0, at);
        return true;
      }
    }
  }

  int epoll_ = -1;
  int offset_;
  std::vector<Conn> conns_;
  std::vector<double> ms_;
  std::mt19937 rng_{12345};
};

// A whole process, started and waited for: its wall time in ms.
double run(const std::vector<std::string>& args) {
  auto t = Clock::now();
  Child q = spawn(args);
  char sink[65536];
  while (::read(q.out, sink, sizeof sink) > 0) {}
  int status = 0;
  waitpid(q.pid, &status, 0);
  ::close(q.out);
  return ms_since(t);
}

// Debian's newest standard library (/usr/lib/python3.N), not a python in PATH that may carry
// hundreds of MB of site-packages; "" when there is none.
std::string debian_stdlib() {
  std::string best;
  int best_minor = -1;
  std::error_code ec;
  static const std::regex name(R"(python3\.(\d+))");
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib", ec)) {
    std::smatch m;
    std::string file = e.path().filename().string();
    if (e.is_directory() && std::regex_match(file, m, name) && std::stoi(m[1]) > best_minor) {
      best_minor = std::stoi(m[1]);
      best = e.path().string();
    }
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int process_runs = 200;
  std::string dir;
  bool peers = true;
  std::vector<std::string> boost_dirs;
  std::string python_dir = debian_stdlib();
  bool usage = false;
  for (int i = 1; i < argc && !usage; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--process-runs" && i + 1 < argc) process_runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--no-peers") peers = false;
    else if (a == "--clangd" && i + 1 < argc) boost_dirs.push_back(argv[++i]);
    else if (a == "--pyright" && i + 1 < argc) python_dir = argv[++i];
    else if (a.starts_with("-") || !dir.empty()) usage = true;
    else dir = a;
  }
  if (usage || dir.empty()) {
    std::fprintf(stderr, "usage: indexer_serve_bench [--seconds S] [--process-runs N] [--no-peers] [--clangd DIR]... [--pyright DIR] DIR\n");
    return 2;
  }
  if (boost_dirs.empty()) boost_dirs = {"/usr/include/boost/asio", "/usr/include/boost/beast"};
  std::string self = argv[0];
  std::string binary = self.substr(0, self.rfind('/') + 1) + "indexer";
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, nullptr, _IOLBF, 0);  // a long run, often piped to tee: each line as it comes

  auto t_start = Clock::now();
  Child server = spawn({binary, "serve", dir, "--listen", "127.0.0.1:0"});
  std::string listening = read_line(server.out);
  size_t at = listening.find("127.0.0.1:");
  if (at == std::string::npos) {
    std::fprintf(stderr, "the server did not start: %s\n", listening.c_str());
    return 1;
  }
  uint16_t port = uint16_t(std::atoi(listening.c_str() + at + 10));
  std::string ready = read_line(server.out);
  std::printf("server: %s (%.1f s to ready, snapshot included)\n\n", ready.c_str(), ms_since(t_start) / 1e3);

  std::printf("%-46s %10s %10s %12s\n", "symbols/search, top 50", "p50 ms", "p99 ms", "requests/s");
  {
    Client c(port);
    std::vector<double> ms;
    int id = 0;
    for (int warm = 0; warm < 50; ++warm) c.call(request(++id, kQueries[size_t(warm) % kQueries.size()]));
    auto t0 = Clock::now();
    while (ms_since(t0) < seconds * 1000) {
      auto t = Clock::now();
      ++id;
      c.call(request(id, kQueries[size_t(id) % kQueries.size()]));
      ms.push_back(ms_since(t));
    }
    std::printf("%-46s %10.3f %10.3f %12.0f\n", "WebSocket, 1 client", percentile(ms, 0.5), percentile(ms, 0.99),
                double(ms.size()) / (ms_since(t0) / 1e3));
  }
  {
    constexpr int kClients = 64, kLoadThreads = 2;
    std::vector<std::unique_ptr<LoadThread>> load;
    for (int t = 0; t < kLoadThreads; ++t) load.push_back(std::make_unique<LoadThread>(port, kClients / kLoadThreads, t));
    std::atomic<bool> stop{false};
    auto t0 = Clock::now();
    const double server_cpu0 = cpu_seconds(server.pid), clients_cpu0 = cpu_seconds(getpid());
    std::vector<std::thread> threads;
    for (auto& l : load) threads.emplace_back([&l, &stop] { l->run(stop); });
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : threads) t.join();
    double elapsed = ms_since(t0) / 1e3;
    const double server_cpu = cpu_seconds(server.pid) - server_cpu0, clients_cpu = cpu_seconds(getpid()) - clients_cpu0;
    std::vector<std::vector<double>> per;
    for (auto& l : load) per.push_back(l->latencies());
    std::vector<double> all;
    for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
    std::printf("%-46s %10.3f %10.3f %12.0f\n", "WebSocket, 64 clients (one request each in flight)", percentile(all, 0.5),
                percentile(all, 0.99), double(all.size()) / elapsed);
    std::printf("  CPU a request: server %.1f us, the 64 clients %.1f us (both on these cores)\n", 1e6 * server_cpu / double(all.size()),
                1e6 * clients_cpu / double(all.size()));
  }
  {
    // A whole process, started and waited for, beside the floor of any process here (/bin/true)
    // and the binary's own start (--version), interleaved so host noise falls on all three alike.
    // Wall time is what a user waits; CPU time and page faults (the child's own, from wait4) are
    // what the process costs, and move less when other work shares the cores.
    struct Runs {
      std::vector<double> wall_ms, cpu_ms, faults;
    };
    auto run = [](const std::vector<std::string>& args, Runs& into) {
      auto t = Clock::now();
      Child q = spawn(args);
      char sink[65536];
      while (::read(q.out, sink, sizeof sink) > 0) {}
      int status = 0;
      rusage ru{};
      wait4(q.pid, &status, 0, &ru);
      into.wall_ms.push_back(ms_since(t));
      ::close(q.out);
      auto ms = [](const timeval& tv) { return double(tv.tv_sec) * 1e3 + double(tv.tv_usec) / 1e3; };
      into.cpu_ms.push_back(ms(ru.ru_utime) + ms(ru.ru_stime));
      into.faults.push_back(double(ru.ru_minflt + ru.ru_majflt));
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    };
    Runs query_runs, true_runs, version_runs;
    const long long served_before = searches_served(port);
    int failed = 0;
    for (int i = 0; i < process_runs; ++i)
      for (int k = 0; k < 3; ++k)  // each first in turn: whatever follows a query (the server's wakeup) falls on all alike
        switch ((i + k) % 3) {
          case 0: run({"/bin/true"}, true_runs); break;
          case 1: run({binary, "--version"}, version_runs); break;
          default: failed += run({binary, "query", kQueries[size_t(i) % kQueries.size()], dir, "--limit", "20"}, query_runs) > 1;
        }
    const long long served = searches_served(port) - served_before;
    std::printf("\n%-46s %10s %10s %12s %8s\n", ("a whole process, " + std::to_string(process_runs) + " runs each").c_str(), "p50 ms", "p90 ms",
                "CPU ms p50", "faults");
    auto row = [](const std::string& what, const Runs& r) {
      std::printf("%-46s %10.3f %10.3f %12.3f %8.0f\n", what.c_str(), percentile(r.wall_ms, 0.5), percentile(r.wall_ms, 0.9),
                  percentile(r.cpu_ms, 0.5), percentile(r.faults, 0.5));
    };
    row("indexer query, answered by the server", query_runs);
    row("  beside it: indexer --version", version_runs);
    row("  beside it: /bin/true", true_runs);
    std::printf("  indexer query over /bin/true, p50: +%.3f ms wall, +%.3f ms CPU (target: 5 ms in all, within 3 ms of /bin/true)\n",
                percentile(query_runs.wall_ms, 0.5) - percentile(true_runs.wall_ms, 0.5),
                percentile(query_runs.cpu_ms, 0.5) - percentile(true_runs.cpu_ms, 0.5));
    std::printf("  the server answered %lld of the %d queries\n", served, process_runs);
    if (served != process_runs || failed) {
      std::fprintf(stderr, "indexer query was not answered by the server every time (%lld of %d; %d failed)\n", served, process_runs, failed);
      return 1;
    }
  }
  {
    // A second server on the tree, on a Unix socket, beside the first on TCP: each request goes
    // to one and then the other, so host noise falls on both alike. It names itself in
    // server.json once started, so `indexer query` goes to it.
    char tmp[] = "/tmp/indexer-bench-XXXXXX";
    std::string socket_path = std::string(::mkdtemp(tmp) ? tmp : "/tmp") + "/indexer.sock";
    Child local = spawn({binary, "serve", dir, "--listen", "unix:" + socket_path});
    std::string line = read_line(local.out);
    read_line(local.out);  // ready
    auto found = server::discover(std::filesystem::absolute(dir).lexically_normal());
    if (!line.starts_with("listening on unix:") || !found || found->socket_path != socket_path) {
      std::fprintf(stderr, "the server on a Unix socket did not start, or server.json does not name it: %s\n", line.c_str());
      return 1;
    }
    // Once it is quiet: a server just ready still checks the tree against its snapshot.
    for (auto t0 = Clock::now(); ms_since(t0) < 30'000;) {
      double cpu = cpu_seconds(local.pid);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (cpu_seconds(local.pid) - cpu < 0.01) break;
    }
    Client over_tcp(port), over_unix(socket_path);
    std::vector<double> tcp_ms, unix_ms, tcp_post_ms, unix_post_ms;
    int id = 0;
    auto timed = [](auto&& f) {
      auto t = Clock::now();
      f();
      return ms_since(t);
    };
    for (int warm = 0; warm < 50; ++warm) {
      over_tcp.call(request(++id, kQueries[size_t(warm) % kQueries.size()]));
      over_unix.call(request(++id, kQueries[size_t(warm) % kQueries.size()]));
    }
    for (auto t0 = Clock::now(); ms_since(t0) < seconds * 1000;) {
      ++id;
      std::string r = request(id, kQueries[size_t(id) % kQueries.size()]);
      // In turns, each first every other time: neither always follows the other's wake-up.
      if (id % 2) tcp_ms.push_back(timed([&] { over_tcp.call(r); }));
      unix_ms.push_back(timed([&] { over_unix.call(r); }));
      if (id % 2 == 0) tcp_ms.push_back(timed([&] { over_tcp.call(r); }));
    }
    server::Discovered tcp_server;
    tcp_server.address = "127.0.0.1", tcp_server.port = port;
    for (auto t0 = Clock::now(); ms_since(t0) < seconds * 1000;) {
      ++id;
      std::string r = request(id, kQueries[size_t(id) % kQueries.size()]);
      auto post = [&](const server::Discovered& to, std::vector<double>& ms) {
        ms.push_back(timed([&] {
          if (!server::post_rpc(to, r)) std::exit(1);
        }));
      };
      if (id % 2) post(tcp_server, tcp_post_ms);
      post(*found, unix_post_ms);
      if (id % 2 == 0) post(tcp_server, tcp_post_ms);
    }
    std::vector<double> query_ms, true_ms;
    for (int i = 0; i < 60; ++i) {
      true_ms.push_back(run({"/bin/true"}));
      query_ms.push_back(run({binary, "query", kQueries[size_t(i) % kQueries.size()], dir, "--limit", "20"}));
    }
    auto row = [](const char* name, const std::vector<double>& ms) {
      std::printf("%-46s %10.3f %10.3f %12s\n", name, percentile(ms, 0.5), percentile(ms, 0.99), "");
    };
    std::printf("\nUnix socket beside TCP loopback (a server on each, requests in turn)\n");
    row("WebSocket, 1 client: TCP loopback", tcp_ms);
    row("WebSocket, 1 client: Unix socket", unix_ms);
    row("POST /rpc, a connection each: TCP loopback", tcp_post_ms);
    row("POST /rpc, a connection each: Unix socket", unix_post_ms);
    row("indexer query, a whole process: Unix socket", query_ms);
    row("  beside it: /bin/true", true_ms);
    kill(local.pid, SIGTERM);
    waitpid(local.pid, nullptr, 0);
    ::rmdir(socket_path.substr(0, socket_path.rfind('/')).c_str());
  }
  kill(server.pid, SIGTERM);
  waitpid(server.pid, nullptr, 0);

  {
    bench::LspTiming t = bench::time_indexer_lsp(binary, dir, {}, kQueries, seconds);
    std::printf("%-46s %10.3f %10.3f %12.0f\n", "LSP workspace/symbol (top 200, UTF-16 ranges)", percentile(t.ms, 0.5),
                percentile(t.ms, 0.99), double(t.ms.size()) / t.elapsed_s);
  }
  if (peers) {
    bench::LspPeerOptions o;
    o.indexer = binary;
    o.queries = kQueries;
    o.seconds = seconds;
    o.boost_dirs = boost_dirs;
    o.python_dir = python_dir;
    const char* cache = std::getenv("INDEXER_BENCH_CACHE");
    const char* home = std::getenv("HOME");
    std::string root = cache ? cache : std::string(home ? home : "") + "/.cache/indexer/bench";
    o.pyright = root + "/node_modules/pyright/langserver.index.js";
    std::printf("\n");
    bench::print_lsp_peers(o);
  }
  return 0;
}
