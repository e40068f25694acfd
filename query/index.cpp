// IndexBuilder and the immutable Index over IndexData.
#include <algorithm>
#include <cassert>
#include <cstring>
#include <exception>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>

#include <xxhash.h>

#include "query/fuzzy_match.h"
#include "query/index_impl.h"

namespace query {
namespace detail {

void IndexData::build_file_lookup() {
  file_of_step.assign((symbols.size() + kFileStep - 1) / kFileStep, 0);
  uint32_t f = 0;
  for (size_t step = 0; step < file_of_step.size(); ++step) {
    const size_t symbol = step * kFileStep;
    while (f + 1 < files.size() && files[f + 1].first_symbol <= symbol) ++f;
    file_of_step[step] = f;
  }
}

void IndexData::build_name_sketches() {
  const size_t n = name_offsets.empty() ? 0 : name_offsets.size() - 1;
  name_sketches.assign(n, 0);
  CharRole roles[FuzzyMatcher::kMaxWord];
  for (size_t id = 0; id < n; ++id) {
    std::string_view w = name(uint32_t(id));
    size_t m = std::min(w.size(), FuzzyMatcher::kMaxWord);  // what the scorer reads of a name
    char_roles(w, roles, m);
    uint64_t sketch = 0;
    for (size_t i = 0; i < m; ++i) {
      char c = w[i] >= 'A' && w[i] <= 'Z' ? char(w[i] + ('a' - 'A')) : w[i];
      sketch |= sketch_bit(c);
      if (roles[i] == CharRole::Head) sketch |= head_bit(c);
    }
    name_sketches[id] = sketch;
  }
}

uint32_t StringBlob::append(std::string_view s) {
  if (s.empty()) return 0;
  // Offsets are 32-bit: 4 GiB of distinct containers, paths and signatures is the limit.
  if (bytes_.size() + s.size() + 5 >= UINT32_MAX) throw std::length_error("index strings exceed 4 GiB");
  uint32_t offset = uint32_t(bytes_.size());
  size_t n = s.size();
  while (n >= 0x80) {
    bytes_.push_back(char(0x80 | (n & 0x7f)));
    n >>= 7;
  }
  bytes_.push_back(char(n));
  bytes_.insert(bytes_.end(), s.begin(), s.end());
  return offset;
}

std::string_view StringBlob::get(uint32_t offset) const {
  const char* p = bytes_.data() + offset;
  size_t n = 0;
  for (int shift = 0;; shift += 7) {
    unsigned char b = static_cast<unsigned char>(*p++);
    n |= size_t(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  return {p, n};
}

bool StringBlob::holds(uint32_t offset) const {
  const size_t end = bytes_.size();
  size_t at = offset, n = 0;
  // append() writes a 32-bit length in at most 5 bytes; a longer prefix is not one of ours.
  for (int shift = 0; shift < 35 && at < end; shift += 7) {
    unsigned char b = static_cast<unsigned char>(bytes_[at++]);
    n |= size_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return n <= end - at;
  }
  return false;
}

PostingList IndexData::token(Token t) const {
  auto it = std::lower_bound(token_keys.begin(), token_keys.end(), t);
  if (it == token_keys.end() || *it != t) return {};
  return token_postings.get(size_t(it - token_keys.begin()));
}

std::pair<size_t, size_t> KeyedLists::prefix_range(std::string_view lower_prefix) const {
  size_t lo = 0, hi = size();
  while (lo < hi) {  // first key >= prefix
    size_t mid = (lo + hi) / 2;
    if (key(mid) < lower_prefix) lo = mid + 1;
    else hi = mid;
  }
  size_t end = lo;
  while (end < size() && key(end).starts_with(lower_prefix)) ++end;
  return {lo, end};
}

namespace {

inline char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + ('a' - 'A')) : c; }

bool less_lower(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    char x = to_lower(a[i]), y = to_lower(b[i]);
    if (x != y) return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
  }
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

// Chunked storage for strings that must not move while maps point at them.
class Arena {
 public:
  std::string_view store(std::string_view s) {
    if (s.size() > kChunk / 4) {
      big_.emplace_back(new char[s.size()]);
      std::memcpy(big_.back().get(), s.data(), s.size());
      return {big_.back().get(), s.size()};
    }
    if (chunks_.empty() || used_ + s.size() > kChunk) {
      chunks_.emplace_back(new char[kChunk]);
      used_ = 0;
    }
    char* p = chunks_.back().get() + used_;
    std::memcpy(p, s.data(), s.size());
    used_ += s.size();
    return {p, s.size()};
  }

 private:
  static constexpr size_t kChunk = 1 << 20;
  std::vector<std::unique_ptr<char[]>> chunks_, big_;
  size_t used_ = 0;
};

// String -> 32-bit value (a blob offset, a name id), open addressing. A cell holds the key's hash
// and its value, never the key: `key_of(value)` reads it back from where it is stored anyway, so
// no string is copied for the table and a probe compares 32-bit hashes before any bytes.
class StringTable {
 public:
  static constexpr uint32_t kEmpty = UINT32_MAX;

  // The value stored for `s`, or else the one `add()` returns, now stored for it.
  template <typename KeyOf, typename Add>
  uint32_t find_or_add(std::string_view s, KeyOf&& key_of, Add&& add) {
    if ((size_ + 1) * 2 > cells_.size()) grow();
    const uint64_t h = XXH3_64bits(s.data(), s.size());
    const uint32_t tag = uint32_t(h >> 32);
    const size_t mask = cells_.size() - 1;
    for (size_t i = size_t(h) & mask;; i = (i + 1) & mask) {
      Cell& c = cells_[i];
      if (c.value == kEmpty) {
        const uint32_t value = add();
        cells_[i] = {tag, uint32_t(h), value};
        ++size_;
        return value;
      }
      if (c.tag == tag && key_of(c.value) == s) return c.value;
    }
  }

 private:
  struct Cell {
    uint32_t tag, low;  // the hash's high and low halves: a rehash needs no key
    uint32_t value = kEmpty;
  };
  void grow() {
    std::vector<Cell> old = std::move(cells_);
    cells_.assign(std::max<size_t>(1024, old.size() * 2), Cell{});
    const size_t mask = cells_.size() - 1;
    for (const Cell& c : old) {
      if (c.value == kEmpty) continue;
      size_t i = c.low & mask;
      while (cells_[i].value != kEmpty) i = (i + 1) & mask;
      cells_[i] = c;
    }
  }
  std::vector<Cell> cells_;
  size_t size_ = 0;
};

// Interns strings into a StringBlob, returning the offset of the one stored copy.
class Interner {
 public:
  uint32_t intern(StringBlob& blob, std::string_view s) {
    if (s.empty()) return 0;
    return table_.find_or_add(s, [&](uint32_t offset) { return blob.get(offset); }, [&] { return blob.append(s); });
  }

 private:
  StringTable table_;
};

uint16_t clamp16(uint32_t v) { return v > 0xffff ? 0xffff : uint16_t(v); }

// Token -> dense slot (0, 1, 2 ... in order of first sight), open addressing. No token is 0
// (its top byte holds its length), so 0 marks an empty cell.
class TokenSlots {
 public:
  uint32_t find_or_add(Token t) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    size_t i = cell(t);
    if (keys_[i] == 0) {
      keys_[i] = t;
      slots_[i] = uint32_t(size_++);
    }
    return slots_[i];
  }
  uint32_t find(Token t) const { return slots_[cell(t)]; }  // t must have been added
  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i]) f(keys_[i], slots_[i]);
  }

 private:
  size_t cell(Token t) const {
    const size_t mask = keys_.size() - 1;
    size_t i = size_t((uint64_t(t) * 0x9E3779B97F4A7C15ull) >> 32) & mask;  // the product's high half: its best-mixed bits
    while (keys_[i] != 0 && keys_[i] != t) i = (i + 1) & mask;
    return i;
  }
  void grow() {
    std::vector<Token> keys = std::move(keys_);
    std::vector<uint32_t> slots = std::move(slots_);
    keys_.assign(std::max<size_t>(1024, keys.size() * 2), 0);
    slots_.assign(keys_.size(), 0);
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i]) {
        size_t c = cell(keys[i]);
        keys_[c] = keys[i];
        slots_[c] = slots[i];
      }
  }
  std::vector<Token> keys_;
  std::vector<uint32_t> slots_;
  size_t size_ = 0;
};


