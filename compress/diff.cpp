// Line diffs: interning, histogram anchoring, dtl for what histogram cannot split, hunks, the
// unified text and word highlights. See diff.h for the design and its costs.
#include "compress/diff.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <dtl/dtl.hpp>

#include <algorithm>
#include <bit>
#include <cassert>
#include <charconv>
#include <cstring>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace compress {

uint64_t (*detail::line_hash_for_tests)(std::string_view line) = nullptr;

namespace {

constexpr uint32_t kNone = UINT32_MAX;
// A line occurring more often than this in a region's old side is no anchor (git uses 64 too):
// anchoring on frequent lines ("}", blank) aligns unrelated code.
constexpr uint32_t kMaxOccurrences = 64;
// dtl's O(NP) costs up to (N+M)·P and keeps a coordinate per step: a window bounds both.
constexpr uint32_t kDtlBlock = 2048;
// Word highlights of a line with more tokens than this mark the whole line.
constexpr size_t kMaxWordTokens = 4096;

struct Side {
  std::string_view text;
  std::vector<uint32_t> start;  // line i is text[start[i], start[i + 1])
  std::vector<uint32_t> id;     // interned; set for the lines between the common prefix and suffix
  std::vector<uint8_t> changed;
  uint32_t lines() const { return uint32_t(start.size() - 1); }
  std::string_view line(uint32_t i) const { return text.substr(start[i], start[i + 1] - start[i]); }
};

// One pass over the text: 16 bytes at a time, the newlines of a block found from a bit mask (a
// memchr a line costs a call a line, and lines average 30 bytes).
void split_lines(Side& s) {
  const char* text = s.text.data();
  size_t n = s.text.size(), i = 0;
  s.start.reserve(n / 24 + 2);
  s.start.push_back(0);
#if defined(__SSE2__)
  const __m128i newline = _mm_set1_epi8('\n');
  for (; i + 16 <= n; i += 16) {
    __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text + i));
    for (unsigned mask = unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(block, newline))); mask; mask &= mask - 1)
      s.start.push_back(uint32_t(i + unsigned(__builtin_ctz(mask)) + 1));
  }
#endif
  for (; i < n; ++i)
    if (text[i] == '\n') s.start.push_back(uint32_t(i + 1));
  if (s.start.back() != n) s.start.push_back(uint32_t(n));  // a last line without a newline
  s.changed.assign(s.lines(), 0);
  s.id.resize(s.lines());
}

// Lines to dense ids by their 64-bit XXH3 hash alone: no byte compare against an earlier line (a
// cache miss into the text a line). Exactness is restored afterwards: LineDiff::run() compares the
// bytes of every pair it calls unchanged, in order (a streaming compare), and on a mismatch (a
// hash collision: never seen, 2^-64 a pair) diffs again with `exact` set, which confirms every
// hash match against the bytes.
class Interner {
 public:
  Interner(size_t lines, bool exact) : exact_(exact) {
    size_t capacity = 16;
    while (capacity < lines + lines / 2) capacity <<= 1;
    slots_.assign(capacity, Slot{0, kNone});
    mask_ = capacity - 1;
    hash_.reserve(lines);
    if (exact_) first_.reserve(lines);
  }
  static uint64_t hash(std::string_view line) {
    if (__builtin_expect(detail::line_hash_for_tests != nullptr, 0)) return detail::line_hash_for_tests(line);
    return XXH3_64bits(line.data(), line.size());
  }
  void prefetch(uint64_t h) const { __builtin_prefetch(&slots_[size_t(h) & mask_]); }
  uint32_t intern(uint64_t h, std::string_view line) {
    uint32_t tag = uint32_t(h >> 32);
    for (size_t i = size_t(h) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id == kNone) {
        s = {tag, size_++};
        hash_.push_back(h);
        if (exact_) first_.push_back(line);
        return s.id;
      }
      if (s.tag == tag && hash_[s.id] == h && (!exact_ || first_[s.id] == line)) return s.id;
    }
  }
  uint32_t size() const { return size_; }

 private:
  // 8 bytes a slot (the table is the largest thing a diff touches): the hash's top half, and the
  // id whose full hash confirms a match.
  struct Slot {
    uint32_t tag, id;
  };
  std::vector<uint64_t> hash_;  // by id
  bool exact_;
  std::vector<Slot> slots_;
  std::vector<std::string_view> first_;  // exact only
  size_t mask_ = 0;
  uint32_t size_ = 0;
};

