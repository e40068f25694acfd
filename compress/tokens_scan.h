// The pre-tokenizers of cl100k_base and o200k_base: where each piece of a text ends, exactly as
// tiktoken's regexes (leftmost-first alternation with backtracking, fancy-regex semantics) cut it.
// Private to compress/; tokens.h is the interface.
//
//   cl100k: (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
//           | ' '?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
//   o200k:  [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|...)?
//           | [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|...)?
//           | \p{N}{1,3} | ' '?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
//
// Each alternative is a few lines of forward scanning: the backtracking a regex engine would do is
// resolved by what the forward scan remembers (the last newline of a whitespace run, the last
// Lm/Lo/M of an upper-case run). \s is Unicode White_Space, as in Rust's regex crate; (?i) folds
// as its simple case folding does, so 'ſ (U+017F) is a contraction like 's.
//
// The cursor can record the furthest position a scan read (kTrack): a piece whose scan never read
// the end of the text is the same whatever is appended, which is what the incremental counter
// relies on. The text must be valid UTF-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace compress::tokens::scan {

enum Cat : uint8_t { kOther, kLu, kLl, kLt, kLm, kLo, kM, kN, kSpace, kNewline, kWhite, kEnd, kCats };

enum Prop : uint16_t {
  pL = 1,         // \p{L}
  pN = 2,         // \p{N}
  pS = 4,         // \s
  pNewline = 8,   // [\r\n]
  pUpper = 16,    // o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
  pLower = 32,    // o200k's [\p{Ll}\p{Lm}\p{Lo}\p{M}]
  pPrefix = 64,   // [^\r\n\p{L}\p{N}]
  pPunct = 128,   // [^\s\p{L}\p{N}]
  pBoth = 256,    // in pUpper and in pLower: Lm, Lo, M
};

inline constexpr uint16_t kProps[kCats] = {
    /* kOther   */ pPrefix | pPunct,
    /* kLu      */ pL | pUpper,
    /* kLl      */ pL | pLower,
    /* kLt      */ pL | pUpper,
    /* kLm      */ pL | pUpper | pLower | pBoth,
    /* kLo      */ pL | pUpper | pLower | pBoth,
    /* kM       */ pUpper | pLower | pBoth | pPrefix | pPunct,
    /* kN       */ pN,
    /* kSpace   */ pS | pPrefix,
    /* kNewline */ pS | pNewline,
    /* kWhite   */ pS | pPrefix,
    /* kEnd     */ 0,
};

// The category of a code point beyond ASCII (ICU's general category, Unicode White_Space).
Cat category(uint32_t cp);
void load_categories();  // once, before the first category(): tokenizer() does it
extern const uint8_t kAsciiCat[128];

struct Ch {
  uint8_t cat;
  uint8_t len;
  bool is(uint16_t prop) const { return kProps[cat] & prop; }
};

template <bool kTrack>
struct Cursor {
  const uint8_t* s;
  size_t n;
  size_t seen = 0;  // one past the furthest position read (kTrack only)

  // Inlined for ASCII, the common case; the decoding of the rest stays out of line.
  [[gnu::always_inline]] Ch at(size_t i) {
    if constexpr (kTrack) seen = i + 1 > seen ? i + 1 : seen;
    if (i >= n) return {kEnd, 0};
    uint8_t b = s[i];
    if (b < 0x80) [[likely]] return {kAsciiCat[b], 1};
    return wide(i, b);
  }

  [[gnu::noinline]] Ch wide(size_t i, uint8_t b) const {
    // Valid UTF-8 is the contract; a lead byte cut by the end is read as one "other" byte so
    // nothing reads past the text.
    size_t want = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (i + want > n) return {kOther, 1};
    uint32_t cp;
    uint8_t len;
    if (b < 0xE0) cp = (b & 0x1Fu) << 6 | (s[i + 1] & 0x3Fu), len = 2;
    else if (b < 0xF0) cp = (b & 0x0Fu) << 12 | (s[i + 1] & 0x3Fu) << 6 | (s[i + 2] & 0x3Fu), len = 3;
    else cp = (b & 0x07u) << 18 | (s[i + 1] & 0x3Fu) << 12 | (s[i + 2] & 0x3Fu) << 6 | (s[i + 3] & 0x3Fu), len = 4;
    return {category(cp), len};
  }

