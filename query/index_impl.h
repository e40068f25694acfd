// The flat arrays behind query::Index. Private to query/: search.cpp reads them directly.
//
// Layout: symbols are grouped by file and files are sorted by path, so a file's symbols are one
// contiguous run and symbol ids are deterministic for a given set of files. Strings live in two
// blobs as varint-length-prefixed runs addressed by a 32-bit offset (offset 0 is the empty string);
// identical strings are stored once. Names have a blob of their own, addressed by name id.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "query/posting_list.h"
#include "query/query.h"
#include "query/trigram.h"

namespace query::detail {

// 24 bytes: ids that fit 24 bits share a word with a byte-sized field, the end line is a 16-bit
// delta (longer spans are looked up in IndexData::far_end_lines), and the file is not stored:
// symbols are grouped by file, so IndexData::file_of() finds it from the id.
struct SymbolRecord {
  static constexpr uint32_t kMaxId = 1u << 24;       // names and containers per index
  static constexpr uint16_t kFarEndLine = 0xffff;   // end_line - line does not fit 16 bits

  uint32_t name_sel;        // name id | (selection line - line, clamped to 255) << 24
  uint32_t container_kind;  // container id (an index into IndexData::containers, 0 = none) | kind << 24
  uint32_t signature;       // signature-blob offset
  uint32_t line;            // range start
  uint16_t end_line_delta;  // range end line - line, or kFarEndLine
  uint16_t column;          // byte columns, clamped to 65535
  uint16_t end_column;
  uint16_t sel_column;      // the selection (the name) ends sel_column + the name's length later:
                            // names never span lines

  uint32_t name() const { return name_sel & (kMaxId - 1); }
  uint32_t sel_line_delta() const { return name_sel >> 24; }
  uint32_t container() const { return container_kind & (kMaxId - 1); }
  Kind kind() const { return Kind(container_kind >> 24); }
  void set_name(uint32_t id) { name_sel = (name_sel & ~(kMaxId - 1)) | id; }
};
static_assert(sizeof(SymbolRecord) == 24, "keep the hot record small");

struct FileRecord {
  uint32_t path;  // string offset
  uint32_t first_symbol;
  uint32_t symbol_count;
  uint32_t first_import;
  uint32_t import_count;
  Language language;
  bool parse_errors;
  uint64_t size;
  int64_t mtime_ns;
  uint64_t content_hash;
};

struct ImportRecord {
  uint32_t specifier;  // string offset
  uint32_t kind;       // string offset
  uint32_t line;
};

// Length-prefixed strings; offset 0 holds the empty string.
class StringBlob {
 public:
  StringBlob() { bytes_.push_back(0); }
  uint32_t append(std::string_view s);
  // get() trusts its offset; a loaded snapshot's offsets are checked with holds() first.
  std::string_view get(uint32_t offset) const;
  // Whether a string starts at `offset` and ends within the blob (its length prefix included).
  bool holds(uint32_t offset) const;
  size_t bytes() const { return bytes_.capacity(); }
  void shrink() { bytes_.shrink_to_fit(); }

 private:
  friend struct SnapshotCodec;
  std::vector<char> bytes_;
};

// Sorted lower-case keys, each with a list of ids (CSR): the components of container chains and
// of file paths, so a qualified query finds its containers and files by prefix without scanning.
struct KeyedLists {
  std::vector<char> blob;
  std::vector<uint32_t> key_offsets{0};   // key i is blob[key_offsets[i] .. key_offsets[i+1])
  std::vector<uint32_t> list_offsets{0};  // list i is values[list_offsets[i] .. list_offsets[i+1])
  std::vector<uint32_t> values;

  size_t size() const { return key_offsets.size() - 1; }
  std::string_view key(size_t i) const { return {blob.data() + key_offsets[i], key_offsets[i + 1] - key_offsets[i]}; }
  std::span<const uint32_t> list(size_t i) const {
    return {values.data() + list_offsets[i], values.data() + list_offsets[i + 1]};
  }
  // The keys that start with `lower_prefix`: one run, since keys are sorted.
  std::pair<size_t, size_t> prefix_range(std::string_view lower_prefix) const;
  size_t bytes() const { return blob.capacity() + (key_offsets.capacity() + list_offsets.capacity() + values.capacity()) * 4; }
};

struct IndexData {
  std::vector<SymbolRecord> symbols;
  // (symbol id, end line) for the records whose end_line_delta is kFarEndLine, by symbol id.
  std::vector<std::pair<uint32_t, uint32_t>> far_end_lines;
  std::vector<FileRecord> files;
  std::vector<uint32_t> files_by_path;  // file ids sorted by path (files are already, kept explicit)
  std::vector<ImportRecord> imports;
  StringBlob strings;
  StringBlob signatures;
  // Distinct container chains by id (entry 0 is the empty one): string offsets. Dense ids let a
  // query remember per container whether it matched, in a flat array.
  std::vector<uint32_t> containers{0};
  // Symbols by container id, as posting lists (members are mostly neighbours: a bit or half a
  // byte each); container 0 (none) has an empty list.
  Postings container_members;
  // Container ids by lower-cased chain component ("http", "server" for "http::Server").
  KeyedLists container_parts;
  // File ranges by lower-cased path component: values are (first file, end file) pairs; files
  // are sorted by path, so every file under one directory is one range.
  KeyedLists path_parts;