// Interns lines [from, to) of a side: hashes first (a streaming pass), then inserts with the
// slot of a line a few ahead prefetched, so the table's cache misses overlap.
void intern_lines(Interner& interner, Side& s, uint32_t from, uint32_t to, std::vector<uint64_t>& hashes) {
  hashes.resize(to - from);
  for (uint32_t i = from; i < to; ++i) hashes[i - from] = Interner::hash(s.line(i));
  constexpr uint32_t kAhead = 16;
  for (uint32_t i = from; i < to; ++i) {
    if (i + kAhead < to) interner.prefetch(hashes[i + kAhead - from]);
    s.id[i] = interner.intern(hashes[i - from], s.line(i));
  }
}

struct Region {
  uint32_t a0, a1, b0, b1;  // old lines [a0, a1), new lines [b0, b1)
};

class LineDiff {
 public:
  LineDiff(Side& a, Side& b, const DiffOptions& o) : a_(a), b_(b), options_(o), deadline_(std::chrono::steady_clock::now() + o.budget) {}

  // Marks a_.changed and b_.changed; the unchanged lines of both sides then pair up in order.
  bool run() {
    uint32_t na = a_.lines(), nb = b_.lines();
    uint32_t pre = 0, suf = 0;
    while (pre < na && pre < nb && a_.line(pre) == b_.line(pre)) ++pre;
    while (suf < na - pre && suf < nb - pre && a_.line(na - 1 - suf) == b_.line(nb - 1 - suf)) ++suf;
    Region middle{pre, na - suf, pre, nb - suf};
    if (middle.a0 == middle.a1 || middle.b0 == middle.b1) return mark(middle), false;

    for (bool exact : {false, true}) {
      std::fill(a_.changed.begin() + middle.a0, a_.changed.begin() + middle.a1, 0);
      std::fill(b_.changed.begin() + middle.b0, b_.changed.begin() + middle.b1, 0);
      coarse_ = false;
      if (split(middle, exact)) break;
    }
    return coarse_;
  }

 private:
  enum class Anchor { Found, NoneCommon, TooFrequent };

  // Marks the changed lines of `middle`; false when two lines of equal hash but different bytes
  // were paired (only possible without `exact`).
  bool split(const Region& middle, bool exact) {
    uint32_t na = a_.lines();
    Interner interner(size_t(middle.a1 - middle.a0) + (middle.b1 - middle.b0), exact);
    std::vector<uint64_t> hashes;
    intern_lines(interner, a_, middle.a0, middle.a1, hashes);
    intern_lines(interner, b_, middle.b0, middle.b1, hashes);
    count_.assign(interner.size(), 0);
    count_b_.assign(interner.size(), 0);
    head_.resize(interner.size());
    next_.resize(na);
    work_ = 0;
    uint64_t lines = uint64_t(middle.a1 - middle.a0) + (middle.b1 - middle.b0);
    work_limit_ = lines * (std::bit_width(lines) + 8) + 100000;  // well above histogram's n log n on edits

    std::vector<Region> work{middle};
    while (!work.empty()) {
      Region r = work.back();
      work.pop_back();
      const uint32_t* A = a_.id.data();
      const uint32_t* B = b_.id.data();
      while (r.a0 < r.a1 && r.b0 < r.b1 && A[r.a0] == B[r.b0]) ++r.a0, ++r.b0;
      while (r.a0 < r.a1 && r.b0 < r.b1 && A[r.a1 - 1] == B[r.b1 - 1]) --r.a1, --r.b1;
      if (r.a0 == r.a1 || r.b0 == r.b1) {
        mark(r);
        continue;
      }
      if (out_of_time()) {
        mark(r);
        continue;
      }
      // Histogram splits a region at one anchor; when they keep landing at the region's edge
      // (pairs of lines swapped throughout), its scans add up to quadratic. Past an n log n
      // budget of work, a region is split at every line unique on both sides at once.
      work_ += (r.a1 - r.a0) + (r.b1 - r.b0);
      if (work_ > work_limit_ && patience(r, work)) continue;
      Region lcs{};
      switch (anchor(r, lcs)) {
        case Anchor::Found:
          work.push_back({r.a0, lcs.a0, r.b0, lcs.b0});
          work.push_back({lcs.a1, r.a1, lcs.b1, r.b1});
          break;
        case Anchor::NoneCommon: mark(r); break;
        case Anchor::TooFrequent: with_dtl(r); break;
      }
    }
    if (exact) return true;
    for (uint32_t i = middle.a0, j = middle.b0; i < middle.a1; ++i, ++j) {
      while (i < middle.a1 && a_.changed[i]) ++i;
      while (j < middle.b1 && b_.changed[j]) ++j;
      if (i < middle.a1 && a_.line(i) != b_.line(j)) return false;
    }
    return true;
  }

