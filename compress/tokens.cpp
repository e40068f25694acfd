#include "compress/tokens.h"

#include <unicode/uchar.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <memory>
#include <mutex>

#include "compress/tokens_scan.h"
#include "compress/tokens_table.h"

// The vocabulary tables (tokens_table.h), embedded by tokens_data.cpp.
extern "C" {
extern const char indexer_cl100k_base[];
extern const char indexer_o200k_base[];
}

namespace compress::tokens {

// ---- UTF-8 --------------------------------------------------------------------------------------

namespace {

// Length of the valid sequence at s[i..n), or 0 when the bytes there are not one; `partial` is set
// when they are a valid but unfinished prefix cut by the end of the input.
size_t sequence_at(const uint8_t* s, size_t i, size_t n, size_t* maximal_subpart, bool* partial = nullptr) {
  uint8_t b = s[i];
  if (b < 0x80) return 1;
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) need = 1;
  else if (b >= 0xE0 && b <= 0xEF) need = 2, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
  else if (b >= 0xF0 && b <= 0xF4) need = 3, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
  else return *maximal_subpart = 1, 0;
  size_t k = 1;
  for (; k <= need; ++k) {
    if (i + k >= n) {
      if (partial) *partial = true;
      return *maximal_subpart = k, 0;
    }
    uint8_t c = s[i + k];
    if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return *maximal_subpart = k, 0;
  }
  return need + 1;
}

// Bytes at the end of s that begin a valid sequence the end cut short (0 to 3).
size_t unfinished_suffix(std::string_view s) {
  auto p = reinterpret_cast<const uint8_t*>(s.data());
  for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    size_t i = s.size() - back;
    if ((p[i] & 0xC0) == 0x80) continue;  // a continuation byte: the lead is further back
    size_t sub = 0;
    bool partial = false;
    sequence_at(p, i, s.size(), &sub, &partial);
    return partial ? back : 0;
  }
  return 0;
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) {
  auto s = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t n = bytes.size(), i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if (!(w & 0x8080808080808080ull)) {
        i += 8;
        continue;
      }
    }
    size_t sub = 0;
    size_t len = sequence_at(s, i, n, &sub);
    if (!len) return false;
    i += len;
  }
  return true;
}

std::string to_valid_utf8(std::string_view bytes) {
  if (is_valid_utf8(bytes)) return std::string(bytes);
  auto s = reinterpret_cast<const uint8_t*>(bytes.data());
  std::string out;
  out.reserve(bytes.size() + 16);
  for (size_t i = 0, n = bytes.size(); i < n;) {
    size_t sub = 0;
    if (size_t len = sequence_at(s, i, n, &sub)) {
      out.append(bytes.data() + i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i += sub;
    }
  }
  return out;
}

// ---- Unicode categories -------------------------------------------------------------------------

namespace scan {

// Control characters are "other"; \t \v \f are white space, \r \n newlines.
const uint8_t kAsciiCat[128] = {
    kOther, kOther, kOther, kOther, kOther, kOther, kOther, kOther, kOther, kWhite, kNewline, kWhite, kWhite, kNewline, kOther, kOther,
    kOther, kOther, kOther, kOther, kOther, kOther, kOther, kOther, kOther, kOther, kOther,  kOther, kOther, kOther,   kOther, kOther,
    kSpace, kOther, kOther, kOther, kOther, kOther, kOther, kOther, kOther, kOther, kOther,  kOther, kOther, kOther,   kOther, kOther,
    kN,     kN,     kN,     kN,     kN,     kN,     kN,     kN,     kN,     kN,     kOther,  kOther, kOther, kOther,   kOther, kOther,
    kOther, kLu,    kLu,    kLu,    kLu,    kLu,    kLu,    kLu,    kLu,    kLu,    kLu,     kLu,    kLu,    kLu,      kLu,    kLu,
    kLu,    kLu,    kLu,    kLu,    kLu,    kLu,    kLu,    kLu,    kLu,    kLu,    kLu,     kOther, kOther, kOther,   kOther, kOther,
    kOther, kLl,    kLl,    kLl,    kLl,    kLl,    kLl,    kLl,    kLl,    kLl,    kLl,     kLl,    kLl,    kLl,      kLl,    kLl,
    kLl,    kLl,    kLl,    kLl,    kLl,    kLl,    kLl,    kLl,    kLl,    kLl,    kLl,     kOther, kOther, kOther,   kOther, kOther,
};

namespace {

Cat from_icu(uint32_t cp) {
  // Unicode White_Space beyond ASCII (the set \s matches in Rust's regex crate).
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return kWhite;
    default:
      if (cp >= 0x2000 && cp <= 0x200A) return kWhite;
  }
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_UPPERCASE_LETTER: return kLu;
    case U_LOWERCASE_LETTER: return kLl;
    case U_TITLECASE_LETTER: return kLt;
    case U_MODIFIER_LETTER: return kLm;
    case U_OTHER_LETTER: return kLo;
    case U_NON_SPACING_MARK: case U_ENCLOSING_MARK: case U_COMBINING_SPACING_MARK: return kM;
    case U_DECIMAL_DIGIT_NUMBER: case U_LETTER_NUMBER: case U_OTHER_NUMBER: return kN;
    default: return kOther;
  }
}

// The Basic Multilingual Plane's categories, filled once (64 KB) so the hot path skips ICU.
struct BmpTable {
  uint8_t cat[0x10000];
  BmpTable() {
    for (uint32_t cp = 0; cp < 0x10000; ++cp) cat[cp] = cp < 0x80 ? kAsciiCat[cp] : static_cast<uint8_t>(from_icu(cp));
  }
};
const BmpTable* g_bmp = nullptr;  // set before the first tokenizer is handed out

}  // namespace