  // The character at i as a lower-case ASCII letter when (?i) folds it to one of the contraction
  // letters, with its length; {0, 0} otherwise.
  std::pair<char, size_t> folded(size_t i) {
    Ch c = at(i);
    if (c.len == 1) {
      char b = static_cast<char>(s[i]);
      return {b >= 'A' && b <= 'Z' ? static_cast<char>(b + 32) : b, 1};
    }
    if (c.len == 2 && s[i] == 0xC5 && s[i + 1] == 0xBF) return {'s', 2};  // ſ
    return {0, 0};
  }

  // (?i:'s|'t|'re|'ve|'m|'ll|'d) at p: its length, 0 when none.
  size_t contraction(size_t p) {
    Ch c = at(p);
    if (c.len != 1 || s[p] != '\'') return 0;
    auto [a, la] = folded(p + 1);
    switch (a) {
      case 's': case 't': case 'm': case 'd': return 1 + la;
      case 'r': case 'v': case 'l': {
        auto [b, lb] = folded(p + 1 + la);
        return b == (a == 'l' ? 'l' : 'e') ? 1 + la + lb : 0;
      }
      default: return 0;
    }
  }

  size_t run(size_t p, uint16_t prop) {
    for (Ch c = at(p); c.is(prop); c = at(p)) p += c.len;
    return p;
  }

  // \p{N}{1,3} at p (known to be a number).
  size_t digits(size_t p) {
    for (int k = 0; k < 3; ++k) {
      Ch c = at(p);
      if (!c.is(pN)) break;
      p += c.len;
    }
    return p;
  }

  // \s*[\r\n]+ | \s+(?!\S) | \s+ at p (known to be white space).
  size_t white(size_t p) {
    size_t last_newline_end = 0, last_start = p, e = p;
    for (Ch c = at(e); c.is(pS); c = at(e)) {
      last_start = e;
      e += c.len;
      if (c.is(pNewline)) last_newline_end = e;
    }
    if (last_newline_end) return last_newline_end;  // \s*[\r\n]+: up to the run's last newline
    if (e >= n) return e;                           // \s+(?!\S) at the end of the text
    if (last_start > p) return last_start;          // \s+(?!\S): all but the last
    return e;                                       // \s+: the one character
  }

  // ' '?[^\s\p{L}\p{N}]+ followed by [\r\n]* (cl100k) or [\r\n/]* (o200k), when it matches at p.
  template <bool kSlash>
  size_t punct(size_t p, Ch c) {
    size_t q = p;
    if (c.cat == kSpace) {
      Ch d = at(p + 1);
      if (!d.is(pPunct)) return 0;
      q = p + 1;
    } else if (!c.is(pPunct)) {
      return 0;
    }
    q = run(q, pPunct);
    for (;;) {
      Ch d = at(q);
      if (d.is(pNewline) || (kSlash && d.len == 1 && s[q] == '/')) q += 1;
      else return q;
    }
  }

  size_t cl100k(size_t p) {
    Ch c = at(p);
    if (size_t k = contraction(p)) return p + k;
    if (c.is(pL)) return run(p, pL);
    if (c.is(pPrefix)) {
      if (at(p + c.len).is(pL)) return run(p + c.len, pL);
    }
    if (c.is(pN)) return digits(p);
    if (size_t e = punct<false>(p, c)) return e;
    return white(p);
  }

  // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ contraction? from s; 0 when no match.
  // The greedy upper run gives back characters until a lower-class one follows: the run's end
  // when an Ll follows it, else the run's last Lm/Lo/M.
  size_t o200k_lower(size_t q) {
    size_t last_both = SIZE_MAX, e = q;
    for (Ch c = at(e); c.is(pUpper); c = at(e)) {
      if (c.is(pBoth)) last_both = e;
      e += c.len;
    }
    size_t k;
    if (at(e).cat == kLl) k = e;
    else if (last_both != SIZE_MAX) k = last_both;
    else return 0;
    size_t w = run(k, pLower);
    return w + contraction(w);
  }

  size_t o200k(size_t p) {
    Ch c = at(p);
    if (c.is(pPrefix))
      if (size_t e = o200k_lower(p + c.len)) return e;
    if (size_t e = o200k_lower(p)) return e;
    size_t u = SIZE_MAX;
    if (c.is(pPrefix) && at(p + c.len).is(pUpper)) u = p + c.len;
    else if (c.is(pUpper)) u = p;
    if (u != SIZE_MAX) {
      size_t w = run(run(u, pUpper), pLower);
      return w + contraction(w);
    }
    if (c.is(pN)) return digits(p);
    if (size_t e = punct<true>(p, c)) return e;
    return white(p);
  }
};

}  // namespace compress::tokens::scan
