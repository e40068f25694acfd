#include "query/fuzzy_match.h"

#include <algorithm>
#include <cassert>

namespace query {
namespace {

// Scores, in the units of fzf's v2 (a matched character is worth 16).
constexpr int32_t kMatch = 16;
constexpr int32_t kHeadBonus = 8;        // matched a segment start
constexpr int32_t kFirstCharBonus = 8;   // matched the word's first character with the pattern's first
constexpr int32_t kConsecutive = 5;      // matched right after the previous match
constexpr int32_t kCaseBonus = 2;        // same case as typed
constexpr int32_t kUpperHeadBonus = 3;   // typed an upper-case letter and hit a hump
constexpr int32_t kGapStart = 3;
constexpr int32_t kGapExtend = 1;
constexpr int32_t kNone = INT32_MIN / 4;  // far below any real score, safe to add to

inline bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_word_char(char c) {
  return is_upper(c) || is_lower(c) || is_digit(c) || static_cast<unsigned char>(c) >= 0x80;
}
inline char to_lower(char c) { return is_upper(c) ? char(c + ('a' - 'A')) : c; }

}  // namespace

void char_roles(std::string_view word, CharRole* out, size_t out_size) {
  size_t n = std::min(word.size(), out_size);
  for (size_t i = 0; i < n; ++i) {
    char c = word[i];
    if (!is_word_char(c)) {
      out[i] = CharRole::Separator;
      continue;
    }
    if (i == 0) {
      out[i] = CharRole::Head;
      continue;
    }
    char prev = word[i - 1];
    bool head;
    if (!is_word_char(prev)) head = true;                        // after _ - . $ /
    else if (is_digit(c)) head = !is_digit(prev);                // "vec3": '3'
    else if (is_digit(prev)) head = true;                        // "vec3d": 'd'
    else if (is_upper(c)) {
      // "getName": 'N'; "HTTPServer": 'S' (upper followed by lower after an upper run)
      head = !is_upper(prev) || (i + 1 < word.size() && is_lower(word[i + 1]));
    } else head = false;
    out[i] = head ? CharRole::Head : CharRole::Tail;
  }
}

FuzzyMatcher::FuzzyMatcher(std::string_view pattern) {
  pattern_len_ = std::min(pattern.size(), kMaxPattern);
  for (size_t i = 0; i < pattern_len_; ++i) {
    pattern_[i] = pattern[i];
    lower_pattern_[i] = to_lower(pattern[i]);
    cased_ |= is_upper(pattern[i]);
  }
}

std::optional<int32_t> FuzzyMatcher::match(std::string_view word, bool strict_case) {
  strict_case = strict_case && cased_;
  const size_t n = pattern_len_;
  const size_t m = std::min(word.size(), kMaxWord);
  if (n == 0) return 0;
  if (m < n) return std::nullopt;

  // Cheap rejection first: is the pattern a subsequence at all? (Under strict case, of the
  // positions case allows: the leftmost such subsequence exists whenever any does.)
  size_t p = 0;
  for (size_t j = 0; j < m && p < n; ++j) {
    lower_word_[j] = to_lower(word[j]);
    if (lower_word_[j] == lower_pattern_[p]) ++p;
  }
  if (p < n) return std::nullopt;
  for (size_t j = 0; j < m; ++j) lower_word_[j] = to_lower(word[j]);
  char_roles(word, roles_, m);
  auto contradicts = [&](size_t i, size_t j) {
    return strict_case && ((is_upper(pattern_[i]) && is_lower(word[j]) && roles_[j] == CharRole::Tail) ||
                           (is_lower(pattern_[i]) && is_upper(word[j]) && roles_[j] == CharRole::Head));
  };
  if (strict_case) {
    p = 0;
    for (size_t j = 0; j < m && p < n; ++j)
      if (lower_word_[j] == lower_pattern_[p] && !contradicts(p, j)) ++p;
    if (p < n) return std::nullopt;
  }

  // match_score_[i][j]: pattern[i] matched at word[j]. best_any_[i][j]: pattern[0..i] matched
  // within word[0..j] with word[j] skipped (a gap), so the next match pays no second gap start.
  for (size_t i = 0; i < n; ++i) {
    // pattern[i] can only sit in word[i .. m-n+i]
    const size_t lo = i, hi = m - n + i;
    int32_t gap = kNone;
    for (size_t j = lo; j <= hi; ++j) {
      int32_t score = kNone;
      if (lower_word_[j] == lower_pattern_[i] && !contradicts(i, j)) {
        int32_t base = kMatch;
        if (cased_ && word[j] == pattern_[i]) base += kCaseBonus;
        const bool head = roles_[j] == CharRole::Head;
        if (head && is_upper(pattern_[i])) base += kUpperHeadBonus;
        // A segment start is worth its bonus where a match begins (at the start or after a gap);
        // inside a consecutive run the run bonus already pays, so "status" ranks "status" above
        // "sTaTuS" for the typed case rather than for humps nobody aimed at.
        const int32_t head_bonus = head ? kHeadBonus : 0;
        int32_t before = kNone;
        if (i == 0) {
          // Skipping leading characters costs like a gap, but never more than a long one.
          before = head_bonus + (j == 0 ? kFirstCharBonus : -(kGapStart + int32_t(std::min<size_t>(j, 12)) * kGapExtend));
        } else if (j > 0) {
          int32_t run = match_score_[i - 1][j - 1] + kConsecutive;
          int32_t after_gap = best_any_[i - 1][j - 1] + head_bonus;
          before = std::max(run, after_gap);
        }
        if (before > kNone / 2) score = before + base;
      }
      match_score_[i][j] = score;
      // Gap state at j: word[j] itself is skipped after the best state at j-1.
      if (j > lo) {
        int32_t from_match = match_score_[i][j - 1] - kGapStart;
        int32_t extend = gap - kGapExtend;
        gap = std::max(from_match, extend);
      }
      best_any_[i][j] = gap;
    }
  }
  int32_t best = kNone;
  for (size_t j = n - 1; j < m; ++j) best = std::max(best, match_score_[n - 1][j]);
  if (best <= kNone / 2) return std::nullopt;
  return best;
}

}  // namespace query