void load_categories() {
  static const BmpTable table;
  g_bmp = &table;
}

Cat category(uint32_t cp) { return cp < 0x10000 ? static_cast<Cat>(g_bmp->cat[cp]) : from_icu(cp); }

}  // namespace scan

// ---- The vocabulary -----------------------------------------------------------------------------

namespace {

constexpr uint32_t kNone = UINT32_MAX;

struct Special {
  uint32_t id;
  const char* text;
};

}  // namespace

// The build's table (tokens_table.h), read in place from the binary.
struct Tokenizer::Impl {
  const uint32_t* offset = nullptr;
  const uint64_t* slots = nullptr;
  const uint32_t* pair = nullptr;
  const uint64_t* short_slots = nullptr;
  uint64_t short_mask = 0;
  const char* blob = nullptr;
  uint64_t mask = 0;
  size_t ranks = 0;
  uint32_t byte_rank[256];
  std::vector<Special> specials;

  uint32_t find(const uint8_t* p, size_t n) const {
    if (n <= table::kShortMax) {
      uint64_t key = table::short_key(p, n);
      for (uint64_t i = table::short_hash(key) & short_mask;; i = (i + 1) & short_mask) {
        uint64_t slot = short_slots[i];
        if (!slot) return kNone;
        if ((slot & ((uint64_t{1} << 43) - 1)) == key) return static_cast<uint32_t>(slot >> 43) - 1;
      }
    }
    uint64_t h = table::hash_bytes(p, n);
    uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
      uint64_t slot = slots[i];
      if (!slot) return kNone;
      if (static_cast<uint32_t>(slot >> 32) != tag) continue;
      uint32_t r = static_cast<uint32_t>(slot) - 1;
      if (offset[r + 1] - offset[r] == n && same(blob + offset[r], p, n)) return r;
    }
  }
  // Tokens are short: word compares inline beat a call to memcmp.
  static bool same(const char* a, const uint8_t* b, size_t n) {
    for (; n >= 8; a += 8, b += 8, n -= 8) {
      uint64_t x, y;
      std::memcpy(&x, a, 8), std::memcpy(&y, b, 8);
      if (x != y) return false;
    }
    for (; n; --n)
      if (static_cast<uint8_t>(*a++) != *b++) return false;
    return true;
  }
  uint32_t find2(const uint8_t* p) const { return pair[p[0] << 8 | p[1]]; }
  uint32_t length(uint32_t r) const { return offset[r + 1] - offset[r]; }

  // The table is built from the pinned package by the same build: a mismatch is a build defect.
  void load(const char* data) {
    table::Header h;
    std::memcpy(&h, data, sizeof h);
    assert(std::memcmp(h.magic, table::kMagic, sizeof h.magic) == 0 && h.version == table::kVersion && "tokens table: not this build's");
    ranks = h.ranks;
    offset = reinterpret_cast<const uint32_t*>(data + sizeof h);
    size_t slots_at = sizeof h + (size_t{h.ranks} + 1) * 4;
    slots_at += slots_at % 8;
    slots = reinterpret_cast<const uint64_t*>(data + slots_at);
    mask = h.slots - 1;
    pair = reinterpret_cast<const uint32_t*>(data + slots_at + size_t{h.slots} * 8);
    short_slots = reinterpret_cast<const uint64_t*>(pair + 65536);
    short_mask = h.short_slots - 1;
    blob = reinterpret_cast<const char*>(short_slots + h.short_slots);
    for (int b = 0; b < 256; ++b) {
      uint8_t c = static_cast<uint8_t>(b);
      byte_rank[b] = find(&c, 1);
      assert(byte_rank[b] != kNone && "tokens table: a byte without a token");
    }
  }
};

