// The sandbox's network proxy through real sockets: a proxy on a temporary Unix socket, an HTTP
// origin on 127.0.0.1 in this process, clients that speak raw bytes, and curl through a TCP relay
// (what the engine's 127.0.0.1:3128 inside the sandbox is).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "helpers.h"
#include "sandbox/proxy.h"
#include "sandbox/proxy_request.h"

namespace {

using namespace std::chrono_literals;
using sandbox::Proxy;
namespace pd = sandbox::proxy_detail;

void set_timeouts(int fd) {
  timeval tv{10, 0};  // only to turn a hang into a failure
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
  return sun;
}

int unix_connect(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sun = unix_address(path);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
  set_timeouts(fd);
  return fd;
}

void send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    s.remove_prefix(size_t(n));
  }
}

std::string read_until_eof(int fd) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, size_t(n));
  }
}

// Reads until the head of a response has arrived (a tunnel's 200 has no body and no close).
std::string read_head(int fd) {
  std::string out;
  char c;
  while (out.find("\r\n\r\n") == std::string::npos && recv(fd, &c, 1, 0) == 1) out += c;
  return out;
}

std::string roundtrip(const std::string& socket, std::string_view request) {
  int fd = unix_connect(socket);
  send_all(fd, request);
  std::string r = read_until_eof(fd);
  close(fd);
  return r;
}

int listen_tcp(uint16_t& port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(fd, 64) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// An HTTP origin on 127.0.0.1: answers each connection's one request with what it received
// (head and Content-Length body) as the body, then closes.
class Origin {
 public:
  Origin() {
    fd_ = listen_tcp(port_);
    thread_ = std::thread([this] { run(); });
  }
  ~Origin() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  std::vector<std::string> received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) != 1) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted_;
      set_timeouts(c);
      std::string got;
      char buf[4096];
      size_t end;
      while ((end = got.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, size_t(n));
      }
      if (end != std::string::npos) {
        size_t length = 0;
        if (size_t cl = got.find("Content-Length: "); cl != std::string::npos) length = std::stoul(got.substr(cl + 16));
        while (got.size() < end + 4 + length) {
          ssize_t n = recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          got.append(buf, size_t(n));
        }
        std::string response = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(got.size()) + "\r\nConnection: close\r\n\r\n" + got;
        send_all(c, response);
      }
      {
        std::lock_guard lock(mu_);
        received_.push_back(got);
      }
      close(c);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<std::string> received_;
  std::thread thread_;
};

// Records what decide was asked; allows everything but hosts ending in "evil.example".
struct Decider {
  std::mutex mu;
  std::vector<std::string> asked;
  Proxy::Decide fn() {
    return [this](std::string_view host, uint16_t port, bool connect) {
      std::lock_guard lock(mu);
      asked.push_back(std::string(host) + ":" + std::to_string(port) + (connect ? " connect" : " forward"));
      if (host.size() >= 12 && host.substr(host.size() - 12) == "evil.example")
        return sandbox::Decision{false, "blocked: " + std::string(host) + " is in blocked_domains"};
      return sandbox::Decision{true, "allowed: in allowed_domains"};
    };
  }
};

// What each case starts from: an origin, a decider, and a proxy on a fresh socket.
struct Setup {
  test::TempDir dir;
  Origin origin;
  Decider decider;
  std::string sock = (dir / "proxy.sock").string();
  std::string port = std::to_string(origin.port());
  std::unique_ptr<Proxy> proxy;

  explicit Setup(bool allow_private, Proxy::Options o = {}) {
    o.socket_path = sock;
    o.decide = decider.fn();
    o.allow_private = allow_private;
    auto p = Proxy::start(std::move(o));
    INFO((p.ok() ? "" : p.error()));
    REQUIRE(p.ok());
    proxy = std::move(p.value());
  }
  std::string connect_origin() const { return "CONNECT 127.0.0.1:" + port + " HTTP/1.1\r\n\r\n"; }
  // A tunnel to the origin, established.
  int open_tunnel() const {
    int fd = unix_connect(sock);
    send_all(fd, connect_origin());
    CHECK(read_head(fd) == "HTTP/1.1 200 Connection established\r\n\r\n");
    return fd;
  }
};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

