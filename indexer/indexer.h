// Indexing a tree: walk it (honouring .gitignore), read and parse each file once on every core (or
// on Options::threads of them), run our tags query, and hand the definitions and imports to a
// query::IndexBuilder.
//
// A worker holds only the file it is parsing; what survives a file is its extracted symbols. Bad
// input (binary, oversized, minified, unreadable, vanished, special files, symlinks) is skipped
// with a counted reason; a file that fails to parse still yields what tree-sitter recovered.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/query.h"
#include "query/result.h"

namespace indexer {

using query::Error;
using query::Result;
using query::Status;

class ParsePool;

struct Options {
  uint64_t max_file_size = 4 << 20;  // larger files are skipped as TooLarge
  // tree-sitter's heap for one parse; a file whose tree grows past it is skipped as TooDense.
  // Ordinary code costs 10-40 bytes of tree per byte of source; a file of nothing but `x = 1`
  // lines about 250 (README.md, "Memory per indexed byte"). Each parsing thread can hold this much.
  uint64_t max_tree_bytes = 256 << 20;
  unsigned threads = 0;              // 0: one per core
  bool index_minified = false;       // minified bundles are skipped by default
  std::vector<std::string> excludes; // extra .gitignore-style patterns, relative to the root
  bool parse_only = false;           // benchmarks: parse every file, extract and keep nothing
  // The threads that parse (parse_pool.h). Null: index_tree starts `threads` of its own for the
  // run, and LiveTree::open starts `threads` for the tree's life, shared by its updates. When set,
  // its size, not `threads`, bounds the parsing.
  std::shared_ptr<ParsePool> pool;
};

enum class SkipReason : uint8_t {
  Unsupported,  // no grammar for the file's name or #! line
  Binary,       // a NUL byte in the first 8 KiB, as git decides
  TooLarge,
  Minified,
  Unreadable,   // permission denied, I/O error, unreadable directory
  Vanished,     // deleted between listing and reading
  Symlink,      // links are not followed
  Special,      // FIFO, socket, device
  TooDense,     // its parse tree grew past Options::max_tree_bytes
  Count,
};
std::string_view skip_reason_name(SkipReason reason);

// A file a run read but did not index. Kept (in the snapshot) so the next run does not read it
// again while its size and mtime stay the same.
struct SkippedFile {
  std::string path;
  uint64_t size;
  int64_t mtime_ns;
  SkipReason reason;
};

struct Progress {
  size_t files_done = 0, files_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;
};

struct Summary {
  size_t files_indexed = 0;
  uint64_t bytes_indexed = 0;
  size_t symbols = 0;
  size_t imports = 0;
  size_t parse_error_files = 0;  // indexed from a tree with errors
  size_t generated_files = 0;    // indexed, but marked as generated in their header
  std::array<size_t, size_t(SkipReason::Count)> skipped{};
  size_t dropped_match_files = 0;  // files where tree-sitter's match limit dropped matches
  size_t files_reused = 0;   // taken unchanged from the previous index, not parsed again
  std::string query_error;  // a language's tags query did not compile: its files have no symbols
  double seconds = 0;        // the whole run
  double build_seconds = 0;  // of which building the index after the last file
  size_t skipped_total() const {
    size_t n = 0;
    for (size_t s : skipped) n += s;
    return n;
  }
};

struct IndexResult {
  std::unique_ptr<query::Index> index;  // null when error is set
  std::vector<SkippedFile> skipped_files;  // read but not indexed (not: ignored, symlinks, special)
  int64_t started_ns = 0;  // wall clock when the walk began; files changed since are "racy"
  bool unchanged = false;  // with `previous`: the tree is as it was; index is null, use previous's
  Summary summary;
  std::string error;  // why the root could not be indexed at all
};

// What an earlier run of the same tree left, for a refresh.
struct Previous {
  const query::Index* index = nullptr;
  const std::vector<SkippedFile>* skipped = nullptr;
  int64_t started_ns = 0;
};

// Indexes the tree at `root`. `progress` (optional) is called on the calling thread about ten
// times a second while workers run, and once at the end. With `previous`, a file whose size and
// mtime are what the previous run saw, or whose content hash is, is taken from the previous index
// without parsing; a file changed within a second before that run began is always hashed, since
// a second write in the same mtime tick would look unchanged (git's "racy" files).
IndexResult index_tree(const std::filesystem::path& root, const Options& options,
                       const std::function<void(const Progress&)>& progress = {},
                       const Previous* previous = nullptr);

// ---- Snapshots of a tree (query/snapshot.h holds the format) ----------------------------------

// <root>/.indexer/snapshot; the walker never enters a directory named .indexer.
std::filesystem::path default_snapshot_path(const std::filesystem::path& root);

// Loads the snapshot when this build wrote it with the same options, refreshes what changed on
// disk since (index_tree with `previous`), and saves it back when anything did. A snapshot that
// cannot be used (missing, corrupt, truncated, foreign, another format version, other options)
// means a full index, with a one-line `warning` unless it was simply missing. A snapshot that
// cannot be written is a warning too: answers do not depend on it.
IndexResult open_tree(const std::filesystem::path& root, const Options& options, const std::filesystem::path& snapshot,
                      const std::function<void(const Progress&)>& progress, std::string& warning);

// Writes the result's index and file states.
Status save_tree(const IndexResult& result, const Options& options, const std::filesystem::path& snapshot);
// The same for an index and file states kept elsewhere (a live tree's). Files modified within a
// second before `started_ns` are hashed when the snapshot is next opened.
Status save_tree(const query::Index& index, const std::vector<SkippedFile>& skipped, int64_t started_ns,
                      const Options& options, const std::filesystem::path& snapshot);

// One file's definitions and imports, owning their text. Moving it re-points the views (a short
// `text` lives inside the string object, so its address changes with it).
struct Extraction {
  std::vector<query::SymbolInput> symbols;  // views into `text`
  std::vector<query::ImportInput> imports;  // views into `text`
  bool parse_errors = false;
  bool dropped_matches = false;  // tree-sitter's match limit was hit: some definitions may be missing
  bool too_dense = false;        // the parse stopped at Options::max_tree_bytes: nothing extracted
  uint64_t tree_bytes = 0;       // the most tree-sitter's heap grew while parsing (to within ~100 steps)
  std::string text;
  std::string error;  // set when the language's query does not compile (our bug, not the file's)

  Extraction() = default;
  Extraction(Extraction&& other) noexcept { *this = std::move(other); }
  Extraction& operator=(Extraction&& other) noexcept;
  Extraction(const Extraction&) = delete;
  Extraction& operator=(const Extraction&) = delete;
};

// Extracts from source held in memory: what index_tree does per file, and what an editor's unsaved
// buffer goes through. Unknown languages yield nothing.
Extraction extract(query::Language language, std::string_view source);

}  // namespace indexer