// ---- Byte-pair merging --------------------------------------------------------------------------

namespace {

constexpr size_t kSmall = 48;  // pieces up to this many bytes merge by scanning; longer ones by the tree

// The merges tiktoken makes: repeatedly the pair of adjacent parts whose concatenation has the
// lowest rank, the leftmost among equals. `emit` receives each final part's rank in order.
// The merges of recent pieces that are not one token, per thread: a word seen before (a
// conversation is counted again at every turn; prose repeats its words) skips the merge loop and
// its table lookups. Direct-mapped and exact (the bytes are compared); 4,096 entries of pieces up
// to 24 bytes and 8 tokens, 300 KB, allocated by a thread's first such piece.
struct MergeCache {
  static constexpr size_t kEntries = 4096, kBytes = 24, kIds = 8;
  struct Entry {
    uint64_t key = 0;  // hash of the bytes, mixed with the encoding; 0: empty
    const Tokenizer::Impl* vocabulary = nullptr;
    uint8_t length = 0, count = 0;
    uint8_t bytes[kBytes];
    uint32_t ids[kIds];
  };
  Entry entries[kEntries];
};

template <typename Emit>
void merge_uncached(const Tokenizer::Impl& v, const uint8_t* p, size_t n, Emit&& emit);

template <typename Emit>
void merge(const Tokenizer::Impl& v, const uint8_t* p, size_t n, Emit&& emit) {
  if (n == 1) return emit(v.byte_rank[p[0]]);
  if (uint32_t r = v.find(p, n); r != kNone) return emit(r);
  if (n > MergeCache::kBytes) return merge_uncached(v, p, n, emit);
  thread_local std::unique_ptr<MergeCache> cache;
  if (!cache) cache = std::make_unique<MergeCache>();
  uint64_t key = table::hash_bytes(p, n) | 1;
  MergeCache::Entry& e = cache->entries[(key >> 7) % MergeCache::kEntries];
  if (e.key == key && e.vocabulary == &v && e.length == n && std::memcmp(e.bytes, p, n) == 0) {
    for (size_t k = 0; k < e.count; ++k) emit(e.ids[k]);
    return;
  }
  uint32_t ids[MergeCache::kBytes];
  size_t count = 0;
  merge_uncached(v, p, n, [&](uint32_t id) { ids[count++] = id; });
  for (size_t k = 0; k < count; ++k) emit(ids[k]);
  if (count > MergeCache::kIds) return;
  e.key = key, e.vocabulary = &v, e.length = static_cast<uint8_t>(n), e.count = static_cast<uint8_t>(count);
  std::memcpy(e.bytes, p, n);
  std::memcpy(e.ids, ids, count * sizeof ids[0]);
}

// The merge itself: pieces of two or more bytes that are not one token.
template <typename Emit>
void merge_uncached(const Tokenizer::Impl& v, const uint8_t* p, size_t n, Emit&& emit) {
  if (n <= kSmall) {
    // A part starts at start[i]; rank[i] is the rank of part i joined with part i + 1.
    // token[i] is part i's own id, so the parts need no lookup at the end.
    uint32_t start[kSmall + 1], rank[kSmall + 1], token[kSmall + 1];
    size_t m = n + 1;
    for (size_t i = 0; i < n; ++i) token[i] = v.byte_rank[p[i]];
    for (size_t i = 0; i + 1 < n; ++i) start[i] = static_cast<uint32_t>(i), rank[i] = v.find2(p + i);
    start[n - 1] = static_cast<uint32_t>(n - 1), rank[n - 1] = kNone;
    start[n] = static_cast<uint32_t>(n), rank[n] = kNone;
    auto joined = [&](size_t i) { return i + 3 < m ? v.find(p + start[i], start[i + 3] - start[i]) : kNone; };
    for (;;) {
      size_t best = 0;
      uint32_t low = kNone;
      for (size_t i = 0; i + 1 < m; ++i)
        if (rank[i] < low) low = rank[i], best = i;
      if (low == kNone) break;
      if (best > 0) rank[best - 1] = joined(best - 1);
      rank[best] = joined(best);
      token[best] = low;
      std::memmove(start + best + 1, start + best + 2, (m - best - 2) * sizeof start[0]);
      std::memmove(rank + best + 1, rank + best + 2, (m - best - 2) * sizeof rank[0]);
      std::memmove(token + best + 1, token + best + 2, (m - best - 2) * sizeof token[0]);
      --m;
    }
    for (size_t i = 0; i + 1 < m; ++i) emit(token[i]);
    return;
  }
  // Long pieces: a doubly linked list of parts, their pair ranks in an array indexed by the
  // part's first byte, and a tournament tree over segments of 32 starts whose leaves hold each
  // segment's lowest (rank, start). The root is the merge tiktoken makes next (equal ranks: the
  // lowest start, its leftmost); a merge rescans one to three segments and updates their paths.
  // O(n log n) with small constants: one 80,000-byte word merges in a few milliseconds.
  constexpr size_t kSegment = 32;
  thread_local std::vector<uint32_t> next, prev, rank, token;
  thread_local std::vector<uint64_t> tree;
  token.resize(n);
  for (size_t i = 0; i < n; ++i) token[i] = v.byte_rank[p[i]];
  size_t segments = (n + kSegment - 1) / kSegment, leaves = 1;
  while (leaves < segments) leaves <<= 1;
  next.resize(n + 1), prev.resize(n + 1), rank.assign(segments * kSegment, kNone), tree.assign(2 * leaves, UINT64_MAX);
  for (uint32_t i = 0; i <= n; ++i) next[i] = i + 1, prev[i] = i - 1;
  for (uint32_t i = 0; i + 1 < n; ++i) rank[i] = v.find2(p + i);
  auto lowest = [&](size_t segment) {
    const uint32_t* r = rank.data() + segment * kSegment;
    uint32_t low = kNone;
    for (size_t k = 0; k < kSegment; ++k) low = std::min(low, r[k]);
    if (low == kNone) return UINT64_MAX;
    size_t k = 0;
    while (r[k] != low) ++k;
    return uint64_t{low} << 32 | (segment * kSegment + k);
  };
  auto refresh = [&](size_t segment) {
    size_t x = leaves + segment;
    tree[x] = lowest(segment);
    for (x >>= 1; x; x >>= 1) {
      uint64_t m = std::min(tree[2 * x], tree[2 * x + 1]);
      if (tree[x] == m) break;  // the path above already holds it
      tree[x] = m;
    }
  };
  for (size_t segment = 0; segment < segments; ++segment) tree[leaves + segment] = lowest(segment);
  for (size_t x = leaves - 1; x; --x) tree[x] = std::min(tree[2 * x], tree[2 * x + 1]);
  while (tree[1] != UINT64_MAX) {
    uint32_t i = static_cast<uint32_t>(tree[1]);
    uint32_t j = next[i], k = next[j];
    token[i] = static_cast<uint32_t>(tree[1] >> 32);
    rank[j] = kNone;  // j is merged into i
    next[i] = k;
    if (k < n) prev[k] = i;
    rank[i] = k < n ? v.find(p + i, next[k] - i) : kNone;
    size_t si = i / kSegment, sj = j / kSegment, sh = si;
    if (i > 0) {
      uint32_t h = prev[i];
      rank[h] = v.find(p + h, k - h);
      sh = h / kSegment;
    }
    refresh(si);
    if (sj != si) refresh(sj);
    if (sh != si) refresh(sh);
  }
  for (uint32_t i = 0; i < n; i = next[i]) emit(token[i]);
}

template <Encoding E, bool kTrack>
size_t piece_end(scan::Cursor<kTrack>& c, size_t p) {
  if constexpr (E == Encoding::Cl100k) return c.cl100k(p);
  else return c.o200k(p);
}

// Calls emit(rank) for every token of valid UTF-8 text.
template <Encoding E, typename Emit>
void tokenize(const Tokenizer::Impl& v, std::string_view text, Emit&& emit) {
  scan::Cursor<false> c{reinterpret_cast<const uint8_t*>(text.data()), text.size()};
  for (size_t p = 0; p < text.size();) {
    size_t e = piece_end<E>(c, p);
    merge(v, c.s + p, e - p, emit);
    p = e;
  }
}

template <typename Emit>
void tokenize(Encoding e, const Tokenizer::Impl& v, std::string_view text, Emit&& emit) {
  if (e == Encoding::Cl100k) tokenize<Encoding::Cl100k>(v, text, emit);
  else tokenize<Encoding::O200k>(v, text, emit);
}

// Runs f on the text made valid, without copying text that already is.
template <typename F>
auto with_valid(std::string_view text, F&& f) {
  if (is_valid_utf8(text)) return f(text);
  std::string valid = to_valid_utf8(text);
  return f(std::string_view(valid));
}

size_t char_start(std::string_view s, size_t i) {
  while (i > 0 && i < s.size() && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) --i;
  return std::min(i, s.size());
}

}  // namespace

