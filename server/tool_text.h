// The text MCP tools answer with: compact lines a model reads, bounded by a character cap, and
// saying what the cap or a limit left out. Shared by the modules' tool adapters and mcp.cpp.
#pragma once

#include <cstddef>
#include <string>

namespace server {

inline constexpr size_t kMaxToolChars = 12000;

// Text that stops before the character cap and says what it left out; the whole answer, that
// note included, stays within the cap.
class Capped {
 public:
  explicit Capped(size_t cap) : cap_(cap), room_(cap - kNoteRoom) {}
  // False once the cap is reached (the line is not added, and counted as left out).
  bool line(const std::string& l) {
    if (full_ || text_.size() + l.size() + 1 > room_) {
      full_ = true;
      ++left_;
      return false;
    }
    text_ += l;
    text_ += '\n';
    return true;
  }
  // For lists of one line per result: says how many lines the cap left out.
  std::string take() { return take(left_, false); }
  // `not_shown` results were left out (by the cap or a limit); `at_least`: there may be more.
  std::string take(size_t not_shown, bool at_least) {
    if (not_shown)
      text_ += "(output cut: " + std::string(at_least ? "over " : "") + std::to_string(not_shown) + " more; narrow the query or raise limit)\n";
    else if (full_)
      text_ += "(output cut at " + std::to_string(cap_) + " characters; narrow the query)\n";
    return std::move(text_);
  }

 private:
  static constexpr size_t kNoteRoom = 100;  // the longest note, with a 20-digit count
  size_t cap_, room_;
  std::string text_;
  size_t left_ = 0;
  bool full_ = false;
};

// The cap for any text, cut at a character boundary (a tool error can quote what it was given).
inline std::string clipped(std::string text) {
  if (text.size() <= kMaxToolChars) return text;
  const std::string note = "... (cut at " + std::to_string(kMaxToolChars) + " characters)";
  size_t end = kMaxToolChars - note.size();
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text + note;
}

}  // namespace server
