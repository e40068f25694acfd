// The method registry: every JSON-RPC method the server answers is registered once, beside the
// module adapter that serves it (index_methods.cpp for the index, protocol_methods.cpp for the
// protocol's own), with its params read into a typed struct, its typed result and the writer
// that turns it into JSON, where its calls run, whether it needs the index, and, when agents use
// it, its MCP tool. Everything a client sees of the method table is derived from here:
// initialize's list, the WebSocket and POST /rpc dispatch and where each call runs, MCP's
// tools/list and tools/call, the /metrics labels, `indexer methods` and the README's table (a
// test compares it, and the TypeScript client's table, with this one).
//
// A module plugs in with one file: `server/NAME_methods.cpp` defines, at namespace scope,
//   const server::Registration registered([](server::Registry& r) { r.add(...); });
// server/CMakeLists.txt links every *_methods.cpp's object into each program (a static library
// would drop a file nothing refers to), so nothing central names the module.
//
// Cost: one hash lookup a call; params are read once, into the typed struct, by the method's own
// reader. Registration happens before main; the table is read-only afterwards (no lock).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/service.h"

namespace server {

// Where a method's calls run.
enum class Runs : uint8_t {
  Inline,    // on the transport's reader thread, once the index is there: microseconds, never blocks
  Pool,      // on the shared request pool
  Executor,  // on the module's own executor: long jobs that must never hold the pool
};

// What the server a call runs in can give it: the index, once it is there.
class Host {
 public:
  virtual ~Host() = default;
  virtual Service* index_now() = 0;                             // null until the index is ready
  virtual Service& index_ready(const CancelFlag& cancelled) = 0;  // waits; throws RpcError
};

// One call's view of its server. `index` is set for methods that need the index; others may
// look at index_now() (initialize reports the index's state).
struct Context {
  Host& host;
  Service* index;
  const CancelFlag& cancelled;
  size_t max_tokens = 0;  // an MCP tool's answer: its budget in tokens (0: the default)
  // A notification to the calling connection, sent in order before the call's answer (WebSocket
  // only; empty elsewhere); and the connection's number (0: none), a key for fairness.
  std::function<void(const std::string& method, const json& params)> notify = {};
  uint64_t connection = 0;
  Service& service() const { return *index; }
  bool cancelled_now() const { return cancelled.load(std::memory_order_relaxed); }
};

// A client's params read into typed fields: every refusal is -32602 and names the param.
class Params {
 public:
  explicit Params(const json& params);  // null is an empty object; anything but an object is refused
  std::string text(const char* name) const;  // required
  std::optional<std::string> maybe_text(const char* name) const;
  uint64_t integer(const char* name, uint64_t fallback, uint64_t min, uint64_t max) const;
  std::optional<uint64_t> maybe_integer(const char* name, uint64_t min, uint64_t max) const;
  bool flag(const char* name, bool fallback) const;
  // "a,b" or ["a", "b"]; nullopt when absent.
  std::optional<std::vector<std::string>> names(const char* name) const;
  const json& raw(const char* name) const;  // null when absent

 private:
  const json& params_;
};
[[noreturn]] void bad_param(const std::string& message);

// An MCP tool's input schema: an object of these properties, the `required` ones named, no others.
std::string tool_schema(const json& properties, const std::vector<std::string>& required = {});

// A method offered to agents as an MCP tool: its own name, description and input schema (JSON
// text), and the compact text a model reads for its answer.
struct McpTool {
  std::string name;
  std::string description;
  std::string input_schema;
  std::function<std::string(const json& arguments, Context& context)> run;
};

struct Method {
  std::string name;
  std::string params;   // as the README writes them: "{pattern, kind?, lang?, path?, limit?}"
  std::string summary;  // one line: what it answers
  Runs runs = Runs::Pool;
  const Executor* executor = nullptr;  // Runs::Executor
  bool needs_index = true;             // false: answered while the first index is still built
  bool websocket_only = false;         // served by the WebSocket session itself (subscriptions, login)
  std::function<Result(const json& params, Context& context)> call = {};  // reads, runs, writes
  std::optional<McpTool> tool = {};
};

class Registry {
 public:
  // Throws std::logic_error on a second method of the same name or a second tool of the same
  // name: registration runs before main, so a clash stops the program at once.
  void add(Method method);

  // Binds a typed method: `read` parses the params once, `run` answers with a typed result that
  // LSP, MCP and the CLI use as it is, `write` turns it into the JSON the wire carries.
  template <typename P, typename R>
  const Method& bind(Method method, P (*read)(const Params&), R (*run)(Context&, const P&), std::string (*write)(const R&)) {
    return add_written(std::move(method), [read, run, write](const json& params, Context& context) {
      return write(run(context, read(Params(params))));
    });
  }
  // A method whose answer is JSON text already written.
  const Method& add_written(Method method, std::function<std::string(const json& params, Context& context)> call);

  const Method* find(std::string_view name) const;
  const std::deque<Method>& methods() const { return methods_; }
  std::vector<std::string> names() const;  // in registration order
  const Method* with_tool(std::string_view name) const;  // the method whose MCP tool has this name

  // Runs a method: unknown is -32601; one that needs the index waits for it (cancellable).
  Result call(std::string_view name, const json& params, Host& host, const CancelFlag& cancelled,
              std::function<void(const std::string&, const json&)> notify = {}, uint64_t connection = 0) const;

  // The README's table of methods, one row each: the test keeps README.md equal to it.
  std::string markdown() const;

 private:
  std::deque<Method> methods_;  // a deque: references stay valid while modules register
  std::unordered_map<std::string, size_t> by_name_;
};

// The process's registry, filled by the Registration objects of the *_methods.cpp files.
Registry& registry();

struct Registration {
  explicit Registration(void (*add)(Registry&)) { add(registry()); }
};

// For a caller that holds a ready Service (the CLI's local path, tests): a Host over it.
class ReadyHost : public Host {
 public:
  explicit ReadyHost(Service& service) : service_(service) {}
  Service* index_now() override { return &service_; }
  Service& index_ready(const CancelFlag&) override { return service_; }

 private:
  Service& service_;
};

// A method's answer as JSON, called through the registry: for tests and the CLI's `call`.
json call_json(Service& service, std::string_view method, const json& params);
json to_json(const Result& result);

}  // namespace server