class IndexImpl final : public Index {
 public:
  explicit IndexImpl(IndexData data) : d_(std::move(data)) {
    d_.build_file_lookup();
    d_.build_name_sketches();
  }

  size_t symbol_count() const override { return d_.symbols.size(); }
  size_t file_count() const override { return d_.files.size(); }
  size_t name_count() const override { return d_.name_offsets.size() - 1; }

  Symbol symbol(uint32_t id) const override {
    const SymbolRecord& r = d_.symbols[id];
    const FileRecord& f = d_.files[d_.file_of(id)];
    Symbol s;
    s.id = id;
    s.file = d_.file_of(id);
    s.name = d_.name(r.name());
    s.container = d_.strings.get(d_.containers[r.container()]);
    s.signature = d_.signatures.get(r.signature);
    s.path = d_.strings.get(f.path);
    s.kind = r.kind();
    s.language = f.language;
    s.range = {{r.line, r.column}, {d_.end_line(id), r.end_column}};
    uint32_t sel_line = r.line + r.sel_line_delta();
    s.selection = {{sel_line, r.sel_column}, {sel_line, uint32_t(r.sel_column) + uint32_t(s.name.size())}};
    return s;
  }

  FileInfo file(uint32_t id) const override {
    const FileRecord& f = d_.files[id];
    return {id, d_.strings.get(f.path), f.language, f.size, f.mtime_ns, f.content_hash, f.parse_errors, f.symbol_count};
  }