TEST_CASE("proxy request heads: the host decide sees, and what is refused before resolving", "[sandbox][proxy]") {
  pd::RequestHead h;
  auto parse = [&](std::string_view head) { return pd::parse_request_head(head, h); };

  REQUIRE(parse("CONNECT Example.COM.:443 HTTP/1.1\r\nHost: x\r\n\r\n").status == 0);
  CHECK((h.connect && h.host == "example.com" && h.port == 443 && !h.host_is_ip));
  REQUIRE(parse("GET http://example.com/a/b?c=d#frag HTTP/1.1\r\n\r\n").status == 0);
  CHECK((!h.connect && h.host == "example.com" && h.port == 80 && h.path == "/a/b?c=d"));
  REQUIRE(parse("GET http://example.com?q HTTP/1.0\n\n").status == 0);
  CHECK((h.path == "/?q" && h.version == "HTTP/1.0"));
  // IPv4 as URL parsers and libc read it: judged as the address it is.
  for (const char* spelled : {"0x7f.1", "2130706433", "0177.0.0.1", "127.1", "0x7F000001"}) {
    INFO(spelled);
    REQUIRE(parse("CONNECT " + std::string(spelled) + ":80 HTTP/1.1\r\n\r\n").status == 0);
    CHECK((h.host == "127.0.0.1" && h.host_is_ip));
  }
  REQUIRE(parse("CONNECT [::FFFF:127.0.0.1]:443 HTTP/1.1\r\n\r\n").status == 0);
  CHECK((h.host == "::ffff:127.0.0.1" && h.host_is_ip));
  REQUIRE(parse("GET http://[::1]:8080/ HTTP/1.1\r\n\r\n").status == 0);
  CHECK((h.host == "::1" && h.port == 8080));

  auto refused = [&](std::string_view head) { return parse(head); };
  CHECK(refused("GET /index.html HTTP/1.1\r\n\r\n").reason.find("not a proxy request") != std::string::npos);
  CHECK(refused("CONNECT example.com HTTP/1.1\r\n\r\n").reason.find("host:port") != std::string::npos);
  CHECK(refused("GET http://allowed.com@evil.example/ HTTP/1.1\r\n\r\n").reason.find("user information") != std::string::npos);
  CHECK(refused("GET http://example.com:99999/ HTTP/1.1\r\n\r\n").reason.find("bad port") != std::string::npos);
  CHECK(refused("GET http://example.com:0/ HTTP/1.1\r\n\r\n").status == 400);
  CHECK(refused("GET http://1.2.3.4.5/ HTTP/1.1\r\n\r\n").reason.find("malformed IPv4") != std::string::npos);
  CHECK(refused("GET http://exa mple.com/ HTTP/1.1\r\n\r\n").status == 400);
  CHECK(refused("CONNECT pt..:443 HTTP/1.1\r\n\r\n").reason.find("empty label") != std::string::npos);  // fuzz found
  CHECK(refused("GET http://[fe80::1%25eth0]/ HTTP/1.1\r\n\r\n").reason.find("zone") != std::string::npos);
  CHECK(refused("GET http://::1/ HTTP/1.1\r\n\r\n").reason.find("brackets") != std::string::npos);
  CHECK(refused("GET https://example.com/ HTTP/1.1\r\n\r\n").reason.find("CONNECT") != std::string::npos);
  CHECK(refused("GET ftp://example.com/ HTTP/1.1\r\n\r\n").status == 400);
  CHECK(refused("CONNECT http://example.com:443/ HTTP/1.1\r\n\r\n").status == 400);
  CHECK(refused("POST http://example.com/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").status == 501);
  CHECK(refused("POST http://example.com/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").status == 400);
  CHECK(refused("GET http://example.com/ HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n").reason.find("folding") != std::string::npos);
  CHECK(refused("GET http://example.com/ HTTP/1.1\r\nX-A: a\rb\r\n\r\n").status == 400);
  CHECK(refused("GET http://example.com/ HTTP/2.0\r\n\r\n").status == 505);
  CHECK(refused("GET  http://example.com/ HTTP/1.1\r\n\r\n").status == 400);
  CHECK(refused("\r\n\r\n").status == 400);

  CHECK(pd::find_head_end("GET / HTTP/1.1\r\nA: b\r\n\r\nbody") == 24);
  CHECK(pd::find_head_end("GET / HTTP/1.1\nA: b\n\nbody") == 21);
  CHECK(pd::find_head_end("GET / HTTP/1.1\r\nA: b\r\n") == std::string::npos);
}