  void mark(const Region& r) {
    std::fill(a_.changed.begin() + r.a0, a_.changed.begin() + r.a1, 1);
    std::fill(b_.changed.begin() + r.b0, b_.changed.begin() + r.b1, 1);
  }

  bool out_of_time() {
    if (!coarse_ && ((options_.cancel && options_.cancel->load(std::memory_order_relaxed)) || std::chrono::steady_clock::now() >= deadline_))
      coarse_ = true;
    return coarse_;
  }

  // The longest run of common lines whose rarest line is least frequent in the old side of r.
  Anchor anchor(const Region& r, Region& lcs) {
    const uint32_t* A = a_.id.data();
    const uint32_t* B = b_.id.data();
    uint32_t* count = count_.data();
    // Occurrences of each old line, chained in order from head_.
    for (uint32_t p = r.a1; p-- > r.a0;) {
      uint32_t id = A[p];
      next_[p] = count[id] ? head_[id] : kNone;
      head_[id] = p;
      ++count[id];
    }
    uint32_t best = kMaxOccurrences + 1;
    bool found = false, common = false;
    for (uint32_t bp = r.b0; bp < r.b1;) {
      uint32_t id = B[bp], c = count[id], after = bp + 1;
      if (c) common = true;
      if (c && c <= best) {
        for (uint32_t as = head_[id]; as != kNone;) {
          uint32_t s1 = as, s2 = bp, e1 = as + 1, e2 = bp + 1, rarest = c;
          while (s1 > r.a0 && s2 > r.b0 && A[s1 - 1] == B[s2 - 1]) {
            --s1, --s2;
            rarest = std::min(rarest, count[A[s1]]);
          }
          while (e1 < r.a1 && e2 < r.b1 && A[e1] == B[e2]) {
            rarest = std::min(rarest, count[A[e1]]);
            ++e1, ++e2;
          }
          after = std::max(after, e2);  // the new lines of this run anchor nothing better
          if (!found || e1 - s1 > lcs.a1 - lcs.a0 || rarest < best) {
            lcs = {s1, e1, s2, e2};
            best = rarest;
            found = true;
          }
          uint32_t np = next_[as];
          while (np != kNone && np < e1) np = next_[np];
          as = np;
        }
      }
      bp = after;
    }
    for (uint32_t p = r.a0; p < r.a1; ++p) count[A[p]] = 0;
    return found ? Anchor::Found : common ? Anchor::TooFrequent : Anchor::NoneCommon;
  }