// ---- Encodings ----------------------------------------------------------------------------------

std::optional<Encoding> encoding_named(std::string_view name) {
  if (name == "cl100k_base") return Encoding::Cl100k;
  if (name == "o200k_base") return Encoding::O200k;
  return std::nullopt;
}

const char* name_of(Encoding encoding) { return encoding == Encoding::Cl100k ? "cl100k_base" : "o200k_base"; }

const Tokenizer& tokenizer(Encoding encoding) {
  static std::once_flag once[2];
  static Tokenizer::Impl impl[2];
  static const Tokenizer tokenizers[2] = {Tokenizer(Encoding::Cl100k, &impl[0]), Tokenizer(Encoding::O200k, &impl[1])};
  size_t k = static_cast<size_t>(encoding);
  static const bool categories = (scan::load_categories(), true);
  (void)categories;
  std::call_once(once[k], [&] {
    if (encoding == Encoding::Cl100k) {
      impl[k].load(indexer_cl100k_base);
      impl[k].specials = {{100257, "<|endoftext|>"}, {100258, "<|fim_prefix|>"}, {100259, "<|fim_middle|>"},
                          {100260, "<|fim_suffix|>"}, {100276, "<|endofprompt|>"}};
    } else {
      impl[k].load(indexer_o200k_base);
      impl[k].specials = {{199999, "<|endoftext|>"}, {200018, "<|endofprompt|>"}};
    }
  });
  return tokenizers[k];
}