TEST_CASE("proxy forwards: origin-form, Host the checked authority, hop-by-hop headers dropped", "[sandbox][proxy]") {
  pd::RequestHead h;
  REQUIRE(pd::parse_request_head("GET http://Example.com:8080/p?q HTTP/1.1\r\nHost: elsewhere.example\r\n"
                                 "Proxy-Authorization: Basic eA==\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n"
                                 "Upgrade: websocket\r\nAccept: */*\r\n\r\n",
                                 h)
              .status == 0);
  CHECK(pd::forward_head(h) == "GET /p?q HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\nConnection: close\r\n\r\n");
}

TEST_CASE("proxy tunnels: a request meant for another proxy is recognised in the first bytes", "[sandbox][proxy]") {
  std::string target;
  using pd::Sniff;
  CHECK(pd::sniff_tunnel("CONNECT internal:22 HTTP/1.1\r\n", &target) == Sniff::ProxyRequest);
  CHECK(target == "internal:22");
  CHECK(pd::sniff_tunnel("GET http://10.0.0.1/ HTTP/1.1\r\n", &target) == Sniff::ProxyRequest);
  CHECK(pd::sniff_tunnel("GET 10.0.0.1:80 HTTP/1.0", &target) == Sniff::ProxyRequest);
  CHECK(pd::sniff_tunnel("CONN", &target) == Sniff::NeedMore);
  CHECK(pd::sniff_tunnel("CONNECT internal:22 HT", &target) == Sniff::NeedMore);
  CHECK(pd::sniff_tunnel("GET /index.html HTTP/1.1\r\n", &target) == Sniff::Plain);
  CHECK(pd::sniff_tunnel("OPTIONS * HTTP/1.1\r\n", &target) == Sniff::Plain);
  CHECK(pd::sniff_tunnel("\x16\x03\x01\x02\x00", &target) == Sniff::Plain);  // a TLS ClientHello
  CHECK(pd::sniff_tunnel("EHLO mail.example.com\r\n", &target) == Sniff::Plain);
  CHECK(pd::sniff_tunnel("SSH-2.0-OpenSSH_9.2\r\n", &target) == Sniff::Plain);
  CHECK(pd::sniff_tunnel(std::string(pd::kSniffLimit, 'A'), &target) == Sniff::Plain);
}

