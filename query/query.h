// The symbol index and its queries: the public face of query/.
//
// An Index is immutable once built: symbol records, strings and postings sit in a few flat arrays,
// so a query takes no lock and allocates only its result. Names are interned, so fuzzy scoring runs
// once per distinct name, not per symbol, and the trigram and segment postings (block-encoded
// lists in one buffer, query/posting_list.h) are over distinct names too. Live updates build small
// indexes and stack them (live_index.h); nothing here is mutated after IndexBuilder::finish().
//
// Cost: a 24-byte record per symbol, plus names, postings and signatures; see
// Index::memory() for the measured split.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "grammars/grammars.h"

namespace query {

using grammars::Language;

// LSP SymbolKind numbers, plus two kinds LSP has no name for (see lsp_kind()).
enum class Kind : uint8_t {
  File = 1, Module, Namespace, Package, Class, Method, Property, Field, Constructor, Enum,
  Interface, Function, Variable, Constant, String, Number, Boolean, Array, Object, Key, Null,
  EnumMember, Struct, Event, Operator, TypeParameter,
  Macro = 100,      // C/C++ #define; LSP shows it as a Constant
  TypeAlias = 101,  // typedef, using, type X = ...; LSP shows it as a Class
};
std::string_view kind_name(Kind kind);                      // "function", "enummember", "macro"
std::optional<Kind> kind_from_name(std::string_view name);  // accepts the names above, any case
uint8_t lsp_kind(Kind kind);

// 0-based line; 0-based byte column within the line.
struct Position {
  uint32_t line = 0;
  uint32_t column = 0;
};
struct Range {
  Position start, end;
};

// What extraction hands the builder for one file. The views only need to live until add() returns.
struct SymbolInput {
  std::string_view name;
  std::string_view container;  // qualified chain, joined by the language's separator; may be empty
  std::string_view signature;  // one line
  Kind kind;
  Range range;      // the whole definition
  Range selection;  // the name
};
struct ImportInput {
  std::string_view specifier;  // as written: "./util", "os.path", "<stdio.h>", "crate::a::b"
  std::string_view kind;       // "import", "include", "require", "use", ...
  uint32_t line;
};
struct FileInput {
  std::string_view path;  // relative to the indexed root, '/'-separated
  Language language = Language::Unknown;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t content_hash = 0;  // XXH3 of the bytes, so a snapshot can tell a touched file from an edited one
  bool parse_errors = false;  // the tree had ERROR or MISSING nodes; symbols are what was recovered
  std::span<const SymbolInput> symbols;
  std::span<const ImportInput> imports;
};

// A symbol as a query returns it: views into the Index, valid while the Index lives.
struct Symbol {
  uint32_t id;
  uint32_t file;  // the file's id in the same Index
  std::string_view name;
  std::string_view container;
  std::string_view signature;
  std::string_view path;
  Kind kind;
  Language language;
  Range range;
  Range selection;
};

struct Import {
  std::string_view specifier;
  std::string_view kind;
  uint32_t line;
};

struct FileInfo {
  uint32_t id;
  std::string_view path;
  Language language;
  uint64_t size;
  int64_t mtime_ns;
  uint64_t content_hash;
  bool parse_errors;
  uint32_t symbol_count;
};

struct MemoryStats {
  size_t records = 0;     // symbol and file records
  size_t names = 0;       // distinct names and their offsets (sorted, so exact lookup is a binary search)
  size_t postings = 0;    // name->symbols, trigram and segment lists, container members, container and path parts
  size_t strings = 0;     // containers, paths, import specifiers
  size_t signatures = 0;  // one-line signatures
  size_t total() const { return records + names + postings + strings + signatures; }
};

class Index {
 public:
  virtual ~Index() = default;
  virtual size_t symbol_count() const = 0;
  virtual size_t file_count() const = 0;
  virtual size_t name_count() const = 0;
  virtual Symbol symbol(uint32_t id) const = 0;
  virtual FileInfo file(uint32_t id) const = 0;
  virtual std::optional<uint32_t> find_file(std::string_view path) const = 0;
  // The file's symbols are the ids [begin, end), in source order (by start position).
  struct IdRange {
    uint32_t begin, end;
  };
  virtual IdRange file_symbols(uint32_t file) const = 0;
  virtual std::vector<Import> file_imports(uint32_t file) const = 0;
  // Symbols whose name is exactly `name` (case-sensitive), in (path, line) order.
  virtual std::vector<uint32_t> find_exact(std::string_view name) const = 0;
  virtual MemoryStats memory() const = 0;
};

class IndexBuilder {
 public:
  IndexBuilder();
  ~IndexBuilder();
  IndexBuilder(const IndexBuilder&) = delete;
  IndexBuilder& operator=(const IndexBuilder&) = delete;

  void add(const FileInput& file);
  // Adds a file of another index as it is there, with a new mtime: how a refresh keeps what did
  // not change without parsing it again.
  void add_from(const Index& other, uint32_t file, int64_t mtime_ns);
  std::unique_ptr<Index> finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---- Search -------------------------------------------------------------------------------------

// Fuzzy: the query's letters land on segment starts or runs the trigram postings admit (`gRS`,
// `rspStatus`). Scattered: they are only a subsequence, some inside words (`Fmt` in Formatter,
// `bgcomp` in BackgroundCompaction); looked for only when the tiers above leave room.
enum class MatchTier : uint8_t { Exact = 0, Prefix = 1, Substring = 2, Fuzzy = 3, Scattered = 4 };
std::string_view tier_name(MatchTier tier);

struct SearchRequest {
  // A name pattern, optionally qualified: "Class.method", "ns::fn", "pkg/file.go:Name" or
  // "path/fragment/Name". Case-insensitive; matching case ranks higher. Words separated by
  // spaces ("response status") must each start a segment of the name, in any order.
  std::string_view pattern;
  size_t limit = 50;
  uint64_t kinds = 0;      // bit (1 << kind_bit(k)) per allowed kind; 0 = all
  uint32_t languages = 0;  // bit (1 << Language) per allowed language; 0 = all
  std::string_view path_glob;  // gitignore-style glob on the relative path ("src/**/*.ts"); empty = all
  // How a qualified query finds candidates: from the names that match, or from the members of the
  // containers (and the symbols of the files) the qualifier names. Results are the same either way;
  // Auto takes the one that visits fewer symbols. The others exist for tests and benchmarks.
  enum class Plan : uint8_t { Auto, ByName, ByQualifier } plan = Plan::Auto;
};
uint64_t kind_bit(Kind kind);

struct Hit {
  uint32_t symbol;
  int32_t score;  // higher is better; comparable only within one search
  MatchTier tier;
};

// Top `limit` symbols, best first; ties break by kind, shorter name, path, line, so results are
// deterministic for a given index. A live view (live_index.h) gives the hits a fresh index of
// the same files would.
std::vector<Hit> search(const Index& index, const SearchRequest& request);

// Git's wildmatch with FNM_PATHNAME: '*' and '?' stay within a path segment, "**/" and "/**" span
// segments, '[...]' and '[!...]' are classes, '\\' escapes. The whole path must match.
bool glob_match(std::string_view glob, std::string_view path);

}  // namespace query
