// Which addresses a sandboxed command may reach through the proxy: public unicast only. The ranges
// are IANA's special-purpose registries (RFC 6890 and successors), IPv6 restricted to global unicast.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "sandbox/proxy.h"

namespace sandbox {
namespace {

struct V4Range {
  uint32_t net;
  int bits;
  const char* name;
};

constexpr V4Range kReservedV4[] = {
    {0x00000000, 8, "0.0.0.0/8 (this network)"},
    {0x0A000000, 8, "10.0.0.0/8 (private)"},
    {0x64400000, 10, "100.64.0.0/10 (shared address space)"},
    {0x7F000000, 8, "127.0.0.0/8 (loopback)"},
    {0xA9FE0000, 16, "169.254.0.0/16 (link-local, cloud metadata)"},
    {0xAC100000, 12, "172.16.0.0/12 (private)"},
    {0xC0000000, 24, "192.0.0.0/24 (IETF protocol assignments)"},
    {0xC0000200, 24, "192.0.2.0/24 (documentation)"},
    {0xC0586300, 24, "192.88.99.0/24 (6to4 relay anycast)"},
    {0xC0A80000, 16, "192.168.0.0/16 (private)"},
    {0xC6120000, 15, "198.18.0.0/15 (benchmarking)"},
    {0xC6336400, 24, "198.51.100.0/24 (documentation)"},
    {0xCB007100, 24, "203.0.113.0/24 (documentation)"},
    {0xE0000000, 4, "224.0.0.0/4 (multicast)"},
    {0xF0000000, 4, "240.0.0.0/4 (reserved, broadcast)"},
};

const char* reserved_v4(uint32_t a) {  // host byte order
  for (const V4Range& r : kReservedV4)
    if ((a >> (32 - r.bits)) == (r.net >> (32 - r.bits))) return r.name;
  return nullptr;
}

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

bool prefix(const uint8_t* a, std::initializer_list<uint8_t> bytes) {
  size_t i = 0;
  for (uint8_t b : bytes)
    if (a[i++] != b) return false;
  return true;
}

// IPv4 addresses an IPv6 address carries and that a packet to it would reach: mapped
// (::ffff:0:0/96), SIIT (::ffff:0:0:0/96), NAT64 (64:ff9b::/96), 6to4 (2002::/16), Teredo
// (2001::/32: the server, and the client obfuscated by XOR). Returns how many (0 to 2).
int embedded_v4(const uint8_t* a, uint32_t out[2], const char** form) {
  static constexpr uint8_t zeros[10] = {};
  if (std::memcmp(a, zeros, 10) == 0 && a[10] == 0xff && a[11] == 0xff) {
    *form = "IPv4-mapped";
    out[0] = be32(a + 12);
    return 1;
  }
  if (std::memcmp(a, zeros, 8) == 0 && a[8] == 0xff && a[9] == 0xff && a[10] == 0 && a[11] == 0) {
    *form = "IPv4-translated";
    out[0] = be32(a + 12);
    return 1;
  }
  if (prefix(a, {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})) {
    *form = "NAT64";
    out[0] = be32(a + 12);
    return 1;
  }
  if (prefix(a, {0x20, 0x02})) {
    *form = "6to4";
    out[0] = be32(a + 2);
    return 1;
  }
  if (prefix(a, {0x20, 0x01, 0x00, 0x00})) {
    *form = "Teredo";
    out[0] = be32(a + 4);
    out[1] = ~be32(a + 12);
    return 2;
  }
  return 0;
}

const char* reserved_v6(const uint8_t* a) {
  static constexpr uint8_t zeros[16] = {};
  if (std::memcmp(a, zeros, 16) == 0) return "::/128 (unspecified)";
  if (std::memcmp(a, zeros, 15) == 0 && a[15] == 1) return "::1/128 (loopback)";
  if (std::memcmp(a, zeros, 12) == 0) return "::/96 (IPv4-compatible, deprecated)";
  if (prefix(a, {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01})) return "64:ff9b:1::/48 (local-use NAT64)";
  if ((a[0] & 0xfe) == 0xfc) return "fc00::/7 (unique local)";
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return "fe80::/10 (link-local)";
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return "fec0::/10 (site-local, deprecated)";
  if (a[0] == 0xff) return "ff00::/8 (multicast)";
  if (prefix(a, {0x20, 0x01, 0x0d, 0xb8})) return "2001:db8::/32 (documentation)";
  if (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xf0) == 0) return "3fff::/20 (documentation)";
  if (prefix(a, {0x20, 0x01, 0x00}) && (a[3] & 0xf0) == 0x10) return "2001:10::/28 (ORCHID)";
  if (prefix(a, {0x20, 0x01, 0x00}) && (a[3] & 0xf0) == 0x20) return "2001:20::/28 (ORCHIDv2)";
  if ((a[0] & 0xe0) != 0x20) return "outside 2000::/3 (not global unicast)";
  return nullptr;
}

}  // namespace

std::string reserved_range(const sockaddr* addr) {
  if (addr == nullptr) return "no address";
  if (addr->sa_family == AF_INET) {
    uint32_t a = ntohl(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr);
    const char* r = reserved_v4(a);
    return r ? r : "";
  }
  if (addr->sa_family != AF_INET6) return "not an IP address";
  const uint8_t* a = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr.s6_addr;
  uint32_t v4[2];
  const char* form = "";
  int n = embedded_v4(a, v4, &form);
  for (int i = 0; i < n; ++i)
    if (const char* r = reserved_v4(v4[i])) return std::string(form) + " form of " + r;
  if (n > 0) return "";
  const char* r = reserved_v6(a);
  return r ? r : "";
}

bool is_loopback_address(const sockaddr* addr) {
  if (addr == nullptr) return false;
  if (addr->sa_family == AF_INET) return ntohl(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr) >> 24 == 127;
  if (addr->sa_family != AF_INET6) return false;
  // Only the forms the kernel delivers to lo: ::1 and IPv4-mapped 127/8 (NAT64 or 6to4 forms of
  // 127/8 would leave the host, to a gateway's loopback, and stay refused).
  const uint8_t* a = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr.s6_addr;
  static constexpr uint8_t zeros[15] = {};
  if (std::memcmp(a, zeros, 15) == 0 && a[15] == 1) return true;
  return std::memcmp(a, zeros, 10) == 0 && a[10] == 0xff && a[11] == 0xff && a[12] == 127;
}

bool is_metadata_address(const sockaddr* addr) {
  auto metadata_v4 = [](uint32_t a) {
    return a == 0xA9FEA9FE /* 169.254.169.254 */ || a == 0xA9FEAA02 /* 169.254.170.2 */ ||
           a == 0x646464C8 /* 100.100.100.200 */;
  };
  if (addr == nullptr) return false;
  if (addr->sa_family == AF_INET) return metadata_v4(ntohl(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr));
  if (addr->sa_family != AF_INET6) return false;
  const uint8_t* a = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr.s6_addr;
  static constexpr uint8_t ec2[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
  if (std::memcmp(a, ec2, 16) == 0) return true;
  uint32_t v4[2];
  const char* form = "";
  int n = embedded_v4(a, v4, &form);
  for (int i = 0; i < n; ++i)
    if (metadata_v4(v4[i])) return true;
  return false;
}

}  // namespace sandbox