  std::optional<uint32_t> find_file(std::string_view path) const override {
    auto it = std::lower_bound(d_.files_by_path.begin(), d_.files_by_path.end(), path,
                               [&](uint32_t id, std::string_view p) { return d_.strings.get(d_.files[id].path) < p; });
    if (it == d_.files_by_path.end() || d_.strings.get(d_.files[*it].path) != path) return std::nullopt;
    return *it;
  }

  IdRange file_symbols(uint32_t file) const override {
    const FileRecord& f = d_.files[file];
    return {f.first_symbol, f.first_symbol + f.symbol_count};
  }

  std::vector<Import> file_imports(uint32_t file) const override {
    const FileRecord& f = d_.files[file];
    std::vector<Import> out;
    out.reserve(f.import_count);
    for (uint32_t i = 0; i < f.import_count; ++i) {
      const ImportRecord& r = d_.imports[f.first_import + i];
      out.push_back({d_.strings.get(r.specifier), d_.strings.get(r.kind), r.line});
    }
    return out;
  }

  std::vector<uint32_t> find_exact(std::string_view name) const override {
    // Names are sorted case-insensitively, then by bytes: one binary search.
    const uint32_t names = uint32_t(d_.name_offsets.size() - 1);
    uint32_t lo = 0, hi = names;
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (less_lower(d_.name(mid), name)) lo = mid + 1;
      else hi = mid;
    }
    if (lo == names || d_.name(lo) != name) return {};
    return {d_.name_symbols.begin() + d_.name_symbol_offsets[lo], d_.name_symbols.begin() + d_.name_symbol_offsets[lo + 1]};
  }

  MemoryStats memory() const override {
    MemoryStats m;
    m.records = d_.symbols.capacity() * sizeof(SymbolRecord) + d_.files.capacity() * sizeof(FileRecord) +
                d_.containers.capacity() * 4 + d_.far_end_lines.capacity() * 8 + d_.file_of_step.capacity() * 4 +
                d_.imports.capacity() * sizeof(ImportRecord) + d_.files_by_path.capacity() * 4;
    m.names = d_.names_blob.capacity() + d_.name_offsets.capacity() * 4 + d_.name_sketches.capacity() * 8;
    m.postings = (d_.name_symbol_offsets.capacity() + d_.name_symbols.capacity()) * 4 +
                 d_.token_keys.capacity() * sizeof(Token) + d_.segment_offsets.capacity() * 4 +
                 d_.segments_blob.capacity();
    m.postings += d_.token_postings.bytes() + d_.segment_postings.bytes();
    m.postings += d_.container_members.bytes() +
                  d_.container_parts.bytes() + d_.path_parts.bytes();
    m.strings = d_.strings.bytes();
    m.signatures = d_.signatures.bytes();
    return m;
  }

  const IndexData& data() const { return d_; }

 private:
  IndexData d_;
};

}  // namespace

const IndexData& data_of(const Index& index) {
  assert(dynamic_cast<const IndexImpl*>(&index) && "search() takes an Index built by IndexBuilder");
  return static_cast<const IndexImpl&>(index).data();
}

