// The index module's methods as typed calls: params in, typed results out, no JSON. The registry
// (index_methods.cpp) binds each to its name with a params reader and a JSON writer; LSP, MCP and
// the CLI call them directly and format the results themselves, so nothing parses JSON the
// server just wrote. Results hold the index view (or import graph) they point into, so they stay
// valid however the tree changes meanwhile.
//
// Errors are RpcError: -32602 naming the bad param or the unknown file, -32800 when cancelled.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "query/import_graph.h"
#include "query/query.h"
#include "server/registry.h"

namespace server::index {

struct NoParams {};

struct Status {
  std::string root;
  size_t files = 0, symbols = 0, memory_bytes = 0;
  bool unsaved_changes = false;
};
Status status(Context& c, const NoParams&);

struct RefreshParams {
  std::optional<std::vector<std::string>> paths;  // relative to the root; none: a rescan
};
struct Refreshed {
  size_t changes = 0;
  double milliseconds = 0;
};
Refreshed refresh(Context& c, const RefreshParams& p);

struct Saved {
  double milliseconds = 0;
};
Saved snapshot(Context& c, const NoParams&);

struct SearchParams {
  std::string pattern;
  std::string path;  // a glob over paths
  uint64_t kinds = 0;     // query::kind_bit()s; 0: any
  uint32_t languages = 0;  // 1 << Language; 0: any
  size_t limit = 50;
};
struct Hits {
  std::shared_ptr<const query::Index> view;
  std::vector<query::Hit> hits;
};
Hits search(Context& c, const SearchParams& p);

// A file's symbols as a tree: each is the child of the nearest earlier one that encloses it.
struct OutlineNode {
  query::Symbol symbol;
  std::vector<OutlineNode> children;
};
std::vector<OutlineNode> outline_of(const query::Index& index, uint32_t file);
// The outline as text for people and models alike: "  method name  :12", indented by depth.
// `line` returns false to stop.
void outline_lines(const std::vector<OutlineNode>& nodes, const std::function<bool(const std::string&)>& line, int depth = 0);
struct OutlineParams {
  std::string path;
};
struct Outline {
  std::shared_ptr<const query::Index> view;
  std::vector<OutlineNode> nodes;
};
Outline outline(Context& c, const OutlineParams& p);

// By name, or the identifier at a 1-based line and byte column of a file.
struct DefinitionParams {
  std::string name;
  std::string path;
  uint32_t line = 0, column = 0;
};
struct Symbols {
  std::shared_ptr<const query::Index> view;
  std::vector<uint32_t> ids;  // the file's own first, then the files it imports, then the rest
};
Symbols definition(Context& c, const DefinitionParams& p);

using NodeId = query::ImportGraph::NodeId;
struct NodeParams {
  std::string path;  // a file of the tree, or an external module ("react", "external:net/http")
};
struct DepthParams {
  std::string path;
  uint32_t depth = query::ImportGraph::kUnlimited;
};
struct PathParams {
  std::string from, to;
};
struct Edges {
  std::shared_ptr<const query::ImportGraph> graph;
  NodeId node = 0;
  bool outgoing = true;  // imports (else importers)
  std::vector<query::ImportGraph::Edge> edges;
};
Edges imports(Context& c, const NodeParams& p);
Edges importers(Context& c, const NodeParams& p);
struct Reach {
  std::shared_ptr<const query::ImportGraph> graph;
  NodeId node = 0;
  bool forward = true;  // dependencies (else dependents)
  std::vector<query::ImportGraph::Reached> nodes;
};
Reach deps(Context& c, const DepthParams& p);
Reach dependents(Context& c, const DepthParams& p);
struct Chain {
  std::shared_ptr<const query::ImportGraph> graph;
  NodeId from = 0, to = 0;
  std::optional<std::vector<NodeId>> nodes;  // nullopt: no import path
};
Chain path(Context& c, const PathParams& p);
struct Cycles {
  std::shared_ptr<const query::ImportGraph> graph;
  std::vector<std::vector<NodeId>> cycles;    // each sorted
  std::vector<std::vector<NodeId>> examples;  // per cycle, the shortest loop through its first file
};
Cycles cycles(Context& c, const NoParams&);

// "external:react" for externals, the path for files.
std::string node_label(const query::ImportGraph& g, NodeId n);
// kind and lang filters from names ("function,class"); throws RpcError -32602 naming the unknown one.
uint64_t kinds_from(const std::vector<std::string>& names);
uint32_t languages_from(const std::vector<std::string>& names);

// The JSON writers, shared with the CLI's --json and `indexer export`.
std::string write_status(const Status& s);
std::string write_refreshed(const Refreshed& r);
std::string write_saved(const Saved& r);
std::string write_edges(const Edges& r);
std::string write_reach(const Reach& r);
std::string write_chain(const Chain& r);
std::string write_cycles(const Cycles& r);
std::string write_symbols(const Symbols& r);
std::string write_hits(const Hits& r);
std::string write_outline(const Outline& r);
std::string write_symbol(const query::Symbol& s);  // one object

}  // namespace server::index
