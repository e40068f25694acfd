// Fuzzy matching of a short pattern against an identifier, in the spirit of clangd's FuzzyMatch
// and fzf's v2 algorithm.
//
// The pattern must be a subsequence of the word (case-insensitive). Among all alignments the
// matcher picks the best by dynamic programming: matching a segment start (camelCase hump,
// snake_case word, digit run, first character) earns a bonus, consecutive matches earn more,
// a gap costs a start penalty plus a little per skipped character, and a character matched in its
// own case earns a small bonus when the pattern has a capital (one typed all in lower case says
// nothing about case). So "gRS" prefers get-Response-Status over any scattered alignment.
//
// Cost: O(|pattern| * |word|) with both bounded (kMaxPattern, kMaxWord); the tables live in the
// matcher, so match() never allocates. One matcher per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace query {

// Where a segment starts in an identifier; shared by the matcher and the index builders.
enum class CharRole : uint8_t { Head, Tail, Separator };

// Writes the role of each of the first min(word.size(), out_size) characters.
void char_roles(std::string_view word, CharRole* out, size_t out_size);

class FuzzyMatcher {
 public:
  static constexpr size_t kMaxPattern = 63;
  static constexpr size_t kMaxWord = 127;

  explicit FuzzyMatcher(std::string_view pattern);

  // A score (higher is better) when the pattern matches the word, nullopt otherwise. Words longer
  // than kMaxWord are matched on their first kMaxWord characters. With `strict_case`, a pattern
  // that has a capital matches only alignments its case does not contradict: no capital on a
  // small letter inside a word, no small letter on a capital that starts a segment (`TestSrl`
  // matches TestSerialization, not TestSingleRequestLookup), as fzf's smart case would have it
  // but lenient where case says nothing (`ASH` still matches add_set_handler).
  std::optional<int32_t> match(std::string_view word, bool strict_case = false);
  bool cased() const { return cased_; }

  bool empty() const { return pattern_len_ == 0; }

 private:
  char pattern_[kMaxPattern];
  char lower_pattern_[kMaxPattern];
  size_t pattern_len_;
  bool cased_ = false;  // the pattern has a capital: case was typed, so matching it earns
  char lower_word_[kMaxWord];
  CharRole roles_[kMaxWord];
  // best[i][j]: best score with pattern[0..i] matched inside word[0..j], pattern[i] at word[j]
  // (match) or the best ending anywhere up to j (any).
  int32_t match_score_[kMaxPattern][kMaxWord];
  int32_t best_any_[kMaxPattern][kMaxWord];
};

}  // namespace query