  // Names: ids 0..n-1 in case-insensitive order (then byte order), text in names_blob at
  // name_offsets[id] .. name_offsets[id+1]. Exact lookup is a binary search in that order.
  std::vector<char> names_blob;
  std::vector<uint32_t> name_offsets;
  std::vector<uint32_t> name_symbol_offsets; // CSR: symbols of name id in name_symbols[off[id]..off[id+1]]
  std::vector<uint32_t> name_symbols;

  // Name ids per trigram token and per lower-cased segment, as posting lists (posting_list.h).
  std::vector<Token> token_keys;          // sorted
  Postings token_postings;                // entry i belongs to token_keys[i]
  std::vector<uint32_t> segment_offsets;  // into segments_blob, sorted by segment text; n+1 entries
  std::vector<char> segments_blob;
  Postings segment_postings;              // entry i belongs to segment(i)

  // The file of every kFileStep-th symbol, so file_of() searches a few files, not all of them.
  // Derived from `files` (build_file_lookup()), never stored.
  static constexpr uint32_t kFileStep = 64;
  std::vector<uint32_t> file_of_step;
  void build_file_lookup();
  uint32_t file_of(uint32_t symbol) const {
    // The last file that starts at or before the symbol: empty files before it start there too.
    size_t step = symbol / kFileStep;
    uint32_t lo = file_of_step[step], hi = step + 1 < file_of_step.size() ? file_of_step[step + 1] + 1 : uint32_t(files.size());
    while (hi - lo > 1) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (files[mid].first_symbol <= symbol) lo = mid;
      else hi = mid;
    }
    return lo;
  }
  uint32_t end_line(uint32_t symbol) const {
    const SymbolRecord& r = symbols[symbol];
    if (r.end_line_delta != SymbolRecord::kFarEndLine) return r.line + r.end_line_delta;
    auto it = std::lower_bound(far_end_lines.begin(), far_end_lines.end(), std::pair<uint32_t, uint32_t>(symbol, 0));
    return it != far_end_lines.end() && it->first == symbol ? it->second : r.line;
  }

  // Per name id, what letters and digits it holds (bits 0-35: a-z, 0-9) and which letters start a
  // segment (bits 36-61), so the scattered tier (search.cpp) rejects most names by one AND before
  // it reads them. Derived from the names (build_name_sketches()), never stored: 8 bytes a name.
  std::vector<uint64_t> name_sketches;
  void build_name_sketches();
  static uint64_t sketch_bit(char lower) {
    if (lower >= 'a' && lower <= 'z') return uint64_t(1) << (lower - 'a');
    if (lower >= '0' && lower <= '9') return uint64_t(1) << (26 + lower - '0');
    return 0;
  }
  static uint64_t head_bit(char lower) { return lower >= 'a' && lower <= 'z' ? uint64_t(1) << (36 + lower - 'a') : 0; }

  std::string_view name(uint32_t id) const {
    return {names_blob.data() + name_offsets[id], name_offsets[id + 1] - name_offsets[id]};
  }
  std::string_view segment(uint32_t i) const {
    return {segments_blob.data() + segment_offsets[i], segment_offsets[i + 1] - segment_offsets[i]};
  }
  // The posting list of a token; empty when no name has it.
  PostingList token(Token t) const;
};

// What separates the parts of a container chain or a qualified query: "::", ".", "#", "\\", "/".
inline bool is_qualifier_sep(char c) { return c == '.' || c == ':' || c == '#' || c == '\\' || c == '/'; }

// The arrays behind an Index built by IndexBuilder (or loaded from a snapshot).
const IndexData& data_of(const Index& index);
// What search() needs of a live view (query/live_index.h): the arrays of its two layers, the
// base's masked files (a bit per file), and how a layer's symbol id maps to the view's.
class LiveLayers {
 public:
  const IndexData* base = nullptr;
  const IndexData* overlay = nullptr;  // null when the view has no overlay
  std::span<const uint64_t> base_hidden;
  virtual uint32_t view_symbol(bool in_overlay, uint32_t layer_symbol) const = 0;

 protected:
  ~LiveLayers() = default;
};
// The layers of a live view; null for an Index built by IndexBuilder.
const LiveLayers* live_layers(const Index& index);

// An Index over arrays loaded from a snapshot.
std::unique_ptr<Index> make_index(IndexData data);

}  // namespace query::detail
