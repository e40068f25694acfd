// The one method table every transport serves (WebSocket JSON-RPC, LSP, MCP, the CLI's client):
// named methods taking and returning JSON, over a live tree. Transports own framing, ids,
// batching and cancellation; the modules (indexer/, query/) know nothing of any of it.
//
// Methods and their params (README.md, "Service", lists the results):
//   initialize            {}                                   server, version, methods, index status
//   index/status          {}
//   index/refresh         {paths?: [rel...]}                   a rescan, or just those paths
//   index/snapshot        {}                                   save the snapshot now
//   symbols/search        {pattern, kind?, lang?, path?, limit?}
//   symbols/outline       {path}                               the file's symbols as a tree
//   symbols/definition    {name} | {path, line, column}        1-based line and column (UTF-8 bytes)
//   graph/imports         {path}          graph/importers {path}
//   graph/deps            {path, depth?}  graph/dependents {path, depth?}
//   graph/path            {from, to}      graph/cycles {}
// A bad param is an RpcError with code -32602 and a message naming it; an unknown method -32601.
// Results are bounded by `limit` (search: default 50, at most 10,000).
//
// Thread-safety: call() from any number of threads at once; each call reads one consistent view
// of the index. The import graph is rebuilt at most once per index generation, on first use.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "indexer/live_tree.h"
#include "query/import_graph.h"

namespace server {

using json = nlohmann::json;

inline constexpr const char* kVersion = "0.1.0";  // what every surface reports

// JSON-RPC error codes, as the spec and LSP number them.
enum ErrorCode : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  kServerNotReady = -32002,
  kRequestCancelled = -32800,
};

struct RpcError {
  int code;
  std::string message;
};

// A result already serialized: the hot methods write their JSON directly, since building it as
// nlohmann objects costs more than the search itself.
struct RawJson {
  std::string text;
};
using Result = std::variant<json, RawJson>;

// Set by the transport when the client cancels; long methods look at it between steps.
using CancelFlag = std::atomic<bool>;

class Service {
 public:
  explicit Service(indexer::LiveTree& tree);
  ~Service();

  // Throws RpcError.
  json call(std::string_view method, const json& params, const CancelFlag* cancelled = nullptr);
  // The same answers; symbols/search comes back serialized (RawJson), byte for byte what
  // call()'s result would dump to.
  Result call_fast(std::string_view method, const json& params, const CancelFlag* cancelled = nullptr);
  static const std::vector<std::string>& methods();
  json status() const;
  indexer::LiveTree& tree() { return tree_; }

 private:
  struct Graph;
  std::shared_ptr<const Graph> graph();
  json definition(const json& params);
  std::pair<std::shared_ptr<const query::Index>, std::vector<query::Hit>> search(const json& params);
  json graph_call(std::string_view method, const json& params);

  indexer::LiveTree& tree_;
  struct State;
  std::unique_ptr<State> state_;
};

// A member of a client's object, or null when it is missing or the value is no object: clients'
// fields are read through this, so a missing or mistyped one cannot crash the server.
const json& member(const json& object, const char* key);

// The length of the well-formed UTF-8 sequence at s[i] (1 for ASCII), 0 when it is malformed
// (overlong, a surrogate, past U+10FFFF, cut short).
size_t utf8_sequence(std::string_view s, size_t i);
// Appends `s` as a JSON string; invalid UTF-8 becomes U+FFFD, as nlohmann's replace handler does.
void append_json_string(std::string& out, std::string_view s);

// Shared with the CLI, so every surface prints a symbol the same way.
json symbol_json(const query::Symbol& s);
// A file's symbols as a tree: each is the child of the nearest earlier one that encloses it.
struct OutlineNode {
  query::Symbol symbol;
  std::vector<OutlineNode> children;
};
std::vector<OutlineNode> outline(const query::Index& index, uint32_t file);
json outline_json(const query::Index& index, uint32_t file);
// kind and lang filters from names ("function,class" or ["function", "class"]); throws RpcError.
uint64_t kinds_from(const json& names);
uint32_t languages_from(const json& names);
// The shortest loop through a cycle's first file: the loop people read first.
std::vector<query::ImportGraph::NodeId> example_loop(const query::ImportGraph& g, const std::vector<query::ImportGraph::NodeId>& cycle);

}  // namespace server