  // Patience anchoring: the longest increasing run (by old position, in new order) of the lines
  // that occur once on each side; the regions between them go back on the work list. False when
  // there is no such line.
  bool patience(const Region& r, std::vector<Region>& work) {
    const uint32_t* A = a_.id.data();
    const uint32_t* B = b_.id.data();
    for (uint32_t p = r.a0; p < r.a1; ++p)
      if (count_[A[p]]++ == 0) head_[A[p]] = p;
    for (uint32_t p = r.b0; p < r.b1; ++p) ++count_b_[B[p]];
    unique_a_.clear(), unique_b_.clear();
    for (uint32_t p = r.b0; p < r.b1; ++p)
      if (count_[B[p]] == 1 && count_b_[B[p]] == 1) unique_a_.push_back(head_[B[p]]), unique_b_.push_back(p);
    for (uint32_t p = r.a0; p < r.a1; ++p) count_[A[p]] = 0;
    for (uint32_t p = r.b0; p < r.b1; ++p) count_b_[B[p]] = 0;
    if (unique_a_.empty()) return false;
    // Patience sorting: tails_[k] ends the best run of length k + 1 found so far.
    tails_.clear(), before_.resize(unique_a_.size());
    for (uint32_t i = 0; i < unique_a_.size(); ++i) {
      auto it = std::lower_bound(tails_.begin(), tails_.end(), unique_a_[i], [&](uint32_t t, uint32_t v) { return unique_a_[t] < v; });
      before_[i] = it == tails_.begin() ? kNone : *(it - 1);
      if (it == tails_.end()) tails_.push_back(i);
      else *it = i;
    }
    uint32_t a_end = r.a1, b_end = r.b1;
    for (uint32_t i = tails_.back(); i != kNone; i = before_[i]) {
      work.push_back({unique_a_[i] + 1, a_end, unique_b_[i] + 1, b_end});
      a_end = unique_a_[i], b_end = unique_b_[i];
    }
    work.push_back({r.a0, a_end, r.b0, b_end});
    return true;
  }

  // dtl's LCS on a region histogram cannot split, through a window of at most kDtlBlock lines a
  // side that slides along the diagonal: each window's script is kept up to its last common pair
  // in the first three quarters, and the next window starts there, so windows never misalign
  // (cutting the region into proportional blocks did: 2.2x the minimal lines on 4 distinct
  // lines). The window bounds dtl's (N+M)·P time and its path memory.
  void with_dtl(const Region& r) {
    uint32_t a = r.a0, b = r.b0;
    std::vector<uint32_t> x, y;
    while (a < r.a1 && b < r.b1 && !out_of_time()) {
      uint32_t ea = std::min(r.a1, a + kDtlBlock), eb = std::min(r.b1, b + kDtlBlock);
      x.assign(a_.id.begin() + a, a_.id.begin() + ea), y.assign(b_.id.begin() + b, b_.id.begin() + eb);
      dtl::Diff<uint32_t> d(x, y);
      d.compose();
      const auto script = d.getSes().getSequence();
      bool last = ea == r.a1 && eb == r.b1;
      size_t keep = last ? script.size() : 0;  // entries kept: up to the last common pair in reach
      constexpr long long kReach = kDtlBlock * 3 / 4;
      for (size_t i = 0; !last && i < script.size(); ++i) {
        const auto& info = script[i].second;
        if (info.type != dtl::SES_COMMON) continue;
        if (info.beforeIdx > kReach || info.afterIdx > kReach) break;
        keep = i + 1;
      }
      if (!keep) {  // no common line in reach: half a window each side is changed
        Region q{a, a + (ea - a + 1) / 2, b, b + (eb - b + 1) / 2};
        mark(q);
        a = q.a1, b = q.b1;
        continue;
      }
      uint32_t na = a, nb = b;
      for (size_t i = 0; i < keep; ++i) {
        const auto& info = script[i].second;
        if (info.type == dtl::SES_DELETE) a_.changed[a + uint32_t(info.beforeIdx) - 1] = 1;
        else if (info.type == dtl::SES_ADD) b_.changed[b + uint32_t(info.afterIdx) - 1] = 1;
        if (info.type != dtl::SES_ADD) na = a + uint32_t(info.beforeIdx);
        if (info.type != dtl::SES_DELETE) nb = b + uint32_t(info.afterIdx);
      }
      a = last ? r.a1 : na, b = last ? r.b1 : nb;
    }
    mark({a, r.a1, b, r.b1});  // what is left when one side ends, or the budget did
  }

