// The sandbox proxy's request-head reader (sandbox/proxy_request.h), what a sandboxed command
// sends first. Beyond not crashing, a parsed head must name a host in the one form decide judges
// (lowercase name of [a-z0-9._-] without a trailing dot, or a canonical IP literal) and a port, and
// the head forwarded to an origin must be clean lines with exactly one Host and a closing blank line.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sandbox/proxy_request.h"

namespace pd = sandbox::proxy_detail;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_host(const pd::RequestHead& h) {
  check(!h.host.empty() && h.port != 0);
  if (h.host_is_ip) {
    unsigned char a[16];
    char back[INET6_ADDRSTRLEN];
    int family = h.host.find(':') == std::string::npos ? AF_INET : AF_INET6;
    check(inet_pton(family, h.host.c_str(), a) == 1);
    check(inet_ntop(family, a, back, sizeof back) && h.host == back);  // canonical
    return;
  }
  check(h.host.back() != '.' && h.host.front() != '.' && h.host.find("..") == std::string::npos);
  for (char c : h.host) check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t end = pd::find_head_end(in);
  check(end == std::string_view::npos || end <= in.size());
  pd::RequestHead h;
  pd::ParseOutcome r = pd::parse_request_head(end == std::string_view::npos ? in : in.substr(0, end), h);
  if (r.status == 0) {
    check_host(h);
    if (!h.connect) {
      check(!h.path.empty() && h.path.front() == '/');
      std::string fwd = pd::forward_head(h);
      check(fwd.size() >= 4 && fwd.compare(fwd.size() - 4, 4, "\r\n\r\n") == 0);
      size_t hosts = 0;
      for (size_t i = 0; i < fwd.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(fwd[i]);
        if (c == '\r') check(i + 1 < fwd.size() && fwd[i + 1] == '\n');
        else if (c == '\n') check(i > 0 && fwd[i - 1] == '\r');
        else check(c >= 0x20 || c == '\t');
        if (c == '\n' && fwd.compare(i + 1, 6, "Host: ") == 0) ++hosts;
      }
      check(hosts == 1);
    }
  } else {
    check(r.status >= 400 && r.status < 600 && !r.reason.empty());
  }
  pd::RequestHead a;
  pd::ParseOutcome ra = pd::parse_authority(in.substr(0, 300), 80, a);
  if (ra.status == 0) check_host(a);
  std::string target;
  pd::sniff_tunnel(in, &target);
  return 0;
}
