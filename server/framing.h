// Framing of the stdio transports, apart from their I/O so it can be fed from memory (the fuzz
// targets do). Private to server/.
//
// The two framings of a byte stream fed in pieces as they arrive: LSP's Content-Length headers
// (LspFramer: frames and complaints are pulled with next()) and MCP's lines (LineFramer: whole
// lines go to the sink's `message`; a line over `max_message` is skipped as it arrives, never
// held, and answered through `reject`).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace server::detail {

struct FrameSink {
  std::function<void(std::string_view message)> message;
  std::function<void(const std::string& why)> reject;
  std::function<void(const std::string& line)> log;
};

// LSP's base protocol read from a byte stream: header lines ("Name: value\r\n"), an empty line,
// then Content-Length bytes of body. Bytes go in as they arrive (any split); whole bodies and
// complaints come out. Content-Length must be decimal digits only (at most 20, and no overflow),
// in one header; anything else (a sign, hex, twenty nines, two lengths, none, a header block past
// 64 KiB) is a Problem, and a length over `max_body` (2^64-1) is TooLarge. Either way the body's
// end is not trusted: the framer skips to the next "Content-Length:" it sees, so the stream goes
// on with the next good frame. A run of bad frames yields one complaint, not one each (junk full
// of "Content-Length:" would otherwise be answered many times over): the next is said only after
// a good frame. Memory: at most one header block plus one body of `max_body`; a
// refused body is dropped as it arrives, never held.
class LspFramer {
 public:
  explicit LspFramer(size_t max_body) : max_body_(max_body) {}
  void append(std::string_view bytes);
  struct Frame {
    enum Kind : uint8_t { Body, Problem, TooLarge } kind;
    std::string_view body;  // Body: valid until the next call
    std::string why;        // Problem, TooLarge: for the client and the log
  };
  // The next frame, or nullopt until more bytes arrive.
  std::optional<Frame> next();

 private:
  static constexpr size_t kMaxHeader = 64 * 1024;
  bool resync();  // drops bytes up to the next "Content-Length:"; false when none is there yet
  std::optional<Frame> parse();  // next() without the quieting of repeated complaints
  std::string buf_;
  size_t pos_ = 0;             // bytes of buf_ already handed out
  bool resyncing_ = false;     // after a bad frame: looking for the next header
  bool complained_ = false;    // a complaint since the last good frame: the next ones are dropped
  size_t max_body_;
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