  Side& a_;
  Side& b_;
  const DiffOptions& options_;
  std::chrono::steady_clock::time_point deadline_;
  bool coarse_ = false;
  std::vector<uint32_t> count_, head_, next_;
  std::vector<uint32_t> count_b_, unique_a_, unique_b_, tails_, before_;  // patience()
  uint64_t work_ = 0, work_limit_ = 0;  // lines histogram has scanned, and the budget for it
};

// ---- git's indent heuristic: where among its places a pure addition or removal reads best -------
// A run at a place cuts the text twice, above and below it; each cut is scored by the indentation
// and blank lines around it (git's weights, tuned by its authors on a corpus of hand-placed
// diffs), and the place whose two cuts score least wins, the lowest on a tie. Bounded: at most 100
// places, and the blank lines looked past at a cut at most 20.
constexpr int kMaxIndent = 200, kMaxBlanks = 20, kMaxSliding = 100;

// Columns of leading white space (a tab to the next multiple of 8), at most kMaxIndent; -1 for a
// line of white space only.
int indent_of(std::string_view line) {
  int n = 0;
  for (char c : line) {
    if (c == ' ') n += 1;
    else if (c == '\t') n += 8 - n % 8;
    else if (c != '\n' && c != '\r' && c != '\f' && c != '\v') return n;
    if (n >= kMaxIndent) return kMaxIndent;
  }
  return -1;
}

struct CutScore {
  int indent = 0;   // the effective indents of the cuts, summed: less is better
  int penalty = 0;  // less is better
};

// Adds the score of a cut above line `at` of s (at == lines(): the end).
void score_cut(const Side& s, uint32_t at, CutScore& score) {
  const int n = int(s.lines());
  const int split = int(at);
  const bool end_of_file = split >= n;
  const int indent = end_of_file ? -1 : indent_of(s.line(at));
  int pre_blank = 0, pre_indent = -1;  // blank lines just above, and the indent of the line above them
  for (int i = split - 1; i >= 0; --i) {
    if ((pre_indent = indent_of(s.line(uint32_t(i)))) != -1) break;
    if (++pre_blank == kMaxBlanks) {
      pre_indent = 0;
      break;
    }
  }
  int post_blank = 0, post_indent = -1;  // the same below the line after the cut
  for (int i = split + 1; i < n; ++i) {
    if ((post_indent = indent_of(s.line(uint32_t(i)))) != -1) break;
    if (++post_blank == kMaxBlanks) {
      post_indent = 0;
      break;
    }
  }
  if (pre_indent == -1 && pre_blank == 0) score.penalty += 1;  // at the start of the text
  if (end_of_file) score.penalty += 21;
  const int blank_after = indent == -1 ? 1 + post_blank : 0;  // the line after the cut included
  const int blank = pre_blank + blank_after;
  score.penalty += -30 * blank + 6 * blank_after;  // blank lines around a cut make it a good one
  const int effective = indent != -1 ? indent : post_indent;
  score.indent += effective;
  if (effective == -1 || pre_indent == -1 || effective == pre_indent) return;
  if (effective > pre_indent) score.penalty += blank ? 10 : -4;  // into a block
  else if (post_indent != -1 && post_indent > effective) score.penalty += blank ? 17 : 24;  // a block starts here
  else score.penalty += blank ? 17 : 23;  // a block ended above
}

// Less than zero when `a` is the better place; the indents weigh by their sign only.
int compare(const CutScore& a, const CutScore& b) { return 60 * ((a.indent > b.indent) - (a.indent < b.indent)) + (a.penalty - b.penalty); }

