#include "sandbox/proxy_request.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace sandbox::proxy_detail {
namespace {

constexpr size_t kMaxHeaders = 128;

bool is_tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}
bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c && is_tchar(c); }); }
char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}
bool istarts_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && iequals(s.substr(0, p.size()), p); }
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
ParseOutcome fail(int status, std::string reason) { return {status, std::move(reason)}; }

// Printable for a reason line: what a client sent may hold anything.
std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 200) out += "...";
  return out;
}

bool parse_port(std::string_view s, uint16_t& port) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  unsigned v = 0;
  for (char c : s) v = v * 10 + unsigned(c - '0');
  if (v == 0 || v > 65535) return false;
  port = uint16_t(v);
  return true;
}

// A label that URL parsers read as a number ("127", "0x7f"): then the whole name is an IPv4 address.
bool numeric_label(std::string_view l) {
  if (l.empty()) return false;
  if (l.size() >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X'))
    return std::all_of(l.begin() + 2, l.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  return std::all_of(l.begin(), l.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

size_t find_head_end(std::string_view buf) {
  for (size_t i = buf.find('\n'); i != std::string_view::npos; i = buf.find('\n', i + 1)) {
    if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

ParseOutcome parse_authority(std::string_view a, uint16_t default_port, RequestHead& out) {
  std::string_view host, port;
  bool has_port = false;
  if (a.empty()) return fail(400, "no host");
  if (a.front() == '[') {
    size_t close = a.find(']');
    if (close == std::string_view::npos) return fail(400, "unclosed IPv6 literal: " + shown(a));
    host = a.substr(1, close - 1);
    std::string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail(400, "junk after an IPv6 literal: " + shown(a));
      port = rest.substr(1), has_port = true;
    }
    std::string text(host);
    in6_addr v6;
    if (text.find('%') != std::string::npos) return fail(400, "IPv6 zone identifiers are not accepted: " + shown(a));
    if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return fail(400, "malformed IPv6 address: " + shown(a));
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &v6, buf, sizeof buf);
    out.host = buf;
    out.host_is_ip = true;
  } else {
    size_t colon = a.rfind(':');
    if (colon != std::string_view::npos) {
      if (a.find(':') != colon) return fail(400, "an IPv6 literal needs brackets: " + shown(a));
      host = a.substr(0, colon), port = a.substr(colon + 1), has_port = true;
    } else {
      host = a;
    }
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // "example.com." is example.com
    if (host.empty() || host.size() > 253) return fail(400, "bad host name: " + shown(a));
    for (char c : host)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
        return fail(400, "bad character in host name: " + shown(a));
    if (host.front() == '.' || host.back() == '.' || host.find("..") != std::string_view::npos) return fail(400, "empty label in host name: " + shown(a));
    out.host.assign(host);
    std::transform(out.host.begin(), out.host.end(), out.host.begin(), lower);
    out.host_is_ip = false;
    size_t dot = out.host.rfind('.');
    if (numeric_label(std::string_view(out.host).substr(dot == std::string::npos ? 0 : dot + 1))) {
      in_addr v4;  // inet_aton reads what URL parsers and libc read: 0x7f.1, 2130706433, 0177.0.0.1
      if (inet_aton(out.host.c_str(), &v4) == 0) return fail(400, "malformed IPv4 address: " + shown(a));
      char buf[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &v4, buf, sizeof buf);
      out.host = buf;
      out.host_is_ip = true;
    }
  }
  if (has_port) {
    if (!parse_port(port, out.port)) return fail(400, "bad port: " + shown(a));
  } else if (default_port == 0) {
    return fail(400, "CONNECT needs host:port, got " + shown(a));
  } else {
    out.port = default_port;
  }
  return {};
}

ParseOutcome parse_request_head(std::string_view head, RequestHead& out) {
  out = RequestHead{};
  // Lines, CRLF or LF; a lone CR, NUL or other control character is malformed (smuggling's tools).
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < head.size()) {
    size_t nl = head.find('\n', start);
    if (nl == std::string_view::npos) nl = head.size();
    std::string_view line = head.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = nl + 1;
    if (line.empty()) break;
    for (char c : line)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return fail(400, "control character in the request head");
    if (lines.size() > kMaxHeaders) return fail(431, "more than " + std::to_string(kMaxHeaders) + " header lines");
    lines.push_back(line);
  }
  if (lines.empty()) return fail(400, "empty request");

  std::string_view rl = lines[0];
  size_t sp1 = rl.find(' '), sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || rl.find(' ', sp2 + 1) != std::string_view::npos)
    return fail(400, "malformed request line: " + shown(rl));
  std::string_view method = rl.substr(0, sp1), target = rl.substr(sp1 + 1, sp2 - sp1 - 1), version = rl.substr(sp2 + 1);
  if (!is_token(method)) return fail(400, "malformed method: " + shown(method));
  if (target.empty()) return fail(400, "empty request target");
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    if (version.substr(0, 5) == "HTTP/") return fail(505, "only HTTP/1.0 and HTTP/1.1 are proxied, got " + shown(version));
    return fail(400, "malformed HTTP version: " + shown(version));
  }
  out.method.assign(method);
  out.version.assign(version);

  bool have_length = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (l.front() == ' ' || l.front() == '\t') return fail(400, "obsolete header line folding");
    size_t colon = l.find(':');
    if (colon == std::string_view::npos || !is_token(l.substr(0, colon))) return fail(400, "malformed header line: " + shown(l));
    std::string_view name = l.substr(0, colon), value = trim(l.substr(colon + 1));
    if (iequals(name, "transfer-encoding"))
      return fail(501, "request bodies in a transfer coding are not forwarded (send Content-Length)");
    if (iequals(name, "content-length")) {
      uint64_t n = 0;
      if (value.empty() || value.size() > 18 || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return fail(400, "bad Content-Length: " + shown(value));
      for (char c : value) n = n * 10 + uint64_t(c - '0');
      if (have_length && n != out.content_length) return fail(400, "conflicting Content-Length headers");
      have_length = true;
      out.content_length = n;
    }
    out.headers.emplace_back(name, value);
  }

  if (method == "CONNECT") {
    out.connect = true;
    if (target.find('/') != std::string_view::npos) return fail(400, "CONNECT takes host:port, got " + shown(target));
    return parse_authority(target, 0, out);
  }
  if (target.front() == '/' || target == "*")
    return fail(400, "not a proxy request: the target must be http://host/path, or CONNECT host:port");
  if (istarts_with(target, "https://")) return fail(400, "https:// targets go through CONNECT, not a plain forward");
  if (!istarts_with(target, "http://")) return fail(400, "only http:// targets are forwarded, got " + shown(target));
  std::string_view rest = target.substr(7);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end), path = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) return fail(400, "user information in the URL is not accepted: " + shown(target));
  if (size_t hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  if (path.empty() || path.front() != '/') out.path = "/";
  out.path.append(path);
  return parse_authority(authority, 80, out);
}

