// Framing of the stdio transports, apart from their I/O so it can be fed from memory (the fuzz
// targets do). Private to server/.
//
// The two framings of a byte stream fed in pieces as they arrive: LSP's Content-Length headers
// and MCP's lines. Whole messages go to `message`; a frame over `max_message` is skipped as it
// arrives (never held) and answered through `reject`; what is no frame at all (headers without a
// usable Content-Length, 64 KiB without the end of a header) is dropped with a line to `log`.
// Memory: at most one frame's headers or one message, plus the last piece fed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace server::detail {

struct FrameSink {
  std::function<void(std::string_view message)> message;
  std::function<void(const std::string& why)> reject;
  std::function<void(const std::string& line)> log;
};

class LspFramer {
 public:
  explicit LspFramer(size_t max_message) : max_(max_message) {}
  void feed(std::string_view bytes, const FrameSink& sink);

 private:
  size_t max_;
  std::string buf_;
  uint64_t skipping_ = 0;  // bytes still to drop of an oversized message
};

class LineFramer {
 public:
  explicit LineFramer(size_t max_message) : max_(max_message) {}
  void feed(std::string_view bytes, const FrameSink& sink);

 private:
  size_t max_;
  std::string buf_;
  bool dropping_ = false;  // inside an oversized line, up to its newline
};

}  // namespace server::detail