// The end of the best place of a run of `size` lines whose end may be anywhere in [lowest, end].
uint32_t best_place(const Side& s, uint32_t lowest, uint32_t end, uint32_t size) {
  uint32_t from = lowest;
  if (end >= size + 1) from = std::max(from, end - size - 1);
  if (end >= uint32_t(kMaxSliding)) from = std::max(from, end - uint32_t(kMaxSliding));
  uint32_t best = end;
  CutScore best_score;
  bool first = true;
  for (uint32_t place = from; place <= end; ++place) {
    CutScore score;
    score_cut(s, place, score);
    score_cut(s, place - size, score);
    if (first || compare(score, best_score) <= 0) best = place, best_score = score, first = false;
  }
  return best;
}

// Where a run of changed lines could sit at several places (the lines it passes over are equal
// to the ones it leaves), put it where git puts it: if at some place it faces a run of changed
// lines of the other side (a change rather than a removal beside an addition), the lowest such
// place; else, with the indent heuristic (git's default), the place that reads best, and without
// it as far down as it goes. Runs that meet merge. The unchanged line passed over keeps the other
// side's partner of the line it swaps with (they are equal), so the pairing of unchanged lines
// stays in order.
void compact(Side& s, const Side& other, bool indent_heuristic) {
  std::vector<uint32_t> kept;  // the other side's unchanged lines
  kept.reserve(other.lines());
  for (uint32_t j = 0; j < other.lines(); ++j)
    if (!other.changed[j]) kept.push_back(j);
  // The other side's run at gap k (after its k-th unchanged line) holds a line.
  auto facing = [&](uint32_t k) {
    uint32_t lo = k ? kept[k - 1] + 1 : 0, hi = k < kept.size() ? kept[k] : other.lines();
    return hi > lo;
  };
  uint32_t n = s.lines(), k = 0;  // k: unchanged lines of s before `start`
  for (uint32_t i = 0; i < n;) {
    if (!s.changed[i]) {  // to the next run: the lines passed are unchanged
      const void* next = std::memchr(&s.changed[i], 1, n - i);
      uint32_t j = next ? uint32_t(static_cast<const uint8_t*>(next) - s.changed.data()) : n;
      k += j - i, i = j;
      continue;
    }
    uint32_t start = i, end = i, earliest_end = i, match = kNone;
    while (end < n && s.changed[end]) ++end;
    for (uint32_t size = 0; size != end - start;) {
      size = end - start;
      while (start > 0 && !s.changed[start - 1] && s.line(start - 1) == s.line(end - 1)) {
        s.changed[--start] = 1, s.changed[--end] = 0, --k;
        while (start > 0 && s.changed[start - 1]) --start;
      }
      earliest_end = end;
      match = facing(k) ? end : kNone;
      while (end < n && s.line(start) == s.line(end)) {
        s.changed[start++] = 0, s.changed[end++] = 1, ++k;
        while (end < n && s.changed[end]) ++end;
        if (facing(k)) match = end;
      }
    }
    if (end != earliest_end && match != kNone) {
      while (end > match) s.changed[--start] = 1, s.changed[--end] = 0, --k;
    } else if (end != earliest_end && indent_heuristic) {
      uint32_t best = best_place(s, earliest_end, end, end - start);
      while (end > best) s.changed[--start] = 1, s.changed[--end] = 0, --k;
    }
    i = end;
  }
}

// A run of removed old lines [a, a + da) and added new lines [b, b + db), between unchanged ones.
struct Change {
  uint32_t a, da, b, db;
};

std::vector<Change> changes(const Side& a, const Side& b) {
  std::vector<Change> out;
  uint32_t i = 0, j = 0, na = a.lines(), nb = b.lines();
  while (i < na || j < nb) {
    if (i < na && j < nb && !a.changed[i] && !b.changed[j]) {
      assert(a.line(i) == b.line(j) && "unchanged lines pair up in order");
      ++i, ++j;
      continue;
    }
    Change c{i, 0, j, 0};
    while (i < na && a.changed[i]) ++i;
    while (j < nb && b.changed[j]) ++j;
    c.da = i - c.a, c.db = j - c.b;
    out.push_back(c);
  }
  return out;
}

