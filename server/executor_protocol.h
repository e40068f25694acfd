// The executor protocol's reading side (`indexer executor`, README "Executor protocol"): bytes
// from stdin cut into lines, each line read as one message. Apart from the stdio loop
// (executor_stdio.cpp) so that the fuzz target feeds it from memory.
//
// Invariants: memory is bounded by one line of kMaxLine bytes; a longer line is skipped as it
// arrives (never held) and reported once; every line gives exactly one Message, a Bad one for
// anything malformed (not JSON, nested deeper than kMaxDepth, not UTF-8, a wrong field), with the
// run_id when one could be read, so the stream goes on. Cost: each byte is scanned once for its
// newline (a long line arriving in pieces is not scanned again per piece), then parsed once.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <variant>

namespace server::executor_protocol {

inline constexpr size_t kMaxLine = 24 << 20;  // fs.write's 16 MiB as base64, and its envelope
inline constexpr size_t kMaxDepth = 64;
inline constexpr size_t kMaxRunId = 256;

class LineReader {
 public:
  explicit LineReader(size_t max_line = kMaxLine) : max_(max_line) {}
  // Whole lines ("\n", or "\r\n") go to `line`, empty ones skipped; a line over the limit goes to
  // `too_long` once, with the bytes it had when it was given up.
  void feed(std::string_view bytes, const std::function<void(std::string_view)>& line,
            const std::function<void(size_t)>& too_long);
  // At end of input: a last line without its newline.
  void finish(const std::function<void(std::string_view)>& line);

 private:
  size_t max_;
  std::string buf_;
  size_t scanned_ = 0;     // bytes of buf_ known to hold no newline
  bool dropping_ = false;  // inside an oversized line, up to its newline
  size_t dropped_ = 0;
};

struct Hello {};
struct Task {
  std::string run_id, op;
  nlohmann::json args, context;  // objects (null when absent)
};
struct Cancel {
  std::string run_id;
};
struct Bad {
  std::string run_id;  // "" when none could be read
  std::string code;    // parse_error, invalid_message, unknown_type
  std::string details;
};
using Message = std::variant<Hello, Task, Cancel, Bad>;

Message parse_line(std::string_view line);

}  // namespace server::executor_protocol
