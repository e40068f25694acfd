// A tree kept live: its query::LiveIndex and what was last read of each file on disk, brought up
// to date path by path as the watcher (watcher.h) reports changes, and by editors' unsaved buffers.
//
// refresh() takes paths that changed (files or directories: created, modified, deleted, moved)
// and makes the index match the disk under them: a directory is walked, a path that is gone
// takes everything below it along, and a file is read and judged as index_tree() judges it, so a
// file that turned binary, unreadable or ignored leaves the index with a counted reason, and one
// whose bytes did not change (a touch, a chmod) is not parsed again. The files of one refresh are
// parsed on the tree's ParsePool (parse_pool.h), the threads its first index ran on, so
// Options::threads bounds both; they land in one LiveIndex update, so a `git checkout` of ten
// thousand files is one step, not ten thousand. A changed .gitignore changes the rules: refresh() then rescans
// the tree (a walk and a stat of every file; only files whose size or mtime differ are read).
//
// An unsaved buffer replaces its file's contents until it is closed; disk events for that path
// wait until then. A buffer is judged as a file would be (too large, binary, too dense...): one
// that is not indexed has no symbols while it is open, and the report says Skipped, and why. A snapshot stores a buffer's symbols with mtime 0, so the next start reads the
// file from disk again (and keeps the symbols if the bytes turn out to be the same).
//
// The import graph (graph()) is resolved in full on first use and from then on follows every
// change as it lands (indexer/live_import_graph.h): the files changed, and the importers whose
// resolution the change can alter, are resolved again. A change to a configuration file the
// resolver reads (tsconfig.json, jsconfig.json, go.mod, Cargo.toml, composer.json,
// compile_commands.json, by name; a directory that appears, or a path that vanishes holding one;
// a rescan) resolves the whole tree again, in the same step.
//
// Threads: any. refresh(), rescan() and the buffer calls take turns (the watcher's loop and an
// editor's buffers may call at once); index() and graph() never wait (but graph()'s first call,
// which resolves the tree); save() and compaction run beside them.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "indexer/indexer.h"
#include "query/import_graph.h"
#include "query/live_index.h"

namespace indexer {

class LiveTree {
 public:
  // Loads (or builds) the index as open_tree() does, on the parse pool the tree keeps for its
  // updates (options.pool, or one of options.threads it starts). An error when the root cannot be
  // indexed at all.
  static Result<std::unique_ptr<LiveTree>> open(const std::filesystem::path& root, const Options& options,
                                                const std::filesystem::path& snapshot,
                                                const std::function<void(const Progress&)>& progress,
                                                std::string& warning);
  // A tree indexed already (index_tree()'s or open_tree()'s result), kept live from here.
  static std::unique_ptr<LiveTree> adopt(const std::filesystem::path& root, const Options& options,
                                         const std::filesystem::path& snapshot, IndexResult indexed);
  ~LiveTree();

  // The current index; a consistent view for as long as the caller holds it.
  std::shared_ptr<const query::Index> index() const { return live_.view(); }
  const Summary& opened() const { return opened_; }  // what open() indexed or reused

  // The import graph and the index view it was resolved from, published together with one
  // atomic store after each change: a query holding one never sees a graph of another
  // generation than its `index`. That view has the files of index() but may be an older object
  // (index() moves first, within the same refresh, and on compaction, which changes no file);
  // read files through this `index` where it must match the graph. The first call resolves the
  // whole tree, under the writers' turn.
  struct Graph {
    std::shared_ptr<const query::Index> index;
    std::shared_ptr<const query::ImportGraph> imports;
    std::vector<std::string> warnings;  // configuration files the resolver could not read
  };
  std::shared_ptr<const Graph> graph();
  const std::filesystem::path& root() const { return root_; }

  struct Change {
    enum class What : uint8_t { Indexed, Removed, Skipped };
    std::string path;
    What what;
    SkipReason reason{};  // Skipped: why
    size_t symbols = 0;   // Indexed: how many it has now
  };
  struct Report {
    std::vector<Change> changes;  // sorted by path
    bool rescanned = false;       // the whole tree was compared (a .gitignore changed, or asked for)
    double milliseconds = 0;      // from the call to the new index being visible
    std::vector<int> parse_tids;  // the threads (kernel ids) that read and parsed its files
    double graph_milliseconds = 0;  // of which, bringing the import graph along (once it was asked for)
  };

  // `paths` are relative to the root; "" is the root itself.
  Report refresh(const std::vector<std::string>& paths);
  Report rescan();
  Report set_buffer(const std::string& path, std::string text);
  Report close_buffer(const std::string& path);

  // The text a file has for the index: its open buffer, else what is on disk ("" when unreadable).
  std::string text_of(const std::string& path) const;

  // Whether the ignore rules leave this directory (relative to the root) out: for the watcher.
  bool ignored_dir(const std::string& rel);

  // Folds the index's overlay into its base when it has grown (LiveIndex::wants_compaction()).
  void compact_if_needed();
  // Writes the snapshot of the current index and file states.
  Status save();
  // Whether anything changed since open() or the last save().
  bool dirty() const;

 private:
  struct State;
  LiveTree(std::filesystem::path root, const Options& options, std::filesystem::path snapshot, IndexResult opened);
  Report apply(std::vector<std::string> to_read, std::vector<std::string> gone, std::chrono::steady_clock::time_point started);
  // After live_ moved on from `before`: brings the import graph along, if it was ever asked for.
  void follow_graph(const query::Index& before, std::span<const query::FileInput> changed, std::span<const std::string> gone);

  std::filesystem::path root_;
  std::filesystem::path snapshot_;
  Options options_;
  Summary opened_;
  query::LiveIndex live_;
  std::unique_ptr<State> state_;
  std::atomic<std::shared_ptr<const Graph>> graph_;
};

}  // namespace indexer
