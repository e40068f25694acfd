// Exact token counts for OpenAI's cl100k_base and o200k_base, the ids tiktoken gives.
//
// Concept: a text is cut into pieces by the encoding's pre-tokenizer (a hand-written scanner that
// follows tiktoken's regex exactly, over ICU's Unicode general categories), and each piece is
// merged by byte-pair ranks from the encoding's rank file (embedded in the binary at build time).
// Special tokens are not recognised in text: `<|endoftext|>` is counted as the characters it is,
// like tiktoken's encode_ordinary, which is what a compactor measuring user text wants; decode
// still turns a special id into its text.
//
// Invariant: for valid UTF-8 the ids equal tiktoken's. Invalid UTF-8 is first made valid by
// replacing each maximal invalid subpart with U+FFFD (the WHATWG / Rust from_utf8_lossy rule), so
// the ids are tiktoken's for that replaced text.
//
// Cost: the vocabulary is a hash table the build made from the rank file and embedded, read in
// place: first use costs ~0.5 ms (a 64 KB table of Unicode categories). count and encode take no
// lock and allocate nothing but their output (and, once per thread, a 300 KB cache of recent
// merges, exact, so repeated words skip the merge). A piece is merged by scanning its parts when
// short, and through a tournament tree over its parts when long, so one 80,000-letter word costs
// milliseconds, not the seconds of a quadratic merge loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace compress::tokens {

enum class Encoding : uint8_t { Cl100k, O200k };

// "cl100k_base" or "o200k_base"; nullopt for anything else.
std::optional<Encoding> encoding_named(std::string_view name);
const char* name_of(Encoding encoding);

// Each maximal invalid subpart replaced by U+FFFD; valid UTF-8 is returned as it is.
std::string to_valid_utf8(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

class Tokenizer;
// The encoding's tokenizer, loaded on first use (thread-safe); it lives until the process exits.
const Tokenizer& tokenizer(Encoding encoding);

class Tokenizer {
 public:
  size_t count(std::string_view text) const;
  std::vector<uint32_t> encode(std::string_view text) const;
  void encode(std::string_view text, std::vector<uint32_t>& out) const;  // appends

  // The bytes of the ids, or the first id the encoding does not have. A token may hold part of a
  // UTF-8 sequence; the bytes are returned as they are (the caller decides how to show them).
  struct Decoded {
    std::string bytes;
    std::optional<uint32_t> unknown;
  };
  Decoded decode(std::span<const uint32_t> ids) const;

  // truncate, split and count_range take valid UTF-8 (to_valid_utf8 first): their offsets are
  // into the text as given. Invalid bytes there are read safely but counted as tiktoken would not.

  // The count of text[begin, end) taken as a text of its own, both ends moved back to the start of
  // their UTF-8 sequence so no character is split.
  size_t count_range(std::string_view text, size_t begin, size_t end) const;

  // The length in bytes of the longest prefix found by cutting after the first max_tokens tokens,
  // moved back to a character boundary and shortened until count(prefix) <= max_tokens (a prefix
  // may tokenize differently from the text it was cut from).
  size_t truncate(std::string_view text, size_t max_tokens) const;

  // Consecutive [begin, end) byte ranges covering text, each counting at most max_tokens (>= 1)
  // on its own; cut after a newline where one fits, else where the tokens say, moved back to a
  // character boundary. The one exception: a single character that alone counts more than
  // max_tokens (up to 4 tokens) is a chunk of its own.
  std::vector<std::pair<size_t, size_t>> split(std::string_view text, size_t max_tokens) const;

  Encoding encoding() const { return encoding_; }
  size_t vocabulary_size() const;  // mergeable ranks, specials not included

  struct Impl;
  explicit Tokenizer(Encoding encoding, Impl* impl) : encoding_(encoding), impl_(impl) {}

 private:
  friend class Counter;
  Encoding encoding_;
  Impl* impl_;
};

// The count of a text as it grows: append() re-scans only the unstable tail (the pieces whose
// scan looked at the end of the text, plus an unfinished UTF-8 sequence), so after every append
// count() equals tokenizer(e).count(everything appended so far). Cost: an append re-scans the
// tail, so a piece that never settles (one word without boundaries, fed in k appends) costs k
// times its own count: text of words and lines keeps the tail short (a test checks under 64 bytes).
class Counter {
 public:
  explicit Counter(Encoding encoding);
  void append(std::string_view bytes);
  size_t count() const { return stable_ + tail_tokens_; }
  size_t tail_bytes() const { return tail_.size() + pending_.size(); }  // what the next append re-scans

 private:
  const Tokenizer* tokenizer_;
  size_t stable_ = 0;       // tokens of the pieces that no later byte can change
  size_t tail_tokens_ = 0;  // tokens of the rest, as it stands
  std::string tail_;        // valid UTF-8 from the first unstable piece
  std::string pending_;     // an unfinished UTF-8 sequence at the very end
};

}  // namespace compress::tokens