TEST_CASE("proxy address classes: public unicast only, embedded IPv4 judged as itself", "[sandbox][proxy]") {
  auto range = [](const char* text) {
    sockaddr_storage s{};
    if (inet_pton(AF_INET, text, &reinterpret_cast<sockaddr_in&>(s).sin_addr) == 1) s.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &reinterpret_cast<sockaddr_in6&>(s).sin6_addr) == 1) s.ss_family = AF_INET6;
    REQUIRE(s.ss_family != 0);
    return sandbox::reserved_range(reinterpret_cast<sockaddr*>(&s));
  };
  for (const char* pub : {"8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
                          "192.167.255.255", "198.17.255.255", "198.20.0.0", "223.255.255.255", "2606:4700:4700::1111",
                          "2a00:1450:4001:82b::200e", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"}) {
    INFO(pub);
    CHECK(range(pub).empty());
  }
  std::pair<const char*, const char*> reserved[] = {
      {"0.0.0.0", "this network"}, {"10.1.2.3", "private"}, {"100.64.0.1", "shared"}, {"127.0.0.1", "loopback"},
      {"127.255.255.254", "loopback"}, {"169.254.169.254", "metadata"}, {"172.16.0.1", "private"}, {"172.31.255.255", "private"},
      {"192.0.0.8", "IETF"}, {"192.0.2.1", "documentation"}, {"192.168.1.1", "private"}, {"198.18.0.1", "benchmarking"},
      {"198.19.255.255", "benchmarking"}, {"198.51.100.7", "documentation"}, {"203.0.113.9", "documentation"},
      {"224.0.0.1", "multicast"}, {"239.255.255.250", "multicast"}, {"240.0.0.1", "reserved"}, {"255.255.255.255", "broadcast"},
      {"::", "unspecified"}, {"::1", "loopback"}, {"::127.0.0.1", "IPv4-compatible"}, {"fc00::1", "unique local"},
      {"fd00:ec2::254", "unique local"}, {"fe80::1", "link-local"}, {"ff02::1", "multicast"}, {"2001:db8::1", "documentation"},
      {"::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.0/8"}, {"::ffff:169.254.169.254", "metadata"},
      {"64:ff9b::a00:1", "NAT64 form of 10.0.0.0/8"}, {"64:ff9b:1::1", "local-use NAT64"},
      {"2002:7f00:1::", "6to4 form of 127.0.0.0/8"}, {"2002:c0a8:101::1", "6to4 form of 192.168.0.0/16"},
      {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo form of 192.0.2.0/24"},  // the client, obfuscated: 192.0.2.45
      {"2001:0:a00:1::", "Teredo form of 10.0.0.0/8"},  // the server
      {"100::1", "not global unicast"}};
  for (auto [addr, why] : reserved) {
    INFO(addr);
    CHECK(range(addr).find(why) != std::string::npos);
  }
  sockaddr_in6 meta{};
  meta.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "fd00:ec2::254", &meta.sin6_addr);
  CHECK(sandbox::is_metadata_address(reinterpret_cast<sockaddr*>(&meta)));
  sockaddr_un unix_addr{};
  unix_addr.sun_family = AF_UNIX;
  CHECK(!sandbox::is_public_address(reinterpret_cast<sockaddr*>(&unix_addr)));
}

TEST_CASE("proxy: CONNECT and plain HTTP reach an allowed origin, and each decision is logged", "[sandbox][proxy]") {
  Setup env(true);

  SECTION("a tunnel, with bytes the client sent right behind the CONNECT head") {
    int fd = unix_connect(env.sock);
    send_all(fd, "CONNECT 127.0.0.1:" + env.port + " HTTP/1.1\r\nHost: 127.0.0.1:" + env.port + "\r\n\r\nGET /tun");
    CHECK(read_head(fd) == "HTTP/1.1 200 Connection established\r\n\r\n");
    send_all(fd, "neled HTTP/1.1\r\nHost: inside\r\n\r\n");
    std::string r = read_until_eof(fd);
    close(fd);
    CHECK(starts_with(r, "HTTP/1.1 200 OK"));
    CHECK(r.find("GET /tunneled HTTP/1.1\r\nHost: inside\r\n") != std::string::npos);
    auto ev = env.proxy->events();
    REQUIRE(ev.size() == 1);
    CHECK((ev[0].host == "127.0.0.1" && ev[0].port == env.origin.port() && ev[0].allowed));
    CHECK(ev[0].reason == "allowed: in allowed_domains");
  }
  SECTION("a forward, rewritten to origin-form, its body and nothing after it") {
    std::string r = roundtrip(env.sock, "POST http://localhost:" + env.port + "/form?x=1 HTTP/1.1\r\nHost: elsewhere\r\n"
                                    "Proxy-Authorization: Basic eA==\r\nContent-Length: 5\r\n\r\nhello"
                                    "CONNECT 10.0.0.1:22 HTTP/1.1\r\n\r\n");
    CHECK(starts_with(r, "HTTP/1.1 200 OK"));
    CHECK(r.find("POST /form?x=1 HTTP/1.1\r\nHost: localhost:" + env.port + "\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello") !=
          std::string::npos);
    CHECK(r.find("Proxy-Authorization") == std::string::npos);
    CHECK(r.find("CONNECT") == std::string::npos);  // one request per connection: the pipelined one went nowhere
    auto ev = env.proxy->events();
    REQUIRE(ev.size() == 1);
    CHECK((ev[0].host == "localhost" && ev[0].allowed));
    std::lock_guard lock(env.decider.mu);
    CHECK(env.decider.asked == std::vector<std::string>{"localhost:" + env.port + " forward"});
  }
}