std::unique_ptr<Index> make_index(IndexData data) { return std::make_unique<IndexImpl>(std::move(data)); }

}  // namespace detail

using namespace detail;

struct IndexBuilder::State {
  struct PendingFile {
    uint32_t path;
    Language language;
    bool parse_errors;
    uint64_t size;
    int64_t mtime_ns;
    uint64_t content_hash;
    uint32_t first_symbol, symbol_count, first_import, import_count;
  };
  Arena arena;
  IndexData data;
  Interner strings;
  Interner signatures;
  StringTable name_ids;
  std::vector<std::string_view> names;
  std::vector<PendingFile> files;
  std::vector<SymbolRecord> symbols;
  std::unordered_map<uint32_t, uint32_t> far_end_lines;  // index in `symbols` -> end line
  std::vector<ImportRecord> imports;

  std::unordered_map<uint32_t, uint32_t> container_ids;  // string offset -> container id

  uint32_t container_id(std::string_view container) {
    uint32_t offset = strings.intern(data.strings, container);
    if (offset == 0) return 0;
    auto [it, added] = container_ids.emplace(offset, uint32_t(data.containers.size()));
    if (added) {
      if (data.containers.size() >= SymbolRecord::kMaxId) throw std::length_error("index has over 2^24 distinct containers");
      data.containers.push_back(offset);
    }
    return it->second;
  }

  // The steps of finish(), in order.
  void lay_out_files();
  void number_names();
  void store_names();
  void build_name_postings();

  uint32_t name_id(std::string_view name) {
    return name_ids.find_or_add(name, [&](uint32_t id) { return names[id]; }, [&] {
      const uint32_t id = uint32_t(names.size());
      if (id >= SymbolRecord::kMaxId) throw std::length_error("index has over 2^24 distinct names");
      names.push_back(arena.store(name));
      return id;
    });
  }
};

IndexBuilder::IndexBuilder() : state_(std::make_unique<State>()) {}
IndexBuilder::~IndexBuilder() = default;

void IndexBuilder::add(const FileInput& in) {
  State& s = *state_;
  State::PendingFile f{};
  f.path = s.strings.intern(s.data.strings, in.path);
  f.language = in.language;
  f.parse_errors = in.parse_errors;
  f.size = in.size;
  f.mtime_ns = in.mtime_ns;
  f.content_hash = in.content_hash;
  f.first_symbol = uint32_t(s.symbols.size());
  f.symbol_count = uint32_t(in.symbols.size());
  f.first_import = uint32_t(s.imports.size());
  f.import_count = uint32_t(in.imports.size());
  // Source order within the file, whatever order the query produced them in.
  std::vector<uint32_t> order(in.symbols.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const Position &x = in.symbols[a].range.start, &y = in.symbols[b].range.start;
    return x.line != y.line ? x.line < y.line : clamp16(x.column) < clamp16(y.column);
  });
  for (uint32_t i : order) {
    const SymbolInput& sym = in.symbols[i];
    SymbolRecord r{};
    uint32_t sel_delta = sym.selection.start.line >= sym.range.start.line ? sym.selection.start.line - sym.range.start.line : 0;
    r.name_sel = s.name_id(sym.name) | std::min<uint32_t>(sel_delta, 255) << 24;
    r.container_kind = s.container_id(sym.container) | uint32_t(sym.kind) << 24;
    r.signature = s.signatures.intern(s.data.signatures, sym.signature);
    r.line = sym.range.start.line;
    uint32_t span = sym.range.end.line >= r.line ? sym.range.end.line - r.line : 0;
    if (span >= SymbolRecord::kFarEndLine || sym.range.end.line < r.line) {
      r.end_line_delta = SymbolRecord::kFarEndLine;
      s.far_end_lines[uint32_t(s.symbols.size())] = sym.range.end.line;
    } else {
      r.end_line_delta = uint16_t(span);
    }
    r.column = clamp16(sym.range.start.column);
    r.end_column = clamp16(sym.range.end.column);
    r.sel_column = clamp16(sym.selection.start.column);
    s.symbols.push_back(r);
  }
  for (const ImportInput& imp : in.imports)
    s.imports.push_back({s.strings.intern(s.data.strings, imp.specifier), s.strings.intern(s.data.strings, imp.kind), imp.line});
  s.files.push_back(f);
}

