// Finding the server of a root, and one JSON-RPC call to it over HTTP, without Beast: the CLI's
// path to a running server must cost less than loading a snapshot.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string_view>

#include "server/local_socket.h"
#include "server/ws_server.h"

namespace server {

namespace {

// The Content-Length of a response head (case-insensitive name), or npos when it has none.
size_t content_length(std::string_view response, size_t head_end) {
  std::string_view head = response.substr(0, head_end);
  for (size_t at = head.find("\r\n"); at != std::string_view::npos; at = head.find("\r\n", at + 2)) {
    std::string_view line = head.substr(at + 2, head.find("\r\n", at + 2) - (at + 2));
    constexpr std::string_view kName = "content-length:";
    if (line.size() <= kName.size() ||
        !std::equal(kName.begin(), kName.end(), line.begin(), [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); }))
      continue;
    line.remove_prefix(kName.size());
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    size_t value = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
    return ec == std::errc() && value < (size_t(1) << 40) ? value : std::string_view::npos;
  }
  return std::string_view::npos;
}

}  // namespace

std::filesystem::path discovery_path(const std::filesystem::path& root) { return root / ".indexer" / "server.json"; }

std::optional<Discovered> discover(const std::filesystem::path& root) {
  // Ours only: a server writes the file 0600, which a clone or checkout never makes (git keeps
  // 0644 and 0755), so a repository cannot send our queries to an address of its choosing.
  struct stat st;
  std::string path = discovery_path(root).string();
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) || st.st_uid != ::geteuid() || st.st_size > 4096)
    return std::nullopt;
  std::ifstream in(path);
  if (!in) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  // Every field typed before it is read: a file someone edited cannot make us throw.
  auto field = [&](const char* key) -> const nlohmann::json& {
    static const nlohmann::json none;
    auto it = j.is_object() ? j.find(key) : j.end();
    return j.is_object() && it != j.end() ? *it : none;
  };
  const auto &port = field("port"), &address = field("address"), &pid = field("pid"), &token = field("token"), &local = field("unix");
  if (!pid.is_number_unsigned() || pid.get<uint64_t>() == 0 || pid.get<uint64_t>() > INT32_MAX) return std::nullopt;
  Discovered d;
  d.pid = int(pid.get<uint64_t>());
  if (local.is_string()) {
    d.socket_path = local.get<std::string>();
    if (d.socket_path.empty() || d.socket_path.front() != '/' || d.socket_path.size() > kMaxLocalPath) return std::nullopt;
  } else {
    if (!port.is_number_unsigned() || port.get<uint64_t>() == 0 || port.get<uint64_t>() > 65535 || !address.is_string() ||
        !(token.is_null() || token.is_string()))
      return std::nullopt;
    d.address = address.get<std::string>();
    d.port = uint16_t(port.get<uint64_t>());
    d.token = token.is_string() ? token.get<std::string>() : "";
  }
  if (::kill(d.pid, 0) != 0 && errno == ESRCH) return std::nullopt;  // a server that died without cleaning up
  return d;
}

namespace {

// A connected socket to the server, or -1.
int connect_to(const Discovered& server, int timeout_ms) {
  if (!server.socket_path.empty()) return connect_local(server.socket_path, timeout_ms);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server.port);
  if (::inet_pton(AF_INET, server.address.c_str(), &addr.sin_addr) != 1) return -1;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::optional<std::string> post_rpc(const Discovered& server, const std::string& body, int timeout_ms) {
  int fd = connect_to(server, timeout_ms);
  if (fd < 0) return std::nullopt;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // No token over a Unix socket: its file's mode already decided who may connect.
  std::string host = server.socket_path.empty() ? server.address : "localhost";
  std::string request = "POST /rpc HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nConnection: close\r\n";
  if (!server.token.empty() && server.socket_path.empty()) request += "Authorization: Bearer " + server.token + "\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return std::nullopt;
    sent += size_t(n);
  }
  // Read until the body named by Content-Length is whole: waiting for the server's close instead
  // costs the client a scheduling round trip of the server's network thread (0.5-10 ms, loaded).
  std::string response;
  char buf[64 * 1024];
  size_t head = std::string::npos, want = std::string::npos;
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    response.append(buf, size_t(n));
    if (head == std::string::npos && (head = response.find("\r\n\r\n")) != std::string::npos) want = content_length(response, head);
    if (want != std::string::npos && response.size() >= head + 4 + want) break;
  }
  if (head == std::string::npos || !response.starts_with("HTTP/1.1 ")) return std::nullopt;
  int status = std::atoi(response.c_str() + 9);
  if (status == 204) return std::string();
  if (status != 200) return std::nullopt;
  if (want != std::string::npos) response.resize(std::min(response.size(), head + 4 + want));
  return response.substr(head + 4);
}

}  // namespace server
