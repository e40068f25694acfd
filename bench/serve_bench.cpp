// indexer_serve_bench: the service as its clients see it, over loopback. Not a test.
//
//   indexer_serve_bench [--seconds S] DIR
//
// Starts `indexer serve DIR` (a child process, on a free port) and measures, in one run:
// 1. symbols/search over WebSocket, one client, one request at a time: p50/p99 latency;
// 2. 64 clients at once, each waiting for its answer before the next request: requests per
//    second, p50/p99;
// 3. `indexer query` as a whole process answered by the running server: p50/p99 wall time;
// 4. workspace/symbol over `indexer lsp` (stdio), one request at a time: p50/p99.
// Asio and Beast first: their traits call an unqualified query(), which our namespace would hide.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kQueries = {"get", "parse", "Iterator", "gRS", "shared_ptr", "read", "http", "Node",
                                           "os.path", "make_shared", "visit", "handle", "str", "x", "config", "lower_bound"};

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5))];
}

std::string request(int id, const std::string& pattern) {
  return "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"method\":\"symbols/search\",\"params\":{\"pattern\":\"" + pattern +
         "\",\"limit\":50}}";
}

struct Child {
  pid_t pid = -1;
  int out = -1;  // its stdout
};

Child spawn(const std::vector<std::string>& args, bool pipe_stdin = false, int* in_fd = nullptr) {
  int out[2], in[2];
  if (::pipe(out) != 0 || (pipe_stdin && ::pipe(in) != 0)) std::exit(1);
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    dup2(out[1], 1);
    if (pipe_stdin) dup2(in[0], 0);
    int null = ::open("/dev/null", O_WRONLY);
    dup2(null, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(out[1]);
  if (pipe_stdin) {
    ::close(in[0]);
    *in_fd = in[1];
  }
  c.out = out[0];
  return c;
}

std::string read_line(int fd) {
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

struct Client {
  net::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
  beast::flat_buffer buffer;

  explicit Client(uint16_t port) {
    ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    ws.next_layer().set_option(tcp::no_delay(true));
    ws.handshake("127.0.0.1", "/");
    ws.text(true);
  }
  // One request and its answer; the answer's size.
  size_t call(const std::string& message) {
    ws.write(net::buffer(message));
    buffer.clear();
    return ws.read(buffer);
  }
};

// LSP over a pipe: Content-Length framing, by hand.
struct Lsp {
  Child child;
  int in = -1;
  std::string buf;

  explicit Lsp(const std::string& binary, const std::string& dir) { child = spawn({binary, "lsp", dir}, true, &in); }
  void send(const std::string& body) {
    std::string m = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (::write(in, m.data(), m.size()) < 0) std::exit(1);
  }
  std::string receive() {
    for (;;) {
      size_t end = buf.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t len = std::strtoull(buf.c_str() + buf.find(':') + 1, nullptr, 10);
        if (buf.size() >= end + 4 + len) {
          std::string body = buf.substr(end + 4, len);
          buf.erase(0, end + 4 + len);
          return body;
        }
      }
      char chunk[65536];
      ssize_t n = ::read(child.out, chunk, sizeof chunk);
      if (n <= 0) std::exit(1);
      buf.append(chunk, size_t(n));
    }
  }
  // The answer to request `id` (skipping notifications and server requests).
  std::string call(int id, const std::string& body) {
    send(body);
    std::string tag = "\"id\":" + std::to_string(id);
    for (;;) {
      std::string r = receive();
      if (r.find(tag) != std::string::npos && r.find("\"method\"") == std::string::npos) return r;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else dir = a;
  }
  if (dir.empty()) {
    std::fprintf(stderr, "usage: indexer_serve_bench [--seconds S] DIR\n");
    return 2;
  }
  std::string self = argv[0];
  std::string binary = self.substr(0, self.rfind('/') + 1) + "indexer";
  signal(SIGPIPE, SIG_IGN);

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
    constexpr int kClients = 64;
    std::vector<std::vector<double>> per(kClients);
    std::atomic<bool> go{false}, stop{false};
    std::vector<std::thread> threads;
    std::atomic<int> connected{0};
    for (int n = 0; n < kClients; ++n)
      threads.emplace_back([&, n] {
        Client c(port);
        ++connected;
        while (!go) std::this_thread::yield();
        int id = 0;
        while (!stop) {
          auto t = Clock::now();
          ++id;
          c.call(request(id, kQueries[size_t(id + n) % kQueries.size()]));
          per[size_t(n)].push_back(ms_since(t));
        }
      });
    while (connected < kClients) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto t0 = Clock::now();
    go = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    double elapsed = ms_since(t0) / 1e3;
    for (auto& t : threads) t.join();
    std::vector<double> all;
    for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
    std::printf("%-46s %10.3f %10.3f %12.0f\n", "WebSocket, 64 clients (one request each in flight)", percentile(all, 0.5),
                percentile(all, 0.99), double(all.size()) / elapsed);
  }
  {
    std::vector<double> ms;
    for (int i = 0; i < 60; ++i) {
      auto t = Clock::now();
      Child q = spawn({binary, "query", kQueries[size_t(i) % kQueries.size()], dir, "--limit", "20"});
      char sink[65536];
      while (::read(q.out, sink, sizeof sink) > 0) {}
      int status = 0;
      waitpid(q.pid, &status, 0);
      ::close(q.out);
      ms.push_back(ms_since(t));
    }
    std::printf("%-46s %10.3f %10.3f %12s\n", "indexer query, a whole process via the server", percentile(ms, 0.5),
                percentile(ms, 0.99), "");
  }
  kill(server.pid, SIGTERM);
  waitpid(server.pid, nullptr, 0);

  {
    Lsp lsp(binary, dir);
    lsp.call(1, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"capabilities\":{}}}");
    lsp.send("{\"jsonrpc\":\"2.0\",\"method\":\"initialized\",\"params\":{}}");
    int id = 1;
    // The first request waits for the index; it is not counted.
    ++id;
    lsp.call(id, "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"method\":\"workspace/symbol\",\"params\":{\"query\":\"get\"}}");
    std::vector<double> ms;
    auto t0 = Clock::now();
    while (ms_since(t0) < seconds * 1000) {
      ++id;
      auto t = Clock::now();
      lsp.call(id, "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"method\":\"workspace/symbol\",\"params\":{\"query\":\"" +
                       kQueries[size_t(id) % kQueries.size()] + "\"}}");
      ms.push_back(ms_since(t));
    }
    std::printf("%-46s %10.3f %10.3f %12.0f\n", "LSP workspace/symbol (top 200, UTF-16 ranges)", percentile(ms, 0.5),
                percentile(ms, 0.99), double(ms.size()) / (ms_since(t0) / 1e3));
    ++id;
    lsp.call(id, "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"method\":\"shutdown\"}");
    lsp.send("{\"jsonrpc\":\"2.0\",\"method\":\"exit\"}");
    waitpid(lsp.child.pid, nullptr, 0);
  }
  return 0;
}