void IndexBuilder::add_from(const Index& other, uint32_t file, int64_t mtime_ns) {
  FileInfo info = other.file(file);
  auto [begin, end] = other.file_symbols(file);
  std::vector<SymbolInput> symbols;
  symbols.reserve(end - begin);
  for (uint32_t id = begin; id < end; ++id) {
    Symbol s = other.symbol(id);
    symbols.push_back({s.name, s.container, s.signature, s.kind, s.range, s.selection});
  }
  std::vector<ImportInput> imports;
  for (const Import& i : other.file_imports(file)) imports.push_back({i.specifier, i.kind, i.line});
  FileInput in;
  in.path = info.path;
  in.language = info.language;
  in.size = info.size;
  in.mtime_ns = mtime_ns;
  in.content_hash = info.content_hash;
  in.parse_errors = info.parse_errors;
  in.symbols = symbols;
  in.imports = imports;
  add(in);
}

namespace {

// Lower-cased segments of a name: "getHTTPResponse2" -> get, http, response, 2.
template <typename F>
void for_each_segment(std::string_view name, F&& f) {
  CharRole roles[FuzzyMatcher::kMaxWord];
  size_t n = std::min(name.size(), FuzzyMatcher::kMaxWord);
  char_roles(name, roles, n);
  char buf[FuzzyMatcher::kMaxWord];
  size_t len = 0;
  for (size_t i = 0; i <= n; ++i) {
    bool boundary = i == n || roles[i] != CharRole::Tail;
    if (boundary && len > 0) {
      f(std::string_view(buf, len));
      len = 0;
    }
    if (i < n && roles[i] != CharRole::Separator) buf[len++] = to_lower(name[i]);
  }
}

// Lists keyed by string, as KeyedLists: keys sorted, each list as given.
KeyedLists keyed_lists(std::unordered_map<std::string, std::vector<uint32_t>>& lists) {
  KeyedLists out;
  std::vector<std::pair<std::string_view, std::vector<uint32_t>*>> sorted;
  sorted.reserve(lists.size());
  for (auto& [key, list] : lists) sorted.emplace_back(key, &list);
  std::sort(sorted.begin(), sorted.end());
  for (auto& [key, list] : sorted) {
    out.blob.insert(out.blob.end(), key.begin(), key.end());
    out.key_offsets.push_back(uint32_t(out.blob.size()));
    out.values.insert(out.values.end(), list->begin(), list->end());
    out.list_offsets.push_back(uint32_t(out.values.size()));
  }
  out.blob.shrink_to_fit();
  out.values.shrink_to_fit();
  return out;
}

// Calls f(lower-cased part) for each non-empty part of `s` between separators.
template <typename IsSep, typename F>
void for_each_part(std::string_view s, IsSep&& is_sep, F&& f) {
  std::string part;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || is_sep(s[i])) {
      if (!part.empty()) f(part);
      part.clear();
    } else {
      part += to_lower(s[i]);
    }
  }
}

// What a qualified query looks up: container members and container and path components.
void build_context_lists(IndexData& d) {
  {
    std::vector<uint32_t> offsets(d.containers.size() + 1, 0);
    for (const auto& r : d.symbols)
      if (r.container()) ++offsets[r.container() + 1];
    for (size_t i = 1; i < offsets.size(); ++i) offsets[i] += offsets[i - 1];
    std::vector<uint32_t> members(offsets.back());
    std::vector<uint32_t> fill(offsets.begin(), offsets.end() - 1);
    for (uint32_t id = 0; id < d.symbols.size(); ++id)
      if (uint32_t c = d.symbols[id].container()) members[fill[c]++] = id;
    for (size_t c = 0; c < d.containers.size(); ++c)
      d.container_members.add(std::span<const uint32_t>(members.data() + offsets[c], members.data() + offsets[c + 1]));
    d.container_members.shrink();
  }

  std::unordered_map<std::string, std::vector<uint32_t>> lists;
  for (uint32_t c = 1; c < d.containers.size(); ++c)
    for_each_part(d.strings.get(d.containers[c]), is_qualifier_sep, [&](const std::string& part) {
      auto& list = lists[part];
      if (list.empty() || list.back() != c) list.push_back(c);
    });
  d.container_parts = keyed_lists(lists);

  lists.clear();
  for (uint32_t f = 0; f < d.files.size(); ++f)
    for_each_part(d.strings.get(d.files[f].path), [](char c) { return c == '/'; }, [&](const std::string& part) {
      auto& ranges = lists[part];
      if (!ranges.empty() && ranges.back() > f) return;  // a part twice in one path ("src/src")
      if (!ranges.empty() && ranges.back() == f) ranges.back() = f + 1;
      else ranges.insert(ranges.end(), {f, f + 1});
    });
  d.path_parts = keyed_lists(lists);
}

