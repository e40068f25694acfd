// The import graph of a live tree, kept equal to a fresh full resolve (a new ImportResolver over
// the same index view, then build_import_graph) as the index changes, at the cost of the change.
//
// Each file's resolved targets are kept with the keys its resolution looked up (which paths
// exist, which files a directory or a base name has, C#/PHP declarations, the go.mod modules in
// effect: ImportResolver::resolve's probes). An update re-resolves the files added or edited, and
// every file that looked up a key the change touches (ImportResolver::update): a file that
// appears can be what a failed or elsewhere-resolved specifier now finds; one that vanishes
// leaves its importers to resolve to another file or an external. A configuration file
// (tsconfig.json, go.mod, Cargo.toml, ...) that changes is not followed key by key: the whole
// tree is resolved again with a new resolver, as on first use.
//
// Cost: an edit that leaves the file's imports as they were costs its re-resolution only, and
// the graph object is kept; one that changes them re-resolves it and patches the graph
// (ImportGraph::replace_files: O(nodes + edges) copies, no sort, no name copied). A file added or
// removed re-resolves the files that probed what it touches, and patches the graph too (the
// names are copied once). A configuration change costs a full resolve. Memory: the targets and
// the probe keys of every file, beside the graph.
//
// Threads: not safe; LiveTree calls it under its writer turn and publishes graph() for queries.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "indexer/resolve_imports.h"
#include "query/import_graph.h"
#include "query/query.h"

namespace indexer {

class LiveImportGraph {
 public:
  // Resolves every file of `index` (a full resolve).
  LiveImportGraph(std::filesystem::path root, std::shared_ptr<const query::Index> index);
  ~LiveImportGraph();
  LiveImportGraph(const LiveImportGraph&) = delete;
  LiveImportGraph& operator=(const LiveImportGraph&) = delete;

  // After the index changed to `index`: paths added, removed, and changed in contents.
  // `reconfigure`: a configuration file may have changed, so everything is resolved again.
  void update(std::shared_ptr<const query::Index> index, std::span<const std::string> added,
              std::span<const std::string> removed, std::span<const std::string> changed, bool reconfigure);

  // The graph of index(); the same object across updates that changed no import's targets.
  const std::shared_ptr<const query::ImportGraph>& graph() const { return graph_; }
  const std::shared_ptr<const query::Index>& index() const { return index_; }
  const ImportResolver& resolver() const { return *resolver_; }

  // Files resolved by the last update (all of them after a full resolve): for tests and benches.
  size_t last_resolved() const { return last_resolved_; }

 private:
  struct Entry {
    query::FileImports imports;
    std::vector<std::string> probes;
  };
  void resolve_all();
  void resolve(const std::string& path, uint32_t file);
  void forget(const std::string& path);
  void build();

  std::filesystem::path root_;
  std::shared_ptr<const query::Index> index_;
  std::unique_ptr<ImportResolver> resolver_;
  std::unordered_map<std::string, Entry> files_;  // by path: every file of index_
  std::unordered_map<std::string, std::unordered_set<const std::string*>> probers_;  // key -> paths (files_'s keys)
  std::shared_ptr<const query::ImportGraph> graph_;
  size_t last_resolved_ = 0;
};

}  // namespace indexer
