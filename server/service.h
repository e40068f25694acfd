// The index a server serves: a live tree, and its import graph (resolved on first use, then kept
// up to date by the tree as each change lands). The methods over it are in index_methods.h; what every
// surface shares of JSON-RPC (error codes, RpcError, results already written as JSON) is here.
//
// Thread-safety: any number of threads at once; each call reads one consistent view of the index.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <atomic>
#include <functional>
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

// Runs a job on a module's own threads (registry.h: Runs::Executor).
using Executor = std::function<void(std::function<void()> job)>;

class Service {
 public:
  explicit Service(indexer::LiveTree& tree);
  ~Service();

  indexer::LiveTree& tree() { return tree_; }
  // The import graph, as the tree last published it (see LiveTree::graph() for which view).
  std::shared_ptr<const query::ImportGraph> graph();
  // What the last graph's resolution could not read ("web/tsconfig.json: line 3: expected ':'").
  std::vector<std::string> graph_warnings();

 private:
  indexer::LiveTree& tree_;
};

// A member of a client's object, or null when it is missing or the value is no object: clients'
// fields are read through this, so a missing or mistyped one cannot crash the server.
const json& member(const json& object, const char* key);

// The length of the well-formed UTF-8 sequence at s[i] (1 for ASCII), 0 when it is malformed
// (overlong, a surrogate, past U+10FFFF, cut short).
size_t utf8_sequence(std::string_view s, size_t i);
// Appends `s` as a JSON string; invalid UTF-8 becomes U+FFFD, as nlohmann's replace handler does.
void append_json_string(std::string& out, std::string_view s);

// The shortest loop through a cycle's first file: the loop people read first.
std::vector<query::ImportGraph::NodeId> example_loop(const query::ImportGraph& g, const std::vector<query::ImportGraph::NodeId>& cycle);

}  // namespace server