size_t Tokenizer::vocabulary_size() const { return impl_->ranks; }

size_t Tokenizer::count(std::string_view text) const {
  return with_valid(text, [&](std::string_view t) {
    size_t n = 0;
    tokenize(encoding_, *impl_, t, [&](uint32_t) { ++n; });
    return n;
  });
}

void Tokenizer::encode(std::string_view text, std::vector<uint32_t>& out) const {
  with_valid(text, [&](std::string_view t) {
    tokenize(encoding_, *impl_, t, [&](uint32_t r) { out.push_back(r); });
    return 0;
  });
}

std::vector<uint32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<uint32_t> out;
  out.reserve(text.size() / 3 + 1);
  encode(text, out);
  return out;
}

Tokenizer::Decoded Tokenizer::decode(std::span<const uint32_t> ids) const {
  Decoded out;
  for (uint32_t id : ids) {
    if (id < impl_->ranks) {
      out.bytes.append(impl_->blob + impl_->offset[id], impl_->length(id));
      continue;
    }
    auto special = std::find_if(impl_->specials.begin(), impl_->specials.end(), [&](const Special& s) { return s.id == id; });
    if (special == impl_->specials.end()) {
      out.unknown = id;
      return out;
    }
    out.bytes += special->text;
  }
  return out;
}

size_t Tokenizer::count_range(std::string_view text, size_t begin, size_t end) const {
  end = char_start(text, std::min(end, text.size()));
  begin = char_start(text, std::min(begin, end));
  return count(text.substr(begin, end - begin));
}

