// Symbol search: cheap tiers first, then pruned candidates, then the fuzzy scorer.
//
//   1. exact and prefix: one binary search in the names sorted case-insensitively;
//   2. substring: names from the AND of the query's trigram postings that contain the query;
//   3. fuzzy: the rest of those candidates, scored by FuzzyMatcher;
//   4. scattered: names the query is only a subsequence of (`Fmt` in Formatter), found by a scan
//      of per-name letter sketches, since no trigram leads to them.
// Each tier ranks wholly above the next, so once the collected hits fill the limit the lower tiers
// are not evaluated. Scoring is per distinct name; filters are per symbol. Tiers 2 and 3 see only
// what the trigram postings hold (trigram.h): a one- or two-character query finds substrings and
// fuzzy matches that start at a segment ("id" finds userId, not valid).
#include <algorithm>
#include <cctype>
#include <cstring>
#include <tuple>
#include <type_traits>

#include "query/fuzzy_match.h"
#include "query/index_impl.h"

namespace query {
namespace {

using detail::IndexData;
using detail::SymbolRecord;

inline char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + ('a' - 'A')) : c; }

bool istarts_with(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i)
    if (to_lower(s[i]) != lower_prefix[i]) return false;
  return true;
}

bool icontains(std::string_view s, std::string_view lower_needle) {
  if (lower_needle.empty()) return true;
  if (s.size() < lower_needle.size()) return false;
  for (size_t i = 0; i + lower_needle.size() <= s.size(); ++i)
    if (to_lower(s[i]) == lower_needle[0] && istarts_with(s.substr(i), lower_needle)) return true;
  return false;
}

// Smaller is listed first when scores tie: types, then callables, then the rest.
int kind_rank(Kind k) {
  switch (k) {
    case Kind::Class: case Kind::Struct: case Kind::Interface: case Kind::Enum: case Kind::TypeAlias: return 0;
    case Kind::Function: case Kind::Method: case Kind::Constructor: case Kind::Macro: return 1;
    case Kind::Module: case Kind::Namespace: case Kind::Package: return 2;
    case Kind::Constant: case Kind::EnumMember: return 3;
    default: return 4;
  }
}

// "Class.method" -> qualifier "Class", name "method". Separators: "::", ".", "#", "\", "/", ":".
struct Pattern {
  std::string_view qualifier;
  std::string_view name;
  bool path_qualifier = false;  // the qualifier names a file or directory, not a container
};

Pattern parse_pattern(std::string_view p) {
  Pattern out{{}, p, false};
  size_t cut = std::string_view::npos;
  size_t name_start = 0;
  for (size_t i = p.size(); i-- > 0;) {
    char c = p[i];
    if (c == '.' || c == '#' || c == '\\' || c == '/' || c == ':') {
      cut = i;
      name_start = i + 1;
      break;
    }
  }
  if (cut == std::string_view::npos) return out;
  size_t q_end = cut;
  if (p[cut] == ':' && cut > 0 && p[cut - 1] == ':') q_end = cut - 1;
  out.name = p.substr(name_start);
  out.qualifier = p.substr(0, q_end);
  out.path_qualifier = p[cut] == '/' || (p[cut] == ':' && q_end == cut) ||
                       out.qualifier.find('/') != std::string_view::npos;
  return out;
}

using detail::is_qualifier_sep;

// The qualifier's components must line up with consecutive container components, each a
// case-insensitive prefix of its counterpart: "srv.Handler" matches "server.HandlerSet".
bool container_matches(std::string_view container, std::string_view qualifier) {
  auto next = [](std::string_view s, size_t& i) {
    while (i < s.size() && is_qualifier_sep(s[i])) ++i;
    size_t start = i;
    while (i < s.size() && !is_qualifier_sep(s[i])) ++i;
    return s.substr(start, i - start);
  };
  size_t ci = 0;
  while (ci < container.size()) {
    size_t c = ci, q = 0;
    std::string_view first = next(container, c);
    if (first.empty()) break;
    size_t after_first = c;
    bool ok = true;
    size_t cc = ci;
    for (;;) {
      std::string_view qpart = next(qualifier, q);
      if (qpart.empty()) break;
      std::string_view cpart = next(container, cc);
      char lower_q[128];
      if (qpart.size() > sizeof lower_q) return false;  // no container part is that long
      size_t n = qpart.size();
      for (size_t k = 0; k < n; ++k) lower_q[k] = to_lower(qpart[k]);
      if (cpart.empty() || !istarts_with(cpart, {lower_q, n})) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
    ci = after_first;
  }
  return false;
}

// Whether `pred` holds for some '/'-separated component of `path` (directories only: all but
// the last).
template <typename Pred>
bool any_component(std::string_view path, bool directories_only, Pred&& pred) {
  for (size_t start = 0;;) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) return !directories_only && pred(path.substr(start));
    if (pred(path.substr(start, slash - start))) return true;
    start = slash + 1;
  }
}

// --path, read as a .gitignore line: a glob with a leading or middle '/' is anchored at the root
// and names the path or a directory above it ("src/**/*.ts", "/build/", "src/server"); one
// without names any file or directory on the path ("*_test.go", "build/"). A trailing '/' names
// directories only.
bool path_glob_matches(std::string_view glob, std::string_view path) {
  bool anchored = glob.starts_with('/');
  if (anchored) glob.remove_prefix(1);
  bool directories_only = glob.size() > 1 && glob.back() == '/';
  if (directories_only) glob.remove_suffix(1);
  if (glob.find('/') != std::string_view::npos) anchored = true;
  if (!anchored) return any_component(path, directories_only, [&](std::string_view part) { return glob_match(glob, part); });
  if (!directories_only && glob_match(glob, path)) return true;
  for (size_t slash = path.find('/'); slash != std::string_view::npos; slash = path.find('/', slash + 1))
    if (glob_match(glob, path.substr(0, slash))) return true;
  return false;
}

// `_helper`, `_Private` (Python, Dart and JavaScript's convention); not `__init__` and friends.
bool is_private_name(std::string_view n) {
  if (n.size() < 2 || n[0] != '_') return false;
  return !(n.size() > 4 && n[1] == '_' && n[n.size() - 1] == '_' && n[n.size() - 2] == '_');
}

