// The sandbox's only way out to the network: an HTTP proxy in our process (CONNECT tunnels and
// plain-HTTP forwards), listening on a Unix socket that the engine binds into the sandbox.
//
// Invariant: a byte reaches a remote host only after (1) `decide` allowed the host and port as the
// client wrote them (IP literals in canonical form, so `0x7f.1` is judged as `127.0.0.1`), (2) the
// name resolved, within a deadline, to addresses that are ALL public (reserved_range below), unless
// allow_private, and (3) the socket connected to one of exactly those addresses: the name is never
// resolved twice, so DNS rebinding cannot swap an address in between the check and the connect.
// CONNECT is never forwarded: not inside a plain-HTTP forward, and not as the first request of a
// tunnel (nor any absolute-form request there: that is talking to another proxy).
//
// Cost: a thread per connection (at most max_connections; more are answered 503), blocking on
// poll() with deadlines, and two 64 KiB buffers each; name resolution on a small pool of threads
// (at most max_resolutions at once, the rest answered 503). Relaying allocates nothing per byte.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/policy.h"

namespace sandbox {

class Proxy {
 public:
  // Domain and port rules, asked before resolving; `connect` is true for a CONNECT tunnel and false
  // for a plain-HTTP forward. Called from several threads at once. `host` is lowercase, without
  // brackets or a trailing dot; an IP literal is in inet_ntop's form.
  using Decide = std::function<Decision(std::string_view host, uint16_t port, bool connect)>;
  struct Options {
    std::string socket_path;  // must not exist (a stale socket, one nobody listens on, is replaced)
    Decide decide;            // required
    // Loopback and private ranges allowed (for tests). Cloud metadata endpoints (169.254.169.254,
    // 169.254.170.2, 100.100.100.200, fd00:ec2::254) stay refused.
    bool allow_private = false;
    // Loopback only (127.0.0.0/8, ::1, and 127/8 written as IPv4-mapped IPv6): the policy's
    // allow_localhost. Private, link-local and every other reserved range stay refused.
    bool allow_loopback = false;
    size_t max_connections = 256;
    uint64_t idle_timeout_ms = 60000;    // no byte either way for this long: the connection is closed
    uint64_t header_timeout_ms = 10000;  // the whole request head must arrive within it (else 408)
    size_t max_header_bytes = 64 * 1024; // else 431
    size_t max_resolutions = 16;         // names being resolved at once; more are answered 503
    uint64_t resolve_timeout_ms = 5000;  // else 504
    uint64_t connect_timeout_ms = 10000; // else 502
    uint32_t socket_mode = 0600;         // the socket file's permissions (the sandbox's uid must write it)
  };
  static Result<std::unique_ptr<Proxy>> start(Options options);  // listening when it returns
  ~Proxy();  // stops accepting, closes every connection, joins every thread, removes the socket file
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // One per decision about a host (allowed, refused by `decide`, by address, or a relayed request
  // refused inside a tunnel), in order; the last 4096 are kept.
  struct Event {
    std::string host;
    uint16_t port = 0;
    bool allowed = false;
    std::string reason;
  };
  std::vector<Event> events() const;

  struct Impl;

 private:
  explicit Proxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Empty when `addr` (AF_INET or AF_INET6) is a public unicast address; else the reserved range it
// lies in, e.g. "127.0.0.0/8 (loopback)". IPv6 forms that embed an IPv4 address (mapped, NAT64
// 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32) are judged by the embedded address; IPv6 outside
// 2000::/3 and any other family are reserved.
std::string reserved_range(const sockaddr* addr);
inline bool is_public_address(const sockaddr* addr) { return reserved_range(addr).empty(); }
// Whether `addr` is the host's own loopback (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104).
bool is_loopback_address(const sockaddr* addr);
// The cloud metadata endpoints, refused even with allow_private.
bool is_metadata_address(const sockaddr* addr);

}  // namespace sandbox
