// Reading JSON without building a tree: values are spans of the text, checked as they are read.
//
// For a one-shot client of a running server (`indexer query`), whose whole process is a few ms:
// nlohmann's tree of a 6 KB answer of 20 hits took 1,300 allocations, and each new allocation size
// faulted in a fresh allocator page, 35 page faults and a fifth of the process's CPU in all. Here
// nothing allocates but string_value, for a string longer than std::string's inline buffer.
//
// Invariant: length() accepts exactly RFC 8259's grammar (strings' bytes above 0x7F are taken as
// they are, not checked as UTF-8), nested at most kMaxDepth deep, so a hostile text can neither
// exhaust the stack nor make Items read past its end. Items and the value readers expect a span
// that length() accepted; given anything else they stop or return nullopt, never read outside it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace server::json_scan {

constexpr int kMaxDepth = 64;

// The length of the one JSON value at the start of `text` (leading whitespace counted), or 0 when
// there is none or it is malformed or nested deeper than kMaxDepth.
size_t length(std::string_view text);

// `text` is exactly one JSON value, with whitespace around it at most.
bool whole(std::string_view text);

// The members of an object or the elements of an array, in order: `value` the member's whole text
// (a span for length() and the readers below), `key` its name as written between the quotes (so
// a name spelled with escapes does not compare equal to its plain spelling; ours never are).
class Items {
 public:
  explicit Items(std::string_view container);
  bool next(std::string_view& key, std::string_view& value);
  bool next(std::string_view& value) {
    std::string_view key;
    return next(key, value);
  }

 private:
  std::string_view text_;
  size_t at_ = 0;
  char close_ = 0;  // '}' or ']'; 0 once done or when `container` was neither
};

// A string value's characters, escapes decoded (a lone surrogate becomes U+FFFD); nullopt when
// `value` is not a string.
std::optional<std::string> string_value(std::string_view value);

// A whole number from 0 to 2^64-1; nullopt for anything else (a fraction, an exponent, a sign).
std::optional<uint64_t> unsigned_value(std::string_view value);

// The value of `key` in `object`, or an empty span when it has none.
std::string_view member(std::string_view object, std::string_view key);

}  // namespace server::json_scan
