// compress::tokens on arbitrary bytes, both encodings: input is OPTIONS TEXT (one byte of options:
// the low 5 bits a token budget for truncate and split, the high 3 the piece size the incremental
// counter is fed in). For any bytes: encode(x) == encode(to_valid_utf8(x)) (invalid UTF-8 is
// replaced by U+FFFD first, as documented), count(x) == encode(x).size(), decode(encode(x)) gives
// the replaced text back; truncate keeps a prefix, at a character boundary, that counts within the
// budget (the whole text when it fits); split covers the text with consecutive chunks each within
// the budget (but a single character that alone counts more); count_range counts the characters
// it names; the counter fed the bytes in pieces (at most 16) ends at count(x).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "compress/tokens.h"

namespace {

namespace tk = compress::tokens;

[[noreturn]] void fail(tk::Encoding e, const char* what) {
  std::fprintf(stderr, "tokens fuzz (%s): %s\n", tk::name_of(e), what);
  std::abort();
}

bool boundary(std::string_view s, size_t i) { return i == 0 || i >= s.size() || (static_cast<uint8_t>(s[i]) & 0xC0) != 0x80; }

// Bytes of the UTF-8 sequence that starts at i of valid text.
size_t char_length(std::string_view s, size_t i) {
  size_t n = 1;
  while (i + n < s.size() && (static_cast<uint8_t>(s[i + n]) & 0xC0) == 0x80) ++n;
  return n;
}

void check(tk::Encoding e, std::string_view text, const std::string& valid, size_t budget, size_t piece) {
  const tk::Tokenizer& t = tk::tokenizer(e);
  auto ids = t.encode(text);
  if (t.encode(valid) != ids) fail(e, "encode(x) != encode(to_valid_utf8(x))");
  if (t.count(text) != ids.size()) fail(e, "count != encode().size()");
  auto decoded = t.decode(ids);
  if (decoded.unknown) fail(e, "encode gave an id decode does not know");
  if (decoded.bytes != valid) fail(e, "decode(encode(x)) != to_valid_utf8(x)");
  for (uint32_t id : ids)
    if (id >= t.vocabulary_size()) fail(e, "encode gave a special id for plain text");

  size_t cut = t.truncate(valid, budget);
  if (cut > valid.size() || !boundary(valid, cut)) fail(e, "truncate cut inside a character or past the end");
  if (t.count(std::string_view(valid).substr(0, cut)) > budget) fail(e, "truncate's prefix counts more than the budget");
  if (ids.size() <= budget && cut != valid.size()) fail(e, "truncate cut a text that fits");

  size_t covered = 0;
  for (auto [b, end] : t.split(valid, budget)) {
    if (b != covered || end <= b || end > valid.size()) fail(e, "split's chunks do not cover the text in order");
    if (!boundary(valid, end)) fail(e, "split cut inside a character");
    std::string_view chunk = std::string_view(valid).substr(b, end - b);
    if (t.count(chunk) > budget && chunk.size() != char_length(valid, b)) fail(e, "a split chunk counts more than the budget");
    covered = end;
  }
  if (covered != valid.size()) fail(e, "split does not cover the text");

  size_t begin = valid.size() / 3, last = valid.size() - valid.size() / 4;
  size_t b = begin, en = last;
  while (!boundary(valid, en)) --en;
  while (!boundary(valid, b)) --b;
  if (t.count_range(valid, begin, last) != t.count(std::string_view(valid).substr(b, en - b))) fail(e, "count_range differs from the count of its characters");

  // Each append re-scans the unstable tail, which a word without boundaries keeps growing: fed in
  // k pieces, such a word of n bytes costs k times its count (documented). At most 16 pieces
  // here, so a long word does not slow the fuzzing to a crawl.
  piece = std::max(piece, text.size() / 16);
  tk::Counter counter(e);
  for (size_t at = 0; at < text.size(); at += piece) counter.append(text.substr(at, piece));
  if (counter.count() != ids.size()) fail(e, "the incremental count differs from count()");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (64 << 10)) return 0;
  size_t budget = 1 + (data[0] & 31), piece = 1 + ((data[0] >> 5) * 3);
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string valid = tk::to_valid_utf8(text);
  if (!tk::is_valid_utf8(valid)) std::abort();
  if (tk::is_valid_utf8(text) != (valid == text)) std::abort();
  if (tk::to_valid_utf8(valid) != valid) std::abort();
  for (tk::Encoding e : {tk::Encoding::Cl100k, tk::Encoding::O200k}) check(e, text, valid, budget, piece);
  return 0;
}