void append_number(std::string& out, uint32_t n) {
  char buf[16];
  out.append(buf, size_t(std::to_chars(buf, buf + sizeof buf, n).ptr - buf));
}

// "-3,2" / "+7": a count of 1 is left out, and a start of an empty range is the line before it.
void append_range(std::string& out, char sign, uint32_t first, uint32_t count) {
  out += sign;
  append_number(out, count ? first + 1 : first);
  if (count != 1) out += ',', append_number(out, count);
}

void append_line(std::string& out, char prefix, std::string_view line) {
  out += prefix;
  out += line;
  if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}

// ---- word highlights -------------------------------------------------------------------------

std::string_view without_terminator(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

int token_class(unsigned char c) {
  if (std::isalnum(c) || c == '_' || c >= 0x80) return 0;  // UTF-8 sequences stay inside words
  if (c == ' ' || c == '\t') return 1;
  return 2;  // punctuation: a token a byte
}

// Token i is line[bounds[i], bounds[i + 1]).
void tokenize(std::string_view line, std::vector<uint32_t>& bounds) {
  bounds.clear();
  for (uint32_t i = 0; i < line.size();) {
    bounds.push_back(i);
    int c = token_class(static_cast<unsigned char>(line[i]));
    ++i;
    if (c != 2)
      while (i < line.size() && token_class(static_cast<unsigned char>(line[i])) == c) ++i;
  }
  bounds.push_back(uint32_t(line.size()));
}

void add_range(std::vector<ByteRange>& ranges, uint32_t begin, uint32_t end) {
  if (!ranges.empty() && ranges.back().end == begin) ranges.back().end = end;
  else ranges.push_back({begin, end});
}

WordChange words_of(std::string_view old_line, std::string_view new_line, uint32_t old_number, uint32_t new_number) {
  WordChange w{old_number, new_number, {}, {}};
  old_line = without_terminator(old_line), new_line = without_terminator(new_line);
  std::vector<uint32_t> ob, nb;
  tokenize(old_line, ob), tokenize(new_line, nb);
  if (ob.size() > kMaxWordTokens || nb.size() > kMaxWordTokens) {
    if (!old_line.empty()) w.old_ranges.push_back({0, uint32_t(old_line.size())});
    if (!new_line.empty()) w.new_ranges.push_back({0, uint32_t(new_line.size())});
    return w;
  }
  std::unordered_map<std::string_view, uint32_t> ids;
  auto sequence = [&](std::string_view line, const std::vector<uint32_t>& bounds) {
    std::vector<uint32_t> seq;
    seq.reserve(bounds.size());
    for (size_t i = 0; i + 1 < bounds.size(); ++i)
      seq.push_back(ids.emplace(line.substr(bounds[i], bounds[i + 1] - bounds[i]), uint32_t(ids.size())).first->second);
    return seq;
  };
  std::vector<uint32_t> x = sequence(old_line, ob), y = sequence(new_line, nb);
  if (x.empty() || y.empty()) {
    if (!x.empty()) w.old_ranges.push_back({0, uint32_t(old_line.size())});
    if (!y.empty()) w.new_ranges.push_back({0, uint32_t(new_line.size())});
    return w;
  }
  dtl::Diff<uint32_t> d(x, y);
  d.compose();
  for (const auto& [e, info] : d.getSes().getSequence()) {
    if (info.type == dtl::SES_DELETE) add_range(w.old_ranges, ob[size_t(info.beforeIdx - 1)], ob[size_t(info.beforeIdx)]);
    else if (info.type == dtl::SES_ADD) add_range(w.new_ranges, nb[size_t(info.afterIdx - 1)], nb[size_t(info.afterIdx)]);
  }
  return w;
}

std::string refusal_message(bool old_side, const char* what) { return std::string(old_side ? "old" : "new") + " text " + what; }

}  // namespace