TEST_CASE("proxy: concurrent tunnels and forwards each reach the origin and are logged once", "[sandbox][proxy]") {
  Setup env(true);
  std::vector<std::string> answers(16);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < answers.size(); ++i)
    clients.emplace_back([&, i] {
      std::string path = "/client-" + std::to_string(i);
      if (i % 2 == 0) {
        answers[i] = roundtrip(env.sock, "GET http://127.0.0.1:" + env.port + path + " HTTP/1.1\r\n\r\n");
        return;
      }
      int fd = unix_connect(env.sock);
      send_all(fd, env.connect_origin() + "GET " + path + " HTTP/1.1\r\n\r\n");
      answers[i] = read_until_eof(fd);
      close(fd);
    });
  for (auto& c : clients) c.join();
  for (size_t i = 0; i < answers.size(); ++i) {
    INFO(i);
    CHECK(answers[i].find("GET /client-" + std::to_string(i) + " HTTP/1.1") != std::string::npos);
  }
  auto ev = env.proxy->events();
  CHECK(ev.size() == answers.size());
  CHECK(std::all_of(ev.begin(), ev.end(), [](const Proxy::Event& e) { return e.allowed; }));
}

TEST_CASE("proxy: private and loopback addresses are refused after resolution, however spelled", "[sandbox][proxy]") {
  Setup env(false);
  std::vector<std::string> spellings = {"localhost", "127.0.0.1", "[::1]", "0x7f.1", "2130706433", "[::ffff:127.0.0.1]", "127.1",
                                        "0177.0.0.1", "LocalHost."};
  for (const std::string& host : spellings) {
    INFO(host);
    std::string r = roundtrip(env.sock, "CONNECT " + host + ":" + env.port + " HTTP/1.1\r\n\r\n");
    CHECK(starts_with(r, "HTTP/1.1 403 Forbidden\r\n"));
    CHECK(r.find("X-Proxy-Reason: ") != std::string::npos);
    CHECK(r.find("loopback") != std::string::npos);
    r = roundtrip(env.sock, "GET http://" + host + ":" + env.port + "/ HTTP/1.1\r\n\r\n");
    CHECK(starts_with(r, "HTTP/1.1 403 Forbidden\r\n"));
  }
  CHECK(env.origin.accepted() == 0);
  auto ev = env.proxy->events();
  REQUIRE(ev.size() == 2 * spellings.size());
  for (const auto& e : ev) CHECK(!e.allowed);
  CHECK(ev[0].reason.find("localhost resolves to ") == 0);
  CHECK(ev[6].host == "127.0.0.1");  // 0x7f.1 was judged, and logged, as the address it is
  CHECK(ev[6].reason == "127.0.0.1 resolves to 127.0.0.1, in 127.0.0.0/8 (loopback)");
  CHECK(ev[10].host == "::ffff:127.0.0.1");
}