// Trigram postings are built in partitions by token hash, one thread each, while the caller
// builds the segment postings: the build is the serial tail of indexing. Every partition visits
// names in ascending id order, so each list comes out sorted, and encodes its lists itself; the
// caller only joins the encoded bytes in token order.
class TokenPartitions {
 public:
  explicit TokenPartitions(const std::vector<std::string_view>& names)
      : names_(names), parts_(std::clamp(std::thread::hardware_concurrency(), 1u, 8u)), partitions_(parts_), failed_(parts_) {
    for (unsigned p = 0; p < parts_; ++p) threads_.emplace_back([this, p] { build(p); });
  }
  ~TokenPartitions() { join(); }

  // Waits for the partitions and appends their postings to `d` in token order.
  void finish_into(IndexData& d) {
    join();
    for (auto& e : failed_)
      if (e) std::rethrow_exception(e);
    struct Keyed {
      Token token;
      uint32_t part, slot;
    };
    std::vector<Keyed> keyed;
    for (unsigned p = 0; p < parts_; ++p)
      partitions_[p].slot_of.for_each([&](Token token, uint32_t slot) { keyed.push_back({token, p, slot}); });
    std::sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) { return a.token < b.token; });
    d.token_keys.reserve(keyed.size());
    for (const Keyed& k : keyed) {
      d.token_keys.push_back(k.token);
      d.token_postings.append(partitions_[k.part].postings, k.slot);
    }
    d.token_postings.shrink();
  }

 private:
  struct Partition {
    TokenSlots slot_of;
    std::vector<std::vector<uint32_t>> lists;  // by slot
    Postings postings;                         // by slot
  };

  unsigned partition_of(Token t) const { return ((t * 2654435761u) >> 16) % parts_; }

  void build(unsigned p) {
    try {
      Partition& part = partitions_[p];
      std::vector<Token> tokens;
      for (uint32_t id = 0; id < names_.size(); ++id) {
        tokens.clear();
        identifier_tokens(names_[id], tokens);
        for (Token t : tokens) {
          if (partition_of(t) != p) continue;
          uint32_t slot = part.slot_of.find_or_add(t);
          if (slot == part.lists.size()) part.lists.emplace_back();
          part.lists[slot].push_back(id);
        }
      }
      for (auto& list : part.lists) {
        part.postings.add(list);
        std::vector<uint32_t>().swap(list);
      }
    } catch (...) {
      failed_[p] = std::current_exception();  // rethrown by finish_into: a throw on a thread would end the process
    }
  }

  void join() {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

  const std::vector<std::string_view>& names_;
  const unsigned parts_;
  std::vector<Partition> partitions_;
  std::vector<std::exception_ptr> failed_;
  std::vector<std::thread> threads_;
};

// Segment postings: each lower-cased segment of a name ("get", "http") -> the names with it.
void build_segment_postings(const std::vector<std::string_view>& names, IndexData& d) {
  std::unordered_map<std::string_view, uint32_t> segment_slot;
  std::vector<std::string_view> segment_text;
  std::vector<std::vector<uint32_t>> segment_lists;
  Arena segment_arena;
  for (uint32_t id = 0; id < names.size(); ++id) {
    for_each_segment(names[id], [&](std::string_view seg) {
      auto it = segment_slot.find(seg);
      if (it == segment_slot.end()) {
        std::string_view stored = segment_arena.store(seg);
        it = segment_slot.emplace(stored, uint32_t(segment_lists.size())).first;
        segment_text.push_back(stored);
        segment_lists.emplace_back();
      }
      auto& list = segment_lists[it->second];
      if (list.empty() || list.back() != id) list.push_back(id);
    });
  }
  std::vector<uint32_t> seg_order(segment_text.size());
  std::iota(seg_order.begin(), seg_order.end(), 0u);
  std::sort(seg_order.begin(), seg_order.end(), [&](uint32_t a, uint32_t b) { return segment_text[a] < segment_text[b]; });
  d.segment_offsets.reserve(seg_order.size() + 1);
  for (uint32_t slot : seg_order) {
    d.segment_offsets.push_back(uint32_t(d.segments_blob.size()));
    d.segments_blob.insert(d.segments_blob.end(), segment_text[slot].begin(), segment_text[slot].end());
    d.segment_postings.add(segment_lists[slot]);
  }
  d.segment_offsets.push_back(uint32_t(d.segments_blob.size()));
  d.segment_postings.shrink();
}

}  // namespace

