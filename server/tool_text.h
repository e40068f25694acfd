// The text MCP tools answer with: compact lines a model reads, bounded by a token budget (agent
// hosts refuse a tool answer over 25,000 tokens; ours default to 20,000, and a call may ask for
// fewer with `max_tokens`), saying what the budget or a limit left out. Tokens are o200k_base's,
// counted exactly and incrementally as lines are added (compress/tokens.h). Shared by the modules'
// tool adapters and mcp.cpp.
#pragma once

#include <cstddef>
#include <string>

#include "compress/tokens.h"

namespace server {

inline constexpr size_t kToolTokens = 20000;  // the default budget of a tool's answer
inline constexpr size_t kMinToolTokens = 100, kMaxToolTokens = 100000;

// Text that stops before the budget and says what it left out; the whole answer, that note
// included, stays within the budget.
class Capped {
 public:
  explicit Capped(size_t max_tokens) : cap_(max_tokens), room_(max_tokens > kNoteRoom ? max_tokens - kNoteRoom : 0) {}
  // False once the budget is reached (the line is not added, and counted as left out).
  bool line(const std::string& l) {
    if (!full_) {
      compress::tokens::Counter trial = counter_;
      trial.append(l);
      trial.append("\n");
      if (trial.count() <= room_) {
        counter_ = std::move(trial);
        text_ += l;
        text_ += '\n';
        return true;
      }
    }
    full_ = true;
    ++left_;
    return false;
  }
  // For lists of one line per result: says how many lines the budget left out.
  std::string take() { return take(left_, false); }
  // `not_shown` results were left out (by the budget or a limit); `at_least`: there may be more.
  std::string take(size_t not_shown, bool at_least) {
    if (not_shown)
      text_ += "(output cut: " + std::string(at_least ? "over " : "") + std::to_string(not_shown) + " more; narrow the query or raise limit)\n";
    else if (full_)
      text_ += "(output cut at " + std::to_string(cap_) + " tokens; narrow the query)\n";
    return std::move(text_);
  }

 private:
  static constexpr size_t kNoteRoom = 40;  // tokens of the longest note, with a 20-digit count
  size_t cap_, room_;
  compress::tokens::Counter counter_{compress::tokens::Encoding::O200k};
  std::string text_;
  size_t left_ = 0;
  bool full_ = false;
};

// Any text held to the budget, cut at a character boundary (a tool error can quote what it was
// given), with a note saying so.
inline std::string clipped(std::string text, size_t max_tokens) {
  const auto& t = compress::tokens::tokenizer(compress::tokens::Encoding::O200k);
  std::string valid = compress::tokens::to_valid_utf8(text);
  if (t.count(valid) <= max_tokens) return valid;
  const std::string note = "... (cut at " + std::to_string(max_tokens) + " tokens)";
  size_t keep = max_tokens > 30 ? max_tokens - 30 : 0;
  for (;; keep = keep * 9 / 10) {
    std::string out = valid.substr(0, t.truncate(valid, keep)) + note;
    if (t.count(out) <= max_tokens || keep == 0) return out;
  }
}

}  // namespace server