size_t Tokenizer::truncate(std::string_view text, size_t max_tokens) const {
  // Cut after the first max_tokens tokens of the text, then, while the prefix on its own counts
  // more, after the first max_tokens tokens of the prefix: each round cuts strictly shorter.
  size_t cut = text.size();
  for (bool first = true;; first = false) {
    std::string_view prefix = text.substr(0, cut);
    size_t n = 0, bytes = 0;
    tokenize(encoding_, *impl_, prefix, [&](uint32_t r) {
      if (n++ < max_tokens) bytes += impl_->length(r);
    });
    if (n <= max_tokens) return cut;
    size_t next = char_start(text, bytes);
    if (!first && next >= cut) next = char_start(text, cut - 1);
    cut = next;
    if (cut == 0) return 0;
  }
}

std::vector<std::pair<size_t, size_t>> Tokenizer::split(std::string_view text, size_t max_tokens) const {
  std::vector<std::pair<size_t, size_t>> chunks;
  if (max_tokens == 0) max_tokens = 1;
  // Token ends of the whole text say where max_tokens tokens from a chunk's start end; each chunk
  // is then checked on its own, since a chunk may tokenize differently from the text around it.
  std::vector<size_t> ends;
  size_t at = 0;
  tokenize(encoding_, *impl_, text, [&](uint32_t r) { ends.push_back(at += impl_->length(r)); });
  for (size_t begin = 0; begin < text.size();) {
    size_t first = static_cast<size_t>(std::upper_bound(ends.begin(), ends.end(), begin) - ends.begin());
    size_t window_end = first + max_tokens + 8 < ends.size() ? ends[first + max_tokens + 8] : text.size();
    std::string_view window = text.substr(begin, char_start(text, window_end) - begin);
    size_t cut = truncate(window, max_tokens);
    if (begin + cut < text.size() && cut > 0) {
      size_t newline = window.substr(0, cut).rfind('\n');
      if (newline != std::string_view::npos && newline + 1 < cut) {
        size_t shorter = newline + 1;
        cut = count(window.substr(0, shorter)) <= max_tokens ? shorter : truncate(window.substr(0, shorter), max_tokens);
        if (cut == 0) cut = newline + 1;  // cannot happen: a prefix of a fitting text fits after truncation
      }
    }
    if (cut == 0) {  // one character counts more than max_tokens: it stands alone
      cut = 1;
      while (begin + cut < text.size() && (static_cast<uint8_t>(text[begin + cut]) & 0xC0) == 0x80) ++cut;
    }
    chunks.emplace_back(begin, begin + cut);
    begin += cut;
  }
  return chunks;
}

// ---- The incremental counter ----------------------------------------------------------------------

Counter::Counter(Encoding encoding) : tokenizer_(&tokenizer(encoding)) {}

void Counter::append(std::string_view bytes) {
  pending_.append(bytes);
  size_t keep = unfinished_suffix(pending_);
  tail_ += to_valid_utf8(std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);

  // The text as tokenized now: the tail, and U+FFFD for an unfinished sequence. A piece whose scan
  // read nothing at or beyond `settled` (the tail's end) cannot change; from the first piece that
  // did, everything is re-scanned next time.
  std::string scratch;
  std::string_view text = tail_;
  if (!pending_.empty()) scratch = tail_ + "\xEF\xBF\xBD", text = scratch;
  const size_t settled = tail_.size();
  const Tokenizer::Impl& v = *tokenizer_->impl_;
  scan::Cursor<true> c{reinterpret_cast<const uint8_t*>(text.data()), text.size()};
  size_t p = 0, stable_end = 0, unstable = 0;
  bool stable = true;
  Encoding e = tokenizer_->encoding();
  while (p < text.size()) {
    c.seen = 0;
    size_t end = e == Encoding::Cl100k ? c.cl100k(p) : c.o200k(p);
    size_t n = 0;
    merge(v, c.s + p, end - p, [&](uint32_t) { ++n; });
    stable = stable && c.seen <= settled;
    if (stable) stable_ += n, stable_end = end;
    else unstable += n;
    p = end;
  }
  tail_.erase(0, stable_end);
  tail_tokens_ = unstable;
}

}  // namespace compress::tokens
