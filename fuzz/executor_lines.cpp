// The executor protocol's reading side (server/executor_protocol.h): bytes cut into lines by the
// LineReader, fed in pieces of a size the first byte picks, with a small line limit so skipping
// is exercised; each line read as a message. Every line handed on fits the limit, every Bad says
// why, and a Task or Cancel always carries a run_id of 1 to 256 bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "server/executor_protocol.h"

namespace proto = server::executor_protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64, limit = 512;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  proto::LineReader reader(limit);
  auto on_line = [&](std::string_view line) {
    if (line.empty() || line.size() > limit) __builtin_trap();
    proto::Message m = proto::parse_line(line);
    if (auto* bad = std::get_if<proto::Bad>(&m)) {
      if (bad->code.empty() || bad->details.empty()) __builtin_trap();
    } else if (auto* t = std::get_if<proto::Task>(&m)) {
      if (t->run_id.empty() || t->run_id.size() > proto::kMaxRunId) __builtin_trap();
      if (!(t->args.is_null() || t->args.is_object()) || !(t->context.is_null() || t->context.is_object())) __builtin_trap();
    } else if (auto* c = std::get_if<proto::Cancel>(&m)) {
      if (c->run_id.empty() || c->run_id.size() > proto::kMaxRunId) __builtin_trap();
    }
  };
  auto on_too_long = [&](size_t n) {
    if (n <= limit) __builtin_trap();
  };
  for (size_t at = 0; at < in.size(); at += piece) reader.feed(in.substr(at, piece), on_line, on_too_long);
  reader.finish(on_line);
  // The whole input as one line, past the framing (the parser alone, on any bytes).
  if (in.size() <= proto::kMaxLine) (void)proto::parse_line(in);
  return 0;
}