Sniff sniff_tunnel(std::string_view b, std::string* target) {
  size_t n = std::min(b.size(), kSniffLimit), i = 0;
  auto more = [&] { return n >= kSniffLimit ? Sniff::Plain : Sniff::NeedMore; };
  while (i < n && i <= 20 && ((b[i] >= 'A' && b[i] <= 'Z') || b[i] == '-' || b[i] == '_')) ++i;
  if (i == n) return i > 20 ? Sniff::Plain : more();
  if (i == 0 || i > 20 || b[i] != ' ') return Sniff::Plain;
  std::string_view method = b.substr(0, i);
  size_t t = ++i;
  while (i < n && b[i] > 0x20 && b[i] < 0x7f) ++i;
  if (i == n) return more();
  if (b[i] != ' ' || i == t) return Sniff::Plain;
  std::string_view tgt = b.substr(t, i - t);
  constexpr std::string_view http = "HTTP/";
  for (size_t k = 0; k < http.size(); ++k) {
    if (i + 1 + k >= n) return more();
    if (b[i + 1 + k] != http[k]) return Sniff::Plain;
  }
  if (method == "CONNECT" || (tgt.front() != '/' && tgt != "*")) {
    if (target) *target = shown(tgt);
    return Sniff::ProxyRequest;
  }
  return Sniff::Plain;
}

std::string forward_head(const RequestHead& h) {
  static constexpr std::string_view hop_by_hop[] = {"connection", "proxy-connection", "keep-alive", "proxy-authorization",
                                                     "proxy-authenticate", "te", "trailer", "transfer-encoding", "upgrade", "host"};
  std::vector<std::string_view> named;  // the headers Connection lists are hop-by-hop too
  for (const auto& [name, value] : h.headers) {
    if (!iequals(name, "connection")) continue;
    std::string_view v = value;
    while (!v.empty()) {
      size_t comma = v.find(',');
      named.push_back(trim(v.substr(0, comma)));
      v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    }
  }
  std::string out;
  out.reserve(256 + h.path.size());
  out.append(h.method).append(" ").append(h.path).append(" ").append(h.version).append("\r\nHost: ");
  bool v6 = h.host.find(':') != std::string::npos;
  out.append(v6 ? "[" : "").append(h.host).append(v6 ? "]" : "");
  if (h.port != 80) out.append(":").append(std::to_string(h.port));
  out.append("\r\n");
  for (const auto& header : h.headers) {
    auto same = [&](std::string_view x) { return iequals(header.first, x); };
    if (std::any_of(std::begin(hop_by_hop), std::end(hop_by_hop), same) || std::any_of(named.begin(), named.end(), same)) continue;
    out.append(header.first).append(": ").append(header.second).append("\r\n");
  }
  out.append("Connection: close\r\n\r\n");
  return out;
}

}  // namespace sandbox::proxy_detail