TEST_CASE("proxy: allow_loopback (the policy's allow_localhost) admits loopback and nothing private", "[sandbox][proxy]") {
  Proxy::Options o;
  o.allow_loopback = true;
  Setup env(false, o);
  // Loopback however spelled, as a name or an address: the origin on 127.0.0.1 answers.
  for (const std::string host : {"127.0.0.1", "localhost", "0x7f.1", "[::ffff:127.0.0.1]"}) {
    INFO(host);
    int fd = unix_connect(env.sock);
    send_all(fd, "CONNECT " + host + ":" + env.port + " HTTP/1.1\r\n\r\n");
    CHECK(read_head(fd) == "HTTP/1.1 200 Connection established\r\n\r\n");
    close(fd);
  }
  // Private, shared, link-local and unique-local ranges stay refused after resolution.
  for (const char* host : {"10.0.0.1", "192.168.1.1", "172.16.0.1", "100.64.0.1", "[::ffff:10.0.0.1]", "[fd12::1]",
                           "[fe80::1]", "0.0.0.0", "[64:ff9b::7f00:1]", "169.254.169.254"}) {
    INFO(host);
    std::string r = roundtrip(env.sock, "CONNECT " + std::string(host) + ":" + env.port + " HTTP/1.1\r\n\r\n");
    CHECK(starts_with(r, "HTTP/1.1 403 Forbidden\r\n"));
  }
  auto ev = env.proxy->events();
  REQUIRE(ev.size() == 14);
  CHECK(ev[4].reason == "10.0.0.1 resolves to 10.0.0.1, in 10.0.0.0/8 (private)");
  for (size_t i = 0; i < ev.size(); ++i) CHECK(ev[i].allowed == (i < 4));
}

TEST_CASE("proxy: cloud metadata endpoints are refused even where private addresses are allowed", "[sandbox][proxy]") {
  Setup env(true);
  for (const char* host : {"169.254.169.254:80", "[fd00:ec2::254]:80", "[::ffff:169.254.169.254]:80", "100.100.100.200:80"}) {
    INFO(host);
    std::string r = roundtrip(env.sock, "CONNECT " + std::string(host) + " HTTP/1.1\r\n\r\n");
    CHECK(starts_with(r, "HTTP/1.1 403 Forbidden\r\n"));
    CHECK(r.find("cloud metadata endpoint") != std::string::npos);
  }
}

TEST_CASE("proxy: a domain the policy refuses is answered 403 with its reason, never resolved", "[sandbox][proxy]") {
  Setup env(false);
  std::string r = roundtrip(env.sock, "CONNECT api.evil.example:443 HTTP/1.1\r\n\r\n");
  CHECK(starts_with(r, "HTTP/1.1 403 Forbidden\r\n"));
  CHECK(r.find("X-Proxy-Reason: blocked: api.evil.example is in blocked_domains\r\n") != std::string::npos);
  r = roundtrip(env.sock, "GET http://API.Evil.Example./x HTTP/1.1\r\n\r\n");
  CHECK(r.find("blocked: api.evil.example is in blocked_domains") != std::string::npos);
  auto ev = env.proxy->events();
  REQUIRE(ev.size() == 2);
  CHECK((ev[0].host == "api.evil.example" && ev[0].port == 443 && !ev[0].allowed));
  CHECK((ev[1].host == "api.evil.example" && ev[1].port == 80 && !ev[1].allowed));
  std::lock_guard lock(env.decider.mu);
  CHECK(env.decider.asked == std::vector<std::string>{"api.evil.example:443 connect", "api.evil.example:80 forward"});
}

