// The import graph: which file imports which, as an immutable graph with its queries.
//
// Nodes are the files of the tree (by relative path) and external modules (by name: "react",
// "std", "net/http"); an edge says a file imports a node, at the line of its first such import.
// Files come first and sorted by path, then externals sorted by name, so node ids, and every
// result below, are deterministic: neighbours are visited in id order. Externals have no edges
// out, so cycles and paths only ever run through files.
//
// Invariant: at most one edge per (from, to) pair; edges out and in are CSR arrays sorted by node.
// Cost: two arrays of 12-byte edges and one string per node; build() sorts the edges once
// (O(E log E)). replace_files() swaps, adds or removes a few files without a sort: the node ids
// move monotonically, so the old edges keep their order (O(N + E) copies, no name copied when no
// node comes or goes): what a live tree does per change (indexer/live_import_graph.h). No filesystem access here: resolving specifiers is
// indexer/resolve_imports.h's job.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace query {

// What one import of a file resolved to.
struct ImportTarget {
  std::string name;       // a file's relative path, or an external module's name
  bool external = false;
  uint32_t line = 0;      // 0-based line of the import
};

// One file and the targets of its imports, in any order; duplicates are merged.
struct FileImports {
  std::string path;
  std::vector<ImportTarget> targets;
};

class ImportGraph {
 public:
  using NodeId = uint32_t;
  static constexpr uint32_t kUnlimited = UINT32_MAX;

  struct Edge {
    NodeId from, to;
    uint32_t line;  // 0-based line of the first import of `to` in `from`
  };
  struct Reached {
    NodeId node;
    uint32_t depth;  // 1 for a direct import
  };

  // Every file given is a node, even one with no imports; a non-external target that is not
  // among them becomes a file node too.
  static ImportGraph build(std::span<const FileImports> files);

  // What build() returns for old's files with the files given replaced (or added, when no file
  // of `old` has the path) and the files `removed` taken out; in O(N + E) and without a sort.
  // Every file node of `old` must be a file build() was given (true of a resolver's graph: it
  // names only indexed files), so that the files not given keep their edges. Nullopt, for build()
  // to do it, when a file not given imports one removed, or a given file imports a path that is
  // no file of the result. The names are shared with `old` when no node comes or goes.
  static std::optional<ImportGraph> replace_files(const ImportGraph& old, std::span<const FileImports> files,
                                                  std::span<const std::string> removed = {});

  size_t node_count() const { return names_->size(); }
  size_t file_count() const { return file_count_; }
  size_t edge_count() const { return out_.size(); }
  bool is_external(NodeId n) const { return n >= file_count_; }
  std::string_view name(NodeId n) const { return (*names_)[n]; }
  std::optional<NodeId> find_file(std::string_view path) const;
  std::optional<NodeId> find_external(std::string_view name) const;

  // Direct edges, sorted by the other end's id.
  std::span<const Edge> imports(NodeId file) const;
  std::span<const Edge> importers(NodeId node) const;

  // Breadth-first, nearest first, then by id; the start node is not included. max_depth 1 is
  // the direct neighbours. Dependents answer "what is affected if I change this file".
  std::vector<Reached> dependencies(NodeId node, uint32_t max_depth = kUnlimited) const;
  std::vector<Reached> dependents(NodeId node, uint32_t max_depth = kUnlimited) const;

  // Strongly connected components of more than one file, and files that import themselves.
  // Each is sorted by id and the list by its first id. Tarjan's algorithm with an explicit
  // stack: no recursion, so a 100k-file chain is fine.
  std::vector<std::vector<NodeId>> cycles() const;

  // A shortest chain of imports from `from` to `to`, both included; nullopt when `to` cannot
  // be reached; {from} when they are the same node.
  std::optional<std::vector<NodeId>> shortest_path(NodeId from, NodeId to) const;

 private:
  std::vector<Reached> reach(NodeId start, uint32_t max_depth, bool forward) const;

  // Files sorted by path, then externals sorted by name; shared by the graphs replace_files() makes.
  std::shared_ptr<const std::vector<std::string>> names_ = std::make_shared<const std::vector<std::string>>();
  size_t file_count_ = 0;
  std::vector<uint32_t> out_offsets_, in_offsets_;  // CSR: node n's edges at [off[n], off[n+1])
  std::vector<Edge> out_, in_;                      // out_ by (from, to); in_ by (to, from)
};

}  // namespace query
