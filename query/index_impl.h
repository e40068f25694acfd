// The flat arrays behind query::Index. Private to query/: search.cpp reads them directly.
//
// Layout: symbols are grouped by file and files are sorted by path, so a file's symbols are one
// contiguous run and symbol ids are deterministic for a given set of files. Strings live in two
// blobs as varint-length-prefixed runs addressed by a 32-bit offset (offset 0 is the empty string);
// identical strings are stored once. Names have a blob of their own, addressed by name id.
#pragma once

#include <roaring/roaring.hh>

#include <algorithm>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "query/query.h"
#include "query/trigram.h"

// Debian 12's CRoaring (0.2.66) declares ::Roaring; newer releases declare Bitmap.
namespace roaring {}
namespace query::detail {
using namespace ::roaring;
using Bitmap = Roaring;

struct SymbolRecord {
  uint32_t name;        // name id
  uint32_t container;   // container id: an index into IndexData::containers, 0 = none
  uint32_t signature;   // signature-blob offset
  uint32_t file;
  uint32_t line;        // range start
  uint32_t end_line;
  uint16_t column;      // byte columns, clamped to 65535
  uint16_t end_column;
  uint16_t sel_column;  // the selection (the name) ends sel_column + the name's length later:
                        // names never span lines
  uint8_t sel_line_delta;  // selection line - line (decorators, attributes), clamped
  Kind kind;
};
static_assert(sizeof(SymbolRecord) == 32, "keep the hot record small");

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

// A posting list: either a short sorted array or a CRoaring bitmap.
struct PostingRef {
  std::span<const uint32_t> ids;  // when bitmap is null
  const Bitmap* bitmap = nullptr;
  uint64_t size() const { return bitmap ? bitmap->cardinality() : ids.size(); }
  bool contains(uint32_t id) const {
    return bitmap ? bitmap->contains(id) : std::binary_search(ids.begin(), ids.end(), id);
  }
};

// Many posting lists, most of them tiny: a CRoaring bitmap costs ~150 bytes before its first id,
// so lists of up to kMaxArray ids are plain sorted arrays in one shared vector (4 bytes an id)
// and only longer lists, where compression and fast AND pay, are bitmaps.
class Postings {
 public:
  static constexpr size_t kMaxArray = 64;
  void add(const std::vector<uint32_t>& sorted_ids);
  PostingRef get(size_t i) const {
    if (big_[i] != UINT32_MAX) return {{}, &bitmaps_[big_[i]]};
    return {{ids_.data() + offsets_[i], ids_.data() + offsets_[i + 1]}, nullptr};
  }
  size_t size() const { return big_.size(); }
  size_t bytes() const;
  void shrink();

 private:
  friend struct SnapshotCodec;
  std::vector<uint32_t> offsets_{0};  // array ids of list i: ids_[offsets_[i] .. offsets_[i+1])
  std::vector<uint32_t> ids_;
  std::vector<uint32_t> big_;         // index into bitmaps_, or UINT32_MAX
  std::vector<Bitmap> bitmaps_;
};

// Length-prefixed strings; offset 0 holds the empty string.
class StringBlob {
 public:
  StringBlob() { bytes_.push_back(0); }
  uint32_t append(std::string_view s);
  std::string_view get(uint32_t offset) const;
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
  std::vector<FileRecord> files;
  std::vector<uint32_t> files_by_path;  // file ids sorted by path (files are already, kept explicit)
  std::vector<ImportRecord> imports;
  StringBlob strings;
  StringBlob signatures;
  // Distinct container chains by id (entry 0 is the empty one): string offsets. Dense ids let a
  // query remember per container whether it matched, in a flat array.
  std::vector<uint32_t> containers{0};
  // Symbols by container id (CSR, ascending symbol ids); container 0 (none) has no list.
  std::vector<uint32_t> container_member_offsets;
  std::vector<uint32_t> container_members;
  // Container ids by lower-cased chain component ("http", "server" for "http::Server").
  KeyedLists container_parts;
  // File ranges by lower-cased path component: values are (first file, end file) pairs; files
  // are sorted by path, so every file under one directory is one range.
  KeyedLists path_parts;

  // Names: ids 0..n-1 in case-insensitive order (then byte order), text in names_blob at
  // name_offsets[id] .. name_offsets[id+1].
  std::vector<char> names_blob;
  std::vector<uint32_t> name_offsets;
  std::vector<uint32_t> name_hash;           // open addressing, name id + 1, 0 = empty
  std::vector<uint32_t> name_symbol_offsets; // CSR: symbols of name id in name_symbols[off[id]..off[id+1]]
  std::vector<uint32_t> name_symbols;

  // Name ids per trigram token and per lower-cased segment, as posting lists (see Postings).
  std::vector<Token> token_keys;          // sorted
  Postings token_postings;                // entry i belongs to token_keys[i]
  std::vector<uint32_t> segment_offsets;  // into segments_blob, sorted by segment text; n+1 entries
  std::vector<char> segments_blob;
  Postings segment_postings;              // entry i belongs to segment(i)

  std::string_view name(uint32_t id) const {
    return {names_blob.data() + name_offsets[id], name_offsets[id + 1] - name_offsets[id]};
  }
  std::string_view segment(uint32_t i) const {
    return {segments_blob.data() + segment_offsets[i], segment_offsets[i + 1] - segment_offsets[i]};
  }
  // The posting list of a token; empty when no name has it.
  PostingRef token(Token t) const;
};

uint64_t hash_bytes(std::string_view s);

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