TEST_CASE("proxy: malformed, oversized and slow request heads get their status, and the proxy keeps serving",
          "[sandbox][proxy]") {
  Proxy::Options o;
  o.header_timeout_ms = 300;
  Setup env(true, o);

  CHECK(starts_with(roundtrip(env.sock, "GARBAGE\r\n\r\n"), "HTTP/1.1 400 Bad Request\r\n"));
  CHECK(starts_with(roundtrip(env.sock, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"), "HTTP/1.1 400 Bad Request\r\n"));
  CHECK(starts_with(roundtrip(env.sock, std::string("GET http://a/\0 HTTP/1.1\r\n\r\n", 27)), "HTTP/1.1 400 Bad Request\r\n"));
  CHECK(starts_with(roundtrip(env.sock, "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), "HTTP/1.1 501 Not Implemented\r\n"));
  {
    int fd = unix_connect(env.sock);  // a client that connects and leaves is let go without a word
    shutdown(fd, SHUT_WR);
    CHECK(read_until_eof(fd).empty());
    close(fd);
  }

  SECTION("a 1 MB header") {
    int fd = unix_connect(env.sock);
    std::thread sender([fd] { send_all(fd, "GET http://a/ HTTP/1.1\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n"); });
    std::string r = read_until_eof(fd);
    sender.join();
    close(fd);
    CHECK(starts_with(r, "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    CHECK(r.find("passed 65536 bytes") != std::string::npos);
  }
  SECTION("a byte at a time, forever") {
    int fd = unix_connect(env.sock);
    std::string slow = "GET http://127.0.0.1/ HTTP/1.1\r\nX-Slow: " + std::string(1000, 'a');
    auto give_up = std::chrono::steady_clock::now() + 20s;
    for (size_t i = 0; i < slow.size() && std::chrono::steady_clock::now() < give_up; ++i) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 0) == 1) break;  // the proxy answered
      send_all(fd, slow.substr(i, 1));
      std::this_thread::sleep_for(20ms);
    }
    std::string r = read_until_eof(fd);
    close(fd);
    CHECK(starts_with(r, "HTTP/1.1 408 Request Timeout\r\n"));
    CHECK(r.find("did not arrive within 300 ms") != std::string::npos);
  }
  std::string r = roundtrip(env.sock, "GET http://127.0.0.1:" + std::to_string(env.origin.port()) + "/still HTTP/1.1\r\n\r\n");
  CHECK(r.find("GET /still HTTP/1.1") != std::string::npos);
  CHECK(env.proxy->events().size() == 1);  // only the request that named a host was a decision
}

TEST_CASE("proxy: CONNECT or an absolute-form request inside a tunnel is refused", "[sandbox][proxy]") {
  Setup env(true);
  for (std::string inner : {"CONNECT 10.0.0.1:22 HTTP/1.1\r\n\r\n", "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\n\r\n"}) {
    int fd = env.open_tunnel();
    send_all(fd, inner.substr(0, 5));  // split: the proxy holds the bytes until it can tell
    std::this_thread::sleep_for(50ms);
    send_all(fd, inner.substr(5));
    std::string r = read_until_eof(fd);
    close(fd);
    CHECK(starts_with(r, "HTTP/1.1 403 Forbidden\r\n"));
    CHECK(r.find("relayed proxying is refused") != std::string::npos);
  }
  for (const std::string& got : env.origin.received()) CHECK(got.empty());  // not a byte of them reached the origin
  auto ev = env.proxy->events();
  REQUIRE(ev.size() == 4);
  CHECK((ev[0].allowed && !ev[1].allowed && ev[2].allowed && !ev[3].allowed));
  CHECK(ev[1].reason.find("target 10.0.0.1:22") != std::string::npos);
}

TEST_CASE("proxy: connections past max_connections get 503, and a client leaving mid-tunnel frees its slot",
          "[sandbox][proxy]") {
  Proxy::Options o;
  o.max_connections = 1;
  Setup env(true, o);
  std::string connect = env.connect_origin();
  int first = env.open_tunnel();
  send_all(first, "GET /half");
  std::string r = roundtrip(env.sock, connect);
  CHECK(starts_with(r, "HTTP/1.1 503 Service Unavailable\r\n"));
  CHECK(r.find("1 connections at most") != std::string::npos);
  close(first);  // mid-request, mid-tunnel

  bool served = false;
  for (auto give_up = std::chrono::steady_clock::now() + 10s; !served && std::chrono::steady_clock::now() < give_up;) {
    int fd = unix_connect(env.sock);
    send_all(fd, connect);
    served = read_head(fd) == "HTTP/1.1 200 Connection established\r\n\r\n";
    close(fd);
    if (!served) std::this_thread::sleep_for(20ms);
  }
  CHECK(served);
}

TEST_CASE("proxy: the stop closes open tunnels, and the socket file goes with it", "[sandbox][proxy]") {
  Setup env(true);
  int fd = env.open_tunnel();
  env.proxy.reset();
  CHECK(read_until_eof(fd).empty());
  close(fd);
  CHECK(!std::filesystem::exists(env.sock));

  // A stale socket file (nobody listens) is replaced; a live one, or any other file, is not.
  int stale = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sun = unix_address(env.sock);
  REQUIRE(bind(stale, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
  close(stale);
  Proxy::Options again;
  again.socket_path = env.sock;
  again.decide = env.decider.fn();
  {
    auto p = Proxy::start(again);
    REQUIRE(p.ok());
    auto q = Proxy::start(again);
    REQUIRE(!q.ok());
    CHECK(q.error().find("exists") != std::string::npos);
  }
  env.dir.write("plain", "x");
  again.socket_path = (env.dir / "plain").string();
  auto bad = Proxy::start(again);
  REQUIRE(!bad.ok());
  CHECK(bad.error().find("exists") != std::string::npos);
}

// curl, a client nobody here wrote, through what the engine provides inside the sandbox: a TCP
// port relayed to the proxy's Unix socket.
TEST_CASE("proxy: curl through a TCP relay, plain HTTP and CONNECT, allowed and refused", "[sandbox][proxy]") {
  Setup env(true);
  uint16_t relay_port = 0;
  int relay_fd = listen_tcp(relay_port);
  std::atomic<bool> stop{false};
  std::thread relay([&] {
    while (!stop) {
      pollfd p{relay_fd, POLLIN, 0};
      if (poll(&p, 1, 50) != 1) continue;
      int c = accept4(relay_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      int u = unix_connect(env.sock);
      char buf[16384];
      for (bool open = true; open && !stop;) {  // one connection at a time is all curl needs here
        pollfd q[2] = {{c, POLLIN, 0}, {u, POLLIN, 0}};
        if (poll(q, 2, 50) <= 0) continue;
        for (int i = 0; i < 2 && open; ++i) {
          if (!q[i].revents) continue;
          ssize_t n = recv(q[i].fd, buf, sizeof buf, 0);
          if (n <= 0) open = false;
          else send_all(q[1 - i].fd, std::string_view(buf, size_t(n)));
        }
      }
      close(c);
      close(u);
    }
  });
  auto curl = [&](const std::string& args) {
    std::string cmd = "curl -sS --max-time 20 --noproxy '' -x http://127.0.0.1:" + std::to_string(relay_port) + " " + args + " 2>&1";
    FILE* f = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    int status = pclose(f);
    return std::pair{WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
  };
  std::string url = "http://127.0.0.1:" + std::to_string(env.origin.port());
  auto [plain_rc, plain] = curl(url + "/by-curl");
  CHECK(plain_rc == 0);
  CHECK(plain.find("GET /by-curl HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(env.origin.port())) != std::string::npos);
  auto [tunnel_rc, tunnel] = curl("-p " + url + "/through-tunnel");
  CHECK(tunnel_rc == 0);
  CHECK(tunnel.find("GET /through-tunnel HTTP/1.1") != std::string::npos);
  auto [refused_rc, refused] = curl("-p http://www.evil.example/");
  CHECK(refused_rc != 0);
  CHECK(refused.find("403") != std::string::npos);
  auto [meta_rc, meta] = curl("-i http://169.254.169.254/latest/meta-data/");
  CHECK(meta.find("HTTP/1.1 403 Forbidden") != std::string::npos);
  CHECK(meta.find("cloud metadata endpoint") != std::string::npos);
  stop = true;
  relay.join();
  close(relay_fd);
  auto ev = env.proxy->events();
  REQUIRE(ev.size() == 4);
  CHECK((ev[0].allowed && ev[1].allowed && !ev[2].allowed && !ev[3].allowed));
}