// A test file or a file under a test directory, by the conventions of the languages we index:
// test/, tests/, testing/, __tests__/, spec/, testdata/ directories; test_x.py, x_test.go,
// x.test.ts, x.spec.js, XTest.java, XTests.cs files.
bool is_test_path(std::string_view path) {
  auto ieq = [](std::string_view a, std::string_view lower) {
    if (a.size() != lower.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (to_lower(a[i]) != lower[i]) return false;
    return true;
  };
  size_t slash = path.rfind('/');
  std::string_view file = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (slash != std::string_view::npos &&
      any_component(path.substr(0, slash), false, [&](std::string_view part) {
        return ieq(part, "test") || ieq(part, "tests") || ieq(part, "testing") || ieq(part, "__tests__") ||
               ieq(part, "spec") || ieq(part, "specs") || ieq(part, "testdata");
      }))
    return true;
  std::string_view stem = file.substr(0, file.find('.'));
  if (stem.starts_with("test_") || stem.ends_with("_test") || stem.ends_with("_tests") ||
      stem.ends_with("Test") || stem.ends_with("Tests"))
    return true;
  return file.find(".test.") != std::string_view::npos || file.find(".spec.") != std::string_view::npos;
}

// A C or C++ function declared `static` outside a class: internal to its file, so not the API a
// user looks for first (a static member is, and stays a Method or Field). Read from the
// signature, which for a variable is its declarator alone: a file's static variables are missed.
bool is_file_static(const IndexData& d, const SymbolRecord& r, uint32_t file) {
  const Language lang = d.files[file].language;
  if (lang != Language::C && lang != Language::Cpp) return false;
  const Kind k = r.kind();
  if (k != Kind::Function && k != Kind::Variable && k != Kind::Constant) return false;
  std::string_view sig = d.signatures.get(r.signature), name = d.name(r.name());
  size_t at = name.empty() ? std::string_view::npos : sig.find(name);
  std::string_view head = sig.substr(0, at);  // what precedes the name: `static inline int`
  for (size_t i = head.find("static"); i != std::string_view::npos; i = head.find("static", i + 1)) {
    const bool starts = i == 0 || head[i - 1] == ' ', ends = i + 6 == head.size() || head[i + 6] == ' ';
    if (starts && ends) return true;
  }
  return false;
}

struct Entry {
  MatchTier tier;
  int32_t score;
  uint8_t aside;  // 1: in a test file or directory, a private name (`_x`), a file's `static`: after its equals
  uint8_t kind_rank;
  uint32_t name_len;
  uint32_t symbol;
};

// True when a ranks before b.
bool better(const Entry& a, const Entry& b) {
  if (a.tier != b.tier) return a.tier < b.tier;
  if (a.score != b.score) return a.score > b.score;
  if (a.aside != b.aside) return a.aside < b.aside;
  if (a.kind_rank != b.kind_rank) return a.kind_rank < b.kind_rank;
  if (a.name_len != b.name_len) return a.name_len < b.name_len;
  return a.symbol < b.symbol;  // symbol ids follow (path, line)
}

// A name's tier and score, when its tier is only known once it is scored.
struct Grade {
  MatchTier tier;
  int32_t score;
};

class Collector {
 public:
  Collector(const IndexData& d, const SearchRequest& req, const Pattern& pattern, std::span<const uint64_t> hidden)
      : d_(d), req_(req), pattern_(pattern), hidden_(hidden), file_state_(req.path_glob.empty() && pattern.qualifier.empty() ? 0 : d.files.size(), 0) {
    heap_.reserve(std::min(req.limit, d.symbols.size()) + 1);
    for (char c : pattern.qualifier) lower_qualifier_ += to_lower(c);
  }

  // Offers every symbol of a name. `score_of()` runs at most once, and only when some symbol
  // passes the filters: with a selective filter most names cost no scoring at all. It returns an
  // optional score, or an optional Grade when it also decides the tier.
  template <typename ScoreFn>
  void add_name(uint32_t name_id, MatchTier tier, ScoreFn&& score_of) {
    uint32_t begin = d_.name_symbol_offsets[name_id], end = d_.name_symbol_offsets[name_id + 1];
    uint32_t len = d_.name_offsets[name_id + 1] - d_.name_offsets[name_id];
    if (begin == end) return;
    bool scored = false;
    int32_t score = 0;
    for (uint32_t i = begin; i < end; ++i) {
      uint32_t id = d_.name_symbols[i];
      const SymbolRecord& r = d_.symbols[id];
      if (!accept(id, r)) continue;
      if (!scored) {
        auto s = score_of();
        if (!s) return;  // the scorer found no match after all
        if constexpr (std::is_same_v<decltype(s), std::optional<Grade>>) tier = s->tier, score = s->score;
        else score = *s;
        scored = true;
      }
      // Every symbol of a name shares its tier, score and length; if even the best of the rest
      // (best kind, this id) cannot enter a full heap, none can.
      if (heap_.size() == req_.limit && !better(Entry{tier, score, 0, 0, len, id}, heap_.front())) return;
      push({tier, score, aside(id, name_id), uint8_t(kind_rank(r.kind())), len, id});
    }
  }

  // Offers one symbol whose name matched with `tier` and `score`; it must still pass the filters.
  void add_symbol(uint32_t id, MatchTier tier, int32_t score) {
    const SymbolRecord& r = d_.symbols[id];
    if (!accept(id, r)) return;
    push({tier, score, aside(id, r.name()), uint8_t(kind_rank(r.kind())), d_.name_offsets[r.name() + 1] - d_.name_offsets[r.name()], id});
  }

  bool full() const { return accepted_ >= req_.limit; }
  // Whether the top k is full of hits that rank above any of `tier` with `score`.
  bool holds_above(MatchTier tier, int32_t score) const {
    return heap_.size() == req_.limit && !heap_.empty() && better(heap_.front(), Entry{tier, score, 0, 0, 0, 0});
  }
  const std::string& lower_qualifier() const { return lower_qualifier_; }

  // Whether the qualifier's containers hold this one (it passes the qualifier).
  bool container_passes(uint32_t container) {
    if (container == 0) return false;
    if (container_state_.empty()) container_state_.assign(d_.containers.size(), 0);
    uint8_t& state = container_state_[container];
    if (!state) state = container_matches(d_.strings.get(d_.containers[container]), pattern_.qualifier) ? 1 : 2;
    return state == 1;
  }

  std::vector<Hit> take() {
    std::sort_heap(heap_.begin(), heap_.end(), better);
    std::vector<Hit> out;
    out.reserve(heap_.size());
    for (const Entry& e : heap_) out.push_back({e.symbol, e.score, e.tier});
    return out;
  }

 private:
  uint8_t aside(uint32_t id, uint32_t name_id) {
    if (is_private_name(d_.name(name_id))) return 1;
    const uint32_t file = d_.file_of(id);
    if (file_state_.empty()) file_state_.assign(d_.files.size(), 0);
    uint8_t& state = file_state_[file];
    if (!(state & kTestKnown)) state |= kTestKnown | (is_test_path(d_.strings.get(d_.files[file].path)) ? kTest : 0);
    return (state & kTest) || is_file_static(d_, d_.symbols[id], file) ? 1 : 0;
  }

  // The file is looked up (file_of) only when a filter needs it.
  bool accept(uint32_t id, const SymbolRecord& r) {
    if (req_.kinds && !(req_.kinds & kind_bit(r.kind()))) return false;
    uint32_t file = UINT32_MAX;
    auto file_id = [&] { return file != UINT32_MAX ? file : (file = d_.file_of(id)); };
    if (!hidden_.empty() && (hidden_[file_id() / 64] >> (file_id() % 64) & 1)) return false;
    if (req_.languages && !(req_.languages & (1u << uint32_t(d_.files[file_id()].language)))) return false;
    if (!req_.path_glob.empty() && !file_passes_glob(file_id())) return false;
    if (!pattern_.qualifier.empty()) {
      if (pattern_.path_qualifier) return file_path_matches(file_id());
      if (container_passes(r.container())) return true;
      // "module.fn" also finds fn in module.py; but "Client." lists Client's members only.
      return !pattern_.name.empty() && file_path_matches(file_id());
    }
    return true;
  }

  void push(const Entry& e) {
    ++accepted_;
    if (heap_.size() < req_.limit) {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end(), better);
    } else if (better(e, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), better);
      heap_.back() = e;
      std::push_heap(heap_.begin(), heap_.end(), better);
    }
  }

  // A path qualifier ("server/handler", "app.go:Run") is a substring of the path; a module-like
  // one ("os.path") must start a path component: os.py and os/ match, hosts.py does not.
  bool file_path_matches(uint32_t file) {
    uint8_t& state = file_state_[file];
    if (!(state & kPathKnown)) {
      std::string_view path = d_.strings.get(d_.files[file].path);
      bool ok;
      if (pattern_.path_qualifier) ok = icontains(path, lower_qualifier_);
      else ok = any_component(path, false, [&](std::string_view part) { return istarts_with(part, lower_qualifier_); });
      state |= kPathKnown | (ok ? kPathMatch : 0);
    }
    return state & kPathMatch;
  }

  bool file_passes_glob(uint32_t file) {
    uint8_t& state = file_state_[file];
    if (!(state & kGlobKnown))
      state |= kGlobKnown | (path_glob_matches(req_.path_glob, d_.strings.get(d_.files[file].path)) ? kGlobMatch : 0);
    return state & kGlobMatch;
  }

  static constexpr uint8_t kGlobKnown = 1, kGlobMatch = 2, kPathKnown = 4, kPathMatch = 8, kTestKnown = 16, kTest = 32;

  const IndexData& d_;
  const SearchRequest& req_;
  const Pattern& pattern_;
  std::span<const uint64_t> hidden_;  // a bit per file to leave out (a live view's masked base files)
  std::vector<uint8_t> file_state_;  // per file: k{Glob,Path}{Known,Match}, kTest{Known,} bits
  // Containers have dense ids, so one answer per distinct container serves all its symbols.
  std::vector<uint8_t> container_state_;  // per container id: 0 unknown, 1 matches the qualifier, 2 not
  std::vector<Entry> heap_;
  size_t accepted_ = 0;
  std::string lower_qualifier_;
};

}  // namespace

