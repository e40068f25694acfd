// The stdio framings (server/framing.h): LSP's Content-Length headers, or with FUZZ_LINES MCP's
// lines. The first byte picks how the rest is cut into the pieces reads would return; a small
// message limit exercises skipping. Every message handed on must fit the limit.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/framing.h"

#ifndef FUZZ_LINES
#define FUZZ_LINES 0
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64, limit = 256;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t delivered = 0;
#if FUZZ_LINES
  server::detail::FrameSink sink{[&](std::string_view m) {
                                   if (m.size() > limit + 64 || m.data() == nullptr) __builtin_trap();
                                   delivered += m.size();
                                 },
                                 [](const std::string&) {}, [](const std::string&) {}};
  server::detail::LineFramer framer(limit);
  for (size_t at = 0; at < in.size(); at += piece) framer.feed(in.substr(at, piece), sink);
#else
  server::detail::LspFramer framer(limit);
  for (size_t at = 0; at < in.size(); at += piece) {
    framer.append(in.substr(at, piece));
    while (auto f = framer.next()) {
      if (f->kind != server::detail::LspFramer::Frame::Body) {
        if (f->why.empty()) __builtin_trap();  // a complaint always says why
        continue;
      }
      if (f->body.size() > limit) __builtin_trap();
      delivered += f->body.size();
    }
  }
#endif
  if (delivered > in.size()) __builtin_trap();  // nothing is made up or delivered twice
  return 0;
}
