// indexer_serve_bench: the service as its clients see it, over loopback. Not a test.
//
//   indexer_serve_bench [--seconds S] [--no-peers] [--clangd DIR]... [--pyright DIR] DIR
//
// Starts `indexer serve DIR` (a child process, on a free port) and measures, in one run:
// 1. symbols/search over WebSocket, one client, one request at a time: p50/p99 latency;
// 2. 64 clients at once, each waiting for its answer before the next request: requests per
//    second, p50/p99;
// 3. `indexer query` as a whole process answered by the running server: p50/p99 wall time;
// 4. workspace/symbol over `indexer lsp DIR` (stdio), one request at a time: p50/p99;
// 5. the LSP peers (lsp_peers.h), each next to `indexer lsp` on the same tree, both cold:
//    clangd on Boost's headers (--clangd DIR, repeatable, sibling directories; by default
//    /usr/include/boost/asio and beast) and pyright on the Python standard library (--pyright
//    DIR; by default Debian's newest /usr/lib/python3.N). pyright is the npm package that
//    bench/run.sh installs under $INDEXER_BENCH_CACHE (~/.cache/indexer/bench). --no-peers
//    leaves this section out; it takes a few minutes, most of them clangd's background index.
// Asio and Beast first: their traits call an unqualified query(), which our namespace would hide.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "lsp_peers.h"
#include "stats.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
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
  std::string dir;
  bool peers = true;
  std::vector<std::string> boost_dirs;
  std::string python_dir = debian_stdlib();
  bool usage = false;
  for (int i = 1; i < argc && !usage; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--no-peers") peers = false;
    else if (a == "--clangd" && i + 1 < argc) boost_dirs.push_back(argv[++i]);
    else if (a == "--pyright" && i + 1 < argc) python_dir = argv[++i];
    else if (a.starts_with("-") || !dir.empty()) usage = true;
    else dir = a;
  }
  if (usage || dir.empty()) {
    std::fprintf(stderr, "usage: indexer_serve_bench [--seconds S] [--no-peers] [--clangd DIR]... [--pyright DIR] DIR\n");
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