std::variant<Diff, DiffRefusal> diff_text(std::string_view old_text, std::string_view new_text, const DiffOptions& options) {
  for (bool old_side : {true, false}) {
    std::string_view t = old_side ? old_text : new_text;
    if (t.size() >= UINT32_MAX)
      return DiffRefusal{DiffRefusal::Why::TooLarge, old_side, 0, refusal_message(old_side, "is 4 GiB or more; diff takes less")};
    if (const void* nul = std::memchr(t.data(), 0, t.size())) {
      uint64_t at = uint64_t(static_cast<const char*>(nul) - t.data());
      return DiffRefusal{DiffRefusal::Why::Binary, old_side, at,
                         refusal_message(old_side, "is binary (a NUL byte at offset ") + std::to_string(at) + "); diff compares text only"};
    }
  }
  Diff out;
  if (old_text == new_text) {
    out.identical = true;
    return out;
  }
  Side a{old_text, {}, {}, {}}, b{new_text, {}, {}, {}};
  split_lines(a), split_lines(b);
  out.coarse = LineDiff(a, b, options).run();
  compact(a, b, options.indent_heuristic), compact(b, a, options.indent_heuristic);
  std::vector<Change> cs = changes(a, b);

  // Hunks: changes closer than twice the context share one.
  uint64_t ctx = options.context;
  size_t estimate = 64;
  for (const Change& c : cs) {
    out.removed += c.da, out.added += c.db;
    estimate += (a.start[c.a + c.da] - a.start[c.a]) + (b.start[c.b + c.db] - b.start[c.b]) + (c.da + c.db) + 160 * ctx;
  }
  std::string& u = out.unified;
  u.reserve(std::min<size_t>(estimate, old_text.size() + new_text.size() + 4096));
  u += "--- ", u += options.old_name, u += "\n+++ ", u += options.new_name, u += '\n';
  for (size_t first = 0; first < cs.size();) {
    size_t last = first;
    while (last + 1 < cs.size() && uint64_t(cs[last + 1].a) - (cs[last].a + cs[last].da) <= 2 * ctx) ++last;
    uint32_t a0 = uint32_t(cs[first].a - std::min<uint64_t>(cs[first].a, ctx));
    uint32_t b0 = cs[first].b - (cs[first].a - a0);
    uint32_t a1 = uint32_t(std::min<uint64_t>(a.lines(), uint64_t(cs[last].a) + cs[last].da + ctx));
    uint32_t b1 = cs[last].b + cs[last].db + (a1 - (cs[last].a + cs[last].da));
    Hunk h{a0, a1 - a0, b0, b1 - b0, {}};
    u += "@@ ", append_range(u, '-', a0, a1 - a0), u += ' ', append_range(u, '+', b0, b1 - b0), u += " @@\n";
    uint32_t i = a0;
    for (size_t k = first; k <= last; ++k) {
      const Change& c = cs[k];
      for (; i < c.a; ++i) append_line(u, ' ', a.line(i));
      for (uint32_t d = 0; d < c.da; ++d) append_line(u, '-', a.line(c.a + d));
      for (uint32_t d = 0; d < c.db; ++d) append_line(u, '+', b.line(c.b + d));
      if (options.words)
        for (uint32_t d = 0; d < std::min(c.da, c.db); ++d) h.words.push_back(words_of(a.line(c.a + d), b.line(c.b + d), c.a + d + 1, c.b + d + 1));
      i = c.a + c.da;
    }
    for (; i < a1; ++i) append_line(u, ' ', a.line(i));
    h.old_start = a0 + (h.old_lines ? 1 : 0), h.new_start = b0 + (h.new_lines ? 1 : 0);
    out.hunks.push_back(std::move(h));
    first = last + 1;
  }
  // Texts that differ only where the line splitting cannot see (never: every byte is in a line)
  // would leave no hunk; identical means no hunk.
  out.identical = out.hunks.empty();
  if (out.identical) out.unified.clear();
  return out;
}

}  // namespace compress