namespace {

// The symbols a module-like qualifier allows ("Array.map", "os.path"): the members of every
// container it matches, and, when a name follows, the symbols of files with a path component it
// starts. Sorted and unique in `out`. Gives up (false) once that is more than `budget` symbols,
// since then starting from the names visits fewer.
bool qualifier_candidates(const IndexData& d, const Pattern& p, Collector& collector, size_t budget,
                          std::vector<uint32_t>& out) {
  const std::string& lower_qualifier = collector.lower_qualifier();
  std::string first_part;
  for (char c : lower_qualifier) {
    if (is_qualifier_sep(c)) {
      if (first_part.empty()) continue;
      break;
    }
    first_part += c;
  }
  size_t visited = 0;
  auto [c_lo, c_hi] = d.container_parts.prefix_range(first_part);
  for (size_t k = c_lo; k < c_hi; ++k) {
    for (uint32_t container : d.container_parts.list(k)) {
      if (++visited > budget) return false;
      if (!collector.container_passes(container)) continue;
      detail::PostingList members = d.container_members.get(container);
      if ((visited += members.size()) > budget) return false;
      members.decode(out);
    }
  }
  if (!p.name.empty()) {
    auto [f_lo, f_hi] = d.path_parts.prefix_range(lower_qualifier);
    for (size_t k = f_lo; k < f_hi; ++k) {
      std::span<const uint32_t> ranges = d.path_parts.list(k);
      for (size_t i = 0; i + 1 < ranges.size(); i += 2) {
        uint32_t b = d.files[ranges[i]].first_symbol;
        const auto& last = d.files[ranges[i + 1] - 1];
        uint32_t e = last.first_symbol + last.symbol_count;
        if ((visited += 1 + e - b) > budget) return false;
        for (uint32_t id = b; id < e; ++id) out.push_back(id);
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return true;
}

// "response status": every word must start a segment of the name, in any order. Candidates are
// the AND over words of the union of the segment postings each word prefixes (segments are
// sorted, so a word's segments are one run). Ranked as prefix matches when the name starts with
// the first word, else as substrings; the score adds each word's fuzzy score.
std::vector<Hit> search_words(const IndexData& d, const SearchRequest& req, std::string_view pattern,
                              std::span<const uint64_t> hidden) {
  Pattern none{{}, pattern, false};
  Collector out(d, req, none, hidden);
  std::vector<std::string> words;
  for (size_t i = 0; i < pattern.size();) {
    while (i < pattern.size() && pattern[i] == ' ') ++i;
    std::string w;
    for (; i < pattern.size() && pattern[i] != ' '; ++i)
      if (std::isalnum(static_cast<unsigned char>(pattern[i])) || static_cast<unsigned char>(pattern[i]) >= 0x80)
        w += to_lower(pattern[i]);
    if (!w.empty() && words.size() < 8 && std::find(words.begin(), words.end(), w) == words.end())
      words.push_back(std::move(w));
  }
  if (words.empty()) return {};
  // The union of a word's segment lists and the running AND, as bitsets over name ids: a short
  // word ("s") prefixes thousands of segments, and bit operations beat merging that many lists.
  const size_t words64 = (d.name_offsets.size() - 1 + 63) / 64;
  std::vector<uint64_t> acc(words64), any(words64);
  for (size_t w = 0; w < words.size(); ++w) {
    const std::string& word = words[w];
    size_t n = d.segment_offsets.size() - 1;
    size_t lo = 0, hi = n;
    while (lo < hi) {  // first segment >= word
      size_t mid = (lo + hi) / 2;
      if (d.segment(uint32_t(mid)) < word) lo = mid + 1;
      else hi = mid;
    }
    std::vector<uint64_t>& into = w == 0 ? acc : any;
    if (w) std::fill(any.begin(), any.end(), 0);
    for (size_t i = lo; i < n && d.segment(uint32_t(i)).starts_with(word); ++i)
      d.segment_postings.get(i).for_each([&](uint32_t id) { into[id >> 6] |= uint64_t(1) << (id & 63); });
    uint64_t some = 0;
    for (size_t k = 0; k < words64; ++k) some |= w ? (acc[k] &= any[k]) : acc[k];
    if (!some) return {};
  }
  std::vector<FuzzyMatcher> matchers(words.begin(), words.end());
  CharRole roles[FuzzyMatcher::kMaxWord];
  for (size_t k = 0; k < words64; ++k)
    for (uint64_t bits = acc[k]; bits; bits &= bits - 1) {
      const uint32_t id = uint32_t(k * 64 + size_t(__builtin_ctzll(bits)));
      std::string_view n = d.name(id);
      // The words come in any order, so the name starting with any of them is the prefix tier.
      bool starts = false;
      for (const std::string& w : words) starts |= istarts_with(n, w);
      out.add_name(id, starts ? MatchTier::Prefix : MatchTier::Substring, [&] {
        int32_t total = 0;
        for (auto& m : matchers) total += m.match(n).value_or(0);
        // A word that is a whole segment (`err` for the ERR of INVALID_MODIFICATION_ERR, not the
        // Err of InvalidStateError) outranks one that only starts a longer one.
        const size_t m = std::min(n.size(), FuzzyMatcher::kMaxWord);
        char_roles(n, roles, m);
        for (size_t i = 0; i < m; ++i) {
          if (roles[i] != CharRole::Head) continue;
          size_t e = i + 1;
          while (e < m && roles[e] == CharRole::Tail) ++e;
          for (const std::string& w : words)
            if (w.size() == e - i && istarts_with(n.substr(i), w)) total += 1 << 16;
        }
        return std::optional<int32_t>(total);
      });
    }
  return out.take();
}

// One pattern's search of one index, tier by tier: exact and prefix names (one id range), then
// substring and fuzzy names (candidates from the trigram postings); or, for a qualified pattern
// whose qualifier selects fewer symbols than the name would, those symbols first.
class LayerSearch {
 public:
  LayerSearch(const IndexData& d, const SearchRequest& req, const Pattern& pattern, std::span<const uint64_t> hidden)
      : d_(d), req_(req), pattern_(pattern), out_(d, req, pattern, hidden), name_(pattern.name),
        lower_(lowered(name_)), fuzzy_text_(word_chars(name_)), lower_fuzzy_(lowered(fuzzy_text_)),
        inner_capital_(std::any_of(name_.begin() + std::min<size_t>(1, name_.size()), name_.end(), [](char c) { return c >= 'A' && c <= 'Z'; })),
        matcher_(std::string_view(fuzzy_text_).substr(0, FuzzyMatcher::kMaxPattern)),
        name_count_(uint32_t(d.name_offsets.size() - 1)) {}

  std::vector<Hit> run() {
    find_prefix_range();
    const bool by_qualifier = !pattern_.qualifier.empty() && !pattern_.path_qualifier && req_.plan != SearchRequest::Plan::ByName;
    if (by_qualifier) {
      load_lists();
      if (search_by_qualifier()) return out_.take();
    }
    offer_prefix_range();
    // The candidates below add prefix-tier hits too (flat prefixes, whole acronyms), and the run
    // may have demoted some of its own (contradicts_case): a full run ends the search only when
    // every hit in it ranks above anything those can score.
    const bool settled = out_.holds_above(MatchTier::Prefix, best_later_prefix_score());
    if (settled || lower_.empty()) return out_.take();
    if (!by_qualifier) load_lists();
    if (!count_) {  // no trigram (a name of one or two characters): every name is a candidate
      offer_substring_and_fuzzy([&](auto&& f) {
        for (uint32_t id = 0; id < name_count_; ++id) f(id);
      });
      return out_.take();  // and the fuzzy tier saw every name: nothing is left to scatter
    }
    std::vector<uint32_t> probed;
    if (!some_token_absent_) {
      probed = trigram_candidates();
      offer_substring_and_fuzzy([&](auto&& f) {
        for (uint32_t id : probed) f(id);
      });
    }
    // The fuzzy tier may have demoted names to the scattered one: stop only above it.
    if (!out_.holds_above(MatchTier::Scattered, INT32_MAX)) offer_scattered(probed);
    return out_.take();
  }

 private:
  static std::string lowered(std::string_view name) {
    std::string out(name);
    for (char& c : out) c = to_lower(c);
    return out;
  }
  // The scorer sees word characters only, so "get_name" also finds getName; it is bounded.
  static std::string word_chars(std::string_view name) {
    std::string out;
    for (char c : name)
      if (std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80) out += c;
    return out;
  }

  // First id in [lo, hi) for which `before` is false.
  template <class F>
  static uint32_t first_id(uint32_t lo, uint32_t hi, F&& before) {
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (before(mid)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // Tiers 1 and 2: names are numbered in case-insensitive order, so the names that start with
  // the query are one id range, [lo_, hi_).
  // A private name's prefix follows its underscores (`_namespaces`, `__init_subclass`), so those
  // are prefix matches too, two more runs, listed after the public ones (Collector's `aside`).
  void find_prefix_range() {
    std::tie(lo_, hi_) = range_of(lower_);
    if (lower_.empty() || lower_[0] == '_') return;
    std::tie(lo1_, hi1_) = range_of("_" + lower_);
    std::tie(lo2_, hi2_) = range_of("__" + lower_);
  }
  std::pair<uint32_t, uint32_t> range_of(const std::string& lower) const {
    uint32_t lo = first_id(0, name_count_, [&](uint32_t id) {
      std::string_view n = d_.name(id);
      for (size_t i = 0; i < lower.size(); ++i) {
        if (i >= n.size()) return true;
        unsigned char a = static_cast<unsigned char>(to_lower(n[i])), b = static_cast<unsigned char>(lower[i]);
        if (a != b) return a < b;
      }
      return false;
    });
    return {lo, first_id(lo, name_count_, [&](uint32_t id) { return istarts_with(d_.name(id), lower); })};
  }
  // How many underscores precede the query in a prefix match of n (0 to 2), or -1 if it is none.
  int prefix_match(std::string_view n) const {
    if (istarts_with(n, lower_)) return 0;
    if (lower_.empty() || lower_[0] == '_') return -1;
    for (int k = 1; k <= 2 && size_t(k) < n.size() && n[size_t(k) - 1] == '_'; ++k)
      if (istarts_with(n.substr(size_t(k)), lower_)) return k;
    return -1;
  }

  // In an exact or prefix match the best alignment is the prefix itself, so the fuzzy scorer
  // would only count matched case: count it directly.
  // A query all in lower case says nothing about case (as in the matcher): no bonus then.
  int32_t case_score(std::string_view n) const {
    if (lower_ == name_) return 0;
    int32_t same = 0;
    for (size_t i = 0; i < name_.size(); ++i) same += n[i] == name_[i];
    return same;
  }

  // The trigram postings of tiers 3 and 4, smallest first, looked up only when a plan needs them
  // (a prefix run that fills the limit never does). A trigram no name has means nothing beyond
  // the prefix tier can match.
  void load_lists() {
    std::vector<Token> tokens;
    query_tokens(name_.substr(0, FuzzyMatcher::kMaxWord), tokens);
    for (Token t : tokens) {
      detail::PostingList r = d_.token(t);
      if (r.size() == 0) some_token_absent_ = true;
      if (count_ < std::size(lists_)) lists_[count_++] = r;
    }
    std::sort(lists_, lists_ + count_, [](const auto& a, const auto& b) { return a.size() < b.size(); });
  }

  // What the name-driven plan visits: the prefix run's symbols, and those of the names the
  // smallest trigram list holds (at the average symbols per name).
  size_t name_plan_cost() const {
    if (req_.plan != SearchRequest::Plan::Auto) return SIZE_MAX;
    size_t by_name = d_.name_symbol_offsets[hi_] - d_.name_symbol_offsets[lo_] + d_.name_symbol_offsets[hi1_] -
                     d_.name_symbol_offsets[lo1_] + d_.name_symbol_offsets[hi2_] - d_.name_symbol_offsets[lo2_];
    if (!lower_.empty() && !some_token_absent_)
      by_name += count_ ? size_t(double(lists_[0].size()) * double(d_.symbols.size()) / std::max<size_t>(name_count_, 1))
                        : d_.symbols.size();
    return by_name;
  }

  // The qualifier-driven plan, when it is the cheaper one; false when it is not taken.
  bool search_by_qualifier() {
    std::vector<uint32_t> candidates;
    if (!qualifier_candidates(d_, pattern_, out_, name_plan_cost(), candidates)) return false;
    // Tiers 3 and 4 see only what the trigram postings admit, as in the other plan. Those
    // candidates are taken in name order, so a forward cursor reads each list once and each
    // name is checked and scored once for all its symbols (the heap's order is total, so the
    // order of offers does not change the hits).
    std::vector<std::pair<uint32_t, uint32_t>> rest;  // (name id, symbol)
    // A trigram no name has admits nothing to tiers 3 and 4, but tier 5 reads names whole.
    const bool fuzzy_tiers = !lower_.empty();
    for (uint32_t id : candidates) {
      uint32_t name_id = d_.symbols[id].name();
      std::string_view n = d_.name(name_id);
      if (int k = prefix_match(n); k >= 0) {
        if (k == 0 && n.size() == lower_.size()) out_.add_symbol(id, MatchTier::Exact, case_score(n));
        else if (!contradicts_case(n, size_t(k)))
          out_.add_symbol(id, MatchTier::Prefix, prefix_score(n, size_t(k) + lower_.size(), case_score(n.substr(size_t(k)))));
        else if (std::optional<int32_t> score = matcher_.match(n)) out_.add_symbol(id, MatchTier::Substring, *score);
      } else if (fuzzy_tiers) rest.emplace_back(name_id, id);
    }
    std::sort(rest.begin(), rest.end());
    std::vector<detail::PostingList::Cursor> cursors(lists_, lists_ + count_);
    struct Run {
      uint32_t name_id, begin, end;  // rest[begin, end)
    };
    std::vector<Run> scattered;  // names the postings did not admit: tier 5's, if room is left
    for (size_t k = 0, end; k < rest.size(); k = end) {
      const uint32_t name_id = rest[k].first;
      for (end = k + 1; end < rest.size() && rest[end].first == name_id;) ++end;
      bool admitted = true;
      for (size_t i = 0; i < count_ && admitted; ++i) admitted = cursors[i].has(name_id);
      std::string_view n = d_.name(name_id);
      if (!admitted) {
        scattered.push_back({name_id, uint32_t(k), uint32_t(end)});
        continue;
      }
      if (std::optional<Grade> g = grade(n))
        for (size_t j = k; j < end; ++j) out_.add_symbol(rest[j].second, g->tier, g->score);
    }
    if (out_.holds_above(MatchTier::Scattered, INT32_MAX) || fuzzy_text_.size() < 2 || fuzzy_text_.size() > FuzzyMatcher::kMaxPattern)
      return true;
    const uint64_t need = scattered_need();
    for (const Run& r : scattered) {
      std::string_view n = d_.name(r.name_id);
      if ((d_.name_sketches[r.name_id] & need) != need || !subsequence_of(n) || icontains(n, lower_)) continue;
      if (std::optional<int32_t> score = scattered_score(n))
        for (uint32_t j = r.begin; j < r.end; ++j) out_.add_symbol(rest[j].second, MatchTier::Scattered, *score);
    }
    return true;
  }

  // Exact matches sort first in the run (a prefix sorts before its extensions), so one pass
  // serves both tiers.
  void offer_prefix_range() {
    for (uint32_t id = lo_; id != hi_; ++id) {
      std::string_view n = d_.name(id);
      if (n.size() == lower_.size()) out_.add_name(id, MatchTier::Exact, [&] { return std::optional<int32_t>(case_score(n)); });
      else offer_prefix(id, n, 0);
    }
    for (auto [lo, hi, k] : {std::tuple{lo1_, hi1_, 1}, std::tuple{lo2_, hi2_, 2}})
      for (uint32_t id = lo; id != hi; ++id) offer_prefix(id, d_.name(id), size_t(k));
  }
  // A prefix match (after `skip` underscores) that is not exact.
  void offer_prefix(uint32_t id, std::string_view n, size_t skip) {
    if (!contradicts_case(n, skip)) {
      out_.add_name(id, MatchTier::Prefix, [&] { return std::optional<int32_t>(prefix_score(n, skip + lower_.size(), case_score(n.substr(skip)))); });
      return;
    }
    out_.add_name(id, MatchTier::Substring, [&] { return matcher_.match(n); });
  }

  // Tiers 3 and 4: candidates from the trigram postings, driven by the smallest list: its ids
  // are decoded, then kept only if each longer list has them too (a forward cursor per list,
  // which skips to the block of each id and decodes only the blocks it lands in).
  std::vector<uint32_t> trigram_candidates() const {
    std::vector<uint32_t> probed;
    lists_[0].decode(probed);
    for (size_t i = 1; i < count_ && !probed.empty(); ++i) {
      size_t kept = 0;
      if (probed.size() * 8 >= lists_[i].size()) {
        // Candidates about as dense as the list: one merge over all of it beats a cursor call
        // per candidate.
        size_t k = 0;
        lists_[i].for_each([&](uint32_t id) {
          while (k < probed.size() && probed[k] < id) ++k;
          if (k < probed.size() && probed[k] == id) probed[kept++] = probed[k++];
        });
      } else {
        detail::PostingList::Cursor cursor(lists_[i]);
        for (uint32_t id : probed)
          if (cursor.has(id)) probed[kept++] = id;
      }
      probed.resize(kept);
    }
    return probed;
  }

  // One pass sorts candidates: substrings are offered now; the rest wait for the fuzzy tier,
  // which runs only if the substrings leave room.
  template <class ForEachCandidate>
  void offer_substring_and_fuzzy(ForEachCandidate&& for_each_candidate) {
    // An acronym in case ranks with the substrings, so it is graded in the first pass too (a
    // walk of the name's segment starts: cheap next to the matcher).
    std::vector<uint32_t> fuzzy_candidates;
    // A top k already full of prefix-tier hits can only take more of those (flat prefixes and
    // whole acronyms, both found without the matcher): the substrings are not scored at all.
    const bool prefixes_only = out_.holds_above(MatchTier::Substring, INT32_MAX);
    for_each_candidate([&](uint32_t id) {
      std::string_view n = d_.name(id);
      if (prefix_match(n) >= 0) return;  // already offered as exact or prefix
      if (size_t end = flat_prefix(n)) {
        out_.add_name(id, MatchTier::Prefix, [&] { return std::optional<int32_t>(prefix_score(n, end, 0, true)); });
        return;
      }
      if (!icontains(n, lower_)) {
        const size_t m = std::min(n.size(), FuzzyMatcher::kMaxWord);
        char_roles(n, roles_, m);
        size_t same = 0;
        if (int evidence = acronym(n, m, &same)) {
          if (promoted(evidence)) {
            out_.add_name(id, MatchTier::Prefix, [&] { return std::optional<int32_t>(acronym_prefix_score(n, same)); });
            return;
          }
          if (prefixes_only) return;
          out_.add_name(id, MatchTier::Substring, [&] {
            std::optional<int32_t> score = matcher_.match(n);
            return score ? std::optional<int32_t>(*score + evidence * kStrongEvidence) : std::nullopt;
          });
        } else if (!prefixes_only) {
          fuzzy_candidates.push_back(id);
        }
        return;
      }
      if (!prefixes_only) out_.add_name(id, MatchTier::Substring, [&] { return std::optional<int32_t>(substring_score(n)); });
    });
    if (out_.full()) return;
    for (uint32_t id : fuzzy_candidates) {
      std::string_view n = d_.name(id);
      out_.add_name(id, MatchTier::Fuzzy, [&] { return fuzzy_grade(n); });
    }
  }

  // Tiers 3 and 4 for a name that is no prefix match: a substring, or a fuzzy match the trigram
  // postings admitted. Within the substring tier, evidence outranks a substring that starts inside
  // a word (`TAF` in testSkipObjectAfterPeek, `THI` in documentHighlight): a substring that starts
  // a segment, or an acronym, every letter on a segment start (`ASH` for add_set_handler), and more
  // so an acronym in the name's own case (`TAF` for TypeAdapterFactory). Acronyms are promoted
  // from the fuzzy tier for it.
  static constexpr int32_t kStrongEvidence = 1 << 20;  // above any score the matcher gives
  std::optional<Grade> grade(std::string_view n) {
    if (size_t end = flat_prefix(n)) return Grade{MatchTier::Prefix, prefix_score(n, end, 0, true)};
    if (icontains(n, lower_)) return Grade{MatchTier::Substring, substring_score(n)};
    const size_t m = std::min(n.size(), FuzzyMatcher::kMaxWord);
    char_roles(n, roles_, m);
    size_t same = 0;
    int evidence = acronym(n, m, &same);
    if (promoted(evidence)) return Grade{MatchTier::Prefix, acronym_prefix_score(n, same)};
    if (!evidence) return fuzzy_grade(n);
    std::optional<int32_t> score = matcher_.match(n);
    if (!score) return std::nullopt;
    return Grade{MatchTier::Substring, *score + evidence * kStrongEvidence};
  }
  // A fuzzy match whose every alignment contradicts the typed case (matcher's strict_case) is no
  // better evidence than letters scattered inside words: it ranks with those, below the ones the
  // case agrees with.
  std::optional<Grade> fuzzy_grade(std::string_view n) {
    if (std::optional<int32_t> score = matcher_.match(n, true)) return Grade{MatchTier::Fuzzy, *score};
    std::optional<int32_t> score = scattered_score(n);
    return score ? std::optional<Grade>(Grade{MatchTier::Scattered, *score}) : std::nullopt;
  }
  std::optional<int32_t> scattered_score(std::string_view n) {
    if (std::optional<int32_t> score = matcher_.match(n, true)) return score;
    if (!matcher_.cased()) return std::nullopt;
    std::optional<int32_t> score = matcher_.match(n);
    return score ? std::optional<int32_t>(*score - kStrongEvidence) : std::nullopt;
  }
  // An acronym of three or more letters that names every segment (`isl` for is_site_local, `mem`
  // for make_encoding_map) is as much evidence as a prefix that stops inside a word (islink,
  // member): it ranks with the prefixes, below those that end at a segment's end.
  bool promoted(int evidence) const { return (evidence & 1) && fuzzy_text_.size() >= 3; }
  // Its case term counts the typed capitals it matches: the bound below stays tight (`Request`
  // could at most match one), so a prefix run of names in the typed case ends the search.
  static int32_t acronym_prefix_score(std::string_view n, size_t capitals) {
    return int32_t(capitals) * (1 << 16) + (1 << 13) - int32_t(std::min<size_t>(n.size(), (1 << 12) - 1));
  }
  // The best score a promoted acronym can have: while the prefix run alone fills the limit with
  // hits above it, the later tiers cannot change the top k.
  // The best prefix-tier score the trigram candidates can give (a flat prefix or a promoted
  // acronym): both rank below a plain prefix that ends a segment, so a prefix run full of those
  // is the top k (the common case: `get`, `read`).
  int32_t best_later_prefix_score() const {
    if (fuzzy_text_.size() < 3) return INT32_MIN;  // neither applies
    const int32_t flat = (1 << 13) + (1 << 12);
    return std::max(flat, int32_t(std::count_if(name_.begin(), name_.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) * (1 << 16) + (1 << 13));
  }
  // A substring's score: the matcher's, raised when some occurrence starts a segment (as much as
  // an acronym in another case: both say the user aimed at segment starts).
  int32_t substring_score(std::string_view n) {
    const size_t m = std::min(n.size(), FuzzyMatcher::kMaxWord);
    char_roles(n, roles_, m);
    int32_t score = matcher_.match(n).value_or(0);
    return substring_at_head(n, m) ? score + 2 * kStrongEvidence : score;
  }
  // The query's word characters start the name's, separators aside: `processre` for
  // process_response, `getname` for get_name. A prefix in all but the underscores. Returns where
  // the match ends in n, or 0 when it is none.
  size_t flat_prefix(std::string_view n) const {
    if (lower_fuzzy_.size() < 3) return 0;  // `ab` is no flat prefix of a_b: too little to tell
    size_t q = 0, i = 0;
    for (; i < n.size() && q < lower_fuzzy_.size(); ++i) {
      char c = to_lower(n[i]);
      if (c == '_' || c == '-' || c == '$') continue;
      if (c != lower_fuzzy_[q++]) return 0;
    }
    return q == lower_fuzzy_.size() && !lower_fuzzy_.empty() ? i : 0;
  }
  // Within the prefix tier: the typed case first, then a query that ends where a segment ends
  // (`option` for OptionGroup before optionxform: a whole word was typed), then the share of the
  // name typed (the shorter name first, as fzf). `end` is where the match ends in n. A flat
  // prefix (`processre`, process_response) ranks between a prefix that ends a segment and one
  // that does not: above the whole acronyms when it ends a segment too, else below them.
  static int32_t prefix_score(std::string_view n, size_t end, int32_t same_case, bool flat = false) {
    bool boundary = end == 0 || end >= n.size();
    if (!boundary) {
      CharRole r[3];
      char_roles(n.substr(end - 1, 3), r, 3);
      boundary = r[1] != CharRole::Tail;
    }
    const int32_t level = flat ? (boundary ? (1 << 13) + (1 << 12) : 1 << 12) : (boundary ? 1 << 14 : 0);
    return same_case * (1 << 16) + level - int32_t(std::min<size_t>(n.size(), (1 << 12) - 1));
  }
  // A capital typed where the name has a small letter inside a word (`ISL` against islink): fzf
  // would not list it at all (smart case). Such a prefix match ranks with the substrings, below
  // the acronyms whose case agrees (`ISL`, is_site_local: its segment starts have no case).
  bool contradicts_case(std::string_view n, size_t skip) {
    if (!inner_capital_) return false;
    const size_t m = std::min(n.size(), std::min(FuzzyMatcher::kMaxWord, skip + name_.size() + 1));
    if (skip + name_.size() > m) return false;
    char_roles(n, roles_, m);  // the roles up to the match's end need one character past it
    for (size_t i = 0; i < name_.size(); ++i) {
      char c = n[skip + i];
      if (name_[i] >= 'A' && name_[i] <= 'Z' && c >= 'a' && c <= 'z' && roles_[skip + i] == CharRole::Tail) return true;
    }
    return false;
  }
  // Some occurrence of the query starts a segment (roles_ holds n's roles).
  bool substring_at_head(std::string_view n, size_t m) const {
    for (size_t i = 0; i + lower_.size() <= m; ++i)
      if (roles_[i] == CharRole::Head && istarts_with(n.substr(i), lower_)) return true;
    return false;
  }
  // Whether the query, of two or more letters, is a subsequence of n's segment starts: 4 when in
  // their own case (`TAF`, TypeAdapterFactory), 2 in another (`ASH`, add_set_handler), else 0;
  // one more when the name has no other segments (`TAF` names TypeAdapterFactory whole, but only
  // part of TypeAdapterFactoryBuilder).
  // `same`: how many typed capitals land on capitals.
  int acronym(std::string_view n, size_t m, size_t* same = nullptr) const {
    if (fuzzy_text_.size() < 2) return 0;
    size_t q = 0, same_case = 0, heads = 0, capitals = 0;
    for (size_t i = 0; i < m; ++i) {
      if (roles_[i] != CharRole::Head) continue;
      ++heads;
      if (q < fuzzy_text_.size() && to_lower(n[i]) == to_lower(fuzzy_text_[q])) {
        capitals += n[i] == fuzzy_text_[q] && n[i] >= 'A' && n[i] <= 'Z';
        same_case += n[i] == fuzzy_text_[q++];
      }
    }
    if (q < fuzzy_text_.size()) return 0;
    if (same) *same = capitals;
    return (same_case == q ? 4 : 2) + (heads == q ? 1 : 0);
  }

  // The query's letters and digits as a sketch (index_impl.h), and the first one's segment-start
  // bit: people abbreviate from the start of a word (`Cfg`, `Mgr`, `bgcomp`), so a name whose
  // segments all start with other letters is no candidate.
  uint64_t scattered_need() const {
    uint64_t need = 0;
    for (char c : fuzzy_text_) need |= IndexData::sketch_bit(to_lower(c));
    if (!fuzzy_text_.empty()) need |= IndexData::head_bit(to_lower(fuzzy_text_[0]));
    return need;
  }

  // Whether the query's word characters are a case-insensitive subsequence of `n`.
  bool subsequence_of(std::string_view n) const {
    size_t q = 0;
    const size_t m = std::min(n.size(), FuzzyMatcher::kMaxWord);
    for (size_t i = 0; i < m && q < fuzzy_text_.size(); ++i) q += to_lower(n[i]) == lower_fuzzy_[q];
    return q == fuzzy_text_.size();
  }

  // Tier 5, when the tiers above leave room: every name the query is a subsequence of, scored by
  // the fuzzy matcher (gaps cost, segment starts and runs earn). The trigram postings cannot find
  // these (`Fmt` shares no trigram with Formatter), so the names are scanned: one AND of a sketch
  // each, and only names that hold every letter, with the first at a segment start, are read.
  // `done` (sorted) are the names the tiers above saw already.
  void offer_scattered(const std::vector<uint32_t>& done) {
    if (fuzzy_text_.size() < 2 || fuzzy_text_.size() > FuzzyMatcher::kMaxPattern) return;
    const uint64_t need = scattered_need();
    const uint64_t* sketches = d_.name_sketches.data();
    size_t k = 0;
    for (uint32_t id = 0; id < name_count_; ++id) {
      if ((sketches[id] & need) != need) continue;
      while (k < done.size() && done[k] < id) ++k;
      if (k < done.size() && done[k] == id) continue;
      std::string_view n = d_.name(id);
      if (!subsequence_of(n) || icontains(n, lower_)) continue;  // a substring is some tier above's
      out_.add_name(id, MatchTier::Scattered, [&] { return scattered_score(n); });
    }
  }

  const IndexData& d_;
  const SearchRequest& req_;
  const Pattern& pattern_;
  Collector out_;
  std::string_view name_;
  std::string lower_;
  std::string fuzzy_text_;
  std::string lower_fuzzy_;
  bool inner_capital_;  // a capital past the query's first character: contradicts_case() can hold
  FuzzyMatcher matcher_;
  CharRole roles_[FuzzyMatcher::kMaxWord];
  const uint32_t name_count_;
  uint32_t lo_ = 0, hi_ = 0, lo1_ = 0, hi1_ = 0, lo2_ = 0, hi2_ = 0;  // names starting with the query, _query, __query
  detail::PostingList lists_[FuzzyMatcher::kMaxWord];
  size_t count_ = 0;
  bool some_token_absent_ = false;
};

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// One index's top k, leaving out the files whose bit is set in `hidden` (empty: none).
std::vector<Hit> search_layer(const IndexData& d, const SearchRequest& req, std::span<const uint64_t> hidden) {
  if (req.limit == 0) return {};
  std::string_view trimmed = trim_spaces(req.pattern);
  if (trimmed.find(' ') != std::string_view::npos) return search_words(d, req, trimmed, hidden);
  Pattern pattern = parse_pattern(trimmed);
  // A pattern of separators only ("::", "/") names nothing; an empty one lists everything.
  if (pattern.name.empty() && pattern.qualifier.empty() && !trimmed.empty()) return {};
  return LayerSearch(d, req, pattern, hidden).run();
}

// A hit of one layer against a hit of another: as better(), then by path and position, the order
// symbol ids follow within one index. A file is never in both layers.
bool better_across(const IndexData& da, const Hit& a, const IndexData& db, const Hit& b) {
  const SymbolRecord& ra = da.symbols[a.symbol];
  const SymbolRecord& rb = db.symbols[b.symbol];
  auto aside = [](const IndexData& d, const Hit& h) {
    const uint32_t file = d.file_of(h.symbol);
    return uint8_t(is_private_name(d.name(d.symbols[h.symbol].name())) || is_test_path(d.strings.get(d.files[file].path)) ||
                   is_file_static(d, d.symbols[h.symbol], file));
  };
  Entry x{a.tier, a.score, aside(da, a), uint8_t(kind_rank(ra.kind())), da.name_offsets[ra.name() + 1] - da.name_offsets[ra.name()], 0};
  Entry y{b.tier, b.score, aside(db, b), uint8_t(kind_rank(rb.kind())), db.name_offsets[rb.name() + 1] - db.name_offsets[rb.name()], 0};
  if (better(x, y)) return true;
  if (better(y, x)) return false;
  std::string_view pa = da.strings.get(da.files[da.file_of(a.symbol)].path), pb = db.strings.get(db.files[db.file_of(b.symbol)].path);
  if (pa != pb) return pa < pb;
  return ra.line != rb.line ? ra.line < rb.line : ra.column < rb.column;
}

}  // namespace

std::vector<Hit> search(const Index& index, const SearchRequest& req) {
  const detail::LiveLayers* live = detail::live_layers(index);
  if (!live) return search_layer(detail::data_of(index), req, {});
  // Each layer's own top k, merged: the view's top k is among them.
  std::vector<Hit> a = search_layer(*live->base, req, live->base_hidden);
  std::vector<Hit> b = live->overlay ? search_layer(*live->overlay, req, {}) : std::vector<Hit>{};
  std::vector<Hit> out;
  out.reserve(std::min(req.limit, a.size() + b.size()));
  for (size_t i = 0, j = 0; out.size() < req.limit && (i < a.size() || j < b.size());) {
    if (j == b.size() || (i < a.size() && better_across(*live->base, a[i], *live->overlay, b[j]))) {
      out.push_back({live->view_symbol(false, a[i].symbol), a[i].score, a[i].tier});
      ++i;
    } else {
      out.push_back({live->view_symbol(true, b[j].symbol), b[j].score, b[j].tier});
      ++j;
    }
  }
  return out;
}

}  // namespace query