// Files in path order, and their symbols and imports with them.
void IndexBuilder::State::lay_out_files() {
  IndexData& d = data;
  std::vector<uint32_t> order(files.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return d.strings.get(files[a].path) < d.strings.get(files[b].path);
  });
  d.symbols.reserve(symbols.size());
  d.imports.reserve(imports.size());
  d.files.reserve(files.size());
  for (uint32_t old : order) {
    const auto& f = files[old];
    FileRecord r{f.path, uint32_t(d.symbols.size()), f.symbol_count, uint32_t(d.imports.size()), f.import_count,
                 f.language, f.parse_errors, f.size, f.mtime_ns, f.content_hash};
    for (uint32_t i = 0; i < f.symbol_count; ++i) {
      if (symbols[f.first_symbol + i].end_line_delta == SymbolRecord::kFarEndLine)
        d.far_end_lines.emplace_back(uint32_t(d.symbols.size()), far_end_lines.at(f.first_symbol + i));
      d.symbols.push_back(symbols[f.first_symbol + i]);
    }
    d.imports.insert(d.imports.end(), imports.begin() + f.first_import, imports.begin() + f.first_import + f.import_count);
    d.files.push_back(r);
  }
  d.files_by_path.resize(d.files.size());
  std::iota(d.files_by_path.begin(), d.files_by_path.end(), 0u);
  std::vector<SymbolRecord>().swap(symbols);
  std::vector<ImportRecord>().swap(imports);
}

// Names, numbered in case-insensitive sorted order: a prefix's names are one id range, and names
// that share a start get neighbouring ids, so their posting gaps are small.
void IndexBuilder::State::number_names() {
  const size_t n = names.size();
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return less_lower(names[a], names[b]); });
  std::vector<uint32_t> new_id(n);
  std::vector<std::string_view> sorted(n);
  for (uint32_t i = 0; i < n; ++i) {
    new_id[order[i]] = i;
    sorted[i] = names[order[i]];
  }
  names.swap(sorted);
  for (auto& r : data.symbols) r.set_name(new_id[r.name()]);
}

// The names' text in id order, and name -> symbols, in symbol id order (so by path, then line).
void IndexBuilder::State::store_names() {
  IndexData& d = data;
  const size_t n = names.size();
  d.name_offsets.reserve(n + 1);
  size_t total = 0;
  for (auto nm : names) total += nm.size();
  d.names_blob.reserve(total);
  for (auto nm : names) {
    d.name_offsets.push_back(uint32_t(d.names_blob.size()));
    d.names_blob.insert(d.names_blob.end(), nm.begin(), nm.end());
  }
  d.name_offsets.push_back(uint32_t(d.names_blob.size()));
  d.name_symbol_offsets.assign(n + 1, 0);
  for (const auto& r : d.symbols) ++d.name_symbol_offsets[r.name() + 1];
  for (size_t i = 1; i <= n; ++i) d.name_symbol_offsets[i] += d.name_symbol_offsets[i - 1];
  d.name_symbols.resize(d.symbols.size());
  std::vector<uint32_t> fill(d.name_symbol_offsets.begin(), d.name_symbol_offsets.end() - 1);
  for (uint32_t id = 0; id < d.symbols.size(); ++id) d.name_symbols[fill[d.symbols[id].name()]++] = id;
}

void IndexBuilder::State::build_name_postings() {
  TokenPartitions tokens(names);          // on threads of their own
  build_segment_postings(names, data);    // on this one meanwhile
  tokens.finish_into(data);
}

std::unique_ptr<Index> IndexBuilder::finish() {
  State& s = *state_;
  s.lay_out_files();
  s.number_names();
  s.store_names();
  s.build_name_postings();
  IndexData& d = s.data;
  build_context_lists(d);
  d.strings.shrink();
  d.signatures.shrink();
  d.containers.shrink_to_fit();
  auto index = std::make_unique<IndexImpl>(std::move(d));
  state_ = std::make_unique<State>();
  return index;
}

}  // namespace query
