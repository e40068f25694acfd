// The proxy's reading of a request head (private to sandbox/; the fuzz target drives it). Pure
// functions of bytes, no sockets, so every refusal the proxy makes before it resolves a name is
// decided here and testable on literals.
//
// Invariant: a RequestHead that parse_request_head returns names exactly one host and port, in the
// form `decide` judges (lowercase, no brackets, no trailing dot, IP literals canonical, including
// the inet_aton spellings `0x7f.1` and `2130706433`), and carries nothing that could smuggle a
// second target: no userinfo, no CONNECT in absolute form, no chunked body, one Content-Length.
// Cost: linear in the head, which the caller bounded (Options::max_header_bytes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sandbox::proxy_detail {

struct RequestHead {
  bool connect = false;     // CONNECT host:port; else an absolute-form http:// request to forward
  std::string method;
  std::string host;         // as decide sees it
  bool host_is_ip = false;  // an IPv4 or IPv6 literal (host is then inet_ntop's form)
  uint16_t port = 0;
  std::string path;         // origin-form for a forward ("/" at least); empty for CONNECT
  std::string version;      // "HTTP/1.0" or "HTTP/1.1"
  std::vector<std::pair<std::string_view, std::string_view>> headers;  // views into the parsed head
  uint64_t content_length = 0;
};

struct ParseOutcome {
  int status = 0;  // 0: parsed; else the HTTP status to answer (400, 431, 501, 505)
  std::string reason;
};

// Where the head ends in `buf` (the offset just past its blank line), or npos. Lines end in CRLF or LF.
size_t find_head_end(std::string_view buf);

// `head` is the bytes up to and including the blank line.
ParseOutcome parse_request_head(std::string_view head, RequestHead& out);

// host[:port] or [v6]:port, as in CONNECT's target or a URL's authority. `default_port` 0: the port is required.
ParseOutcome parse_authority(std::string_view authority, uint16_t default_port, RequestHead& out);

// The first bytes a client sends inside a tunnel: is it a request meant for a proxy (CONNECT, or
// an absolute-form target)? NeedMore while the bytes could still be the first line of one; bounded
// by kSniffLimit, past which the stream is plain. `target` receives the refused request's target.
enum class Sniff { NeedMore, Plain, ProxyRequest };
constexpr size_t kSniffLimit = 8192;
Sniff sniff_tunnel(std::string_view first_bytes, std::string* target);

// The head to send the origin: origin-form request line, Host set to the checked authority,
// hop-by-hop headers (and the ones Connection names) dropped, `Connection: close` added.
std::string forward_head(const RequestHead& head);

}  // namespace sandbox::proxy_detail
