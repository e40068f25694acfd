// indexer mcp: the Model Context Protocol over stdio (one JSON-RPC message per line). Its tools
// are the registered methods that carry an MCP tool (registry.h); each answers with compact text,
// bounded by a result limit and a character cap (tool_text.h), saying when it was cut.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <iostream>

#include "server/framing.h"
#include "server/jsonrpc.h"
#include "server/registry.h"
#include "server/stdio.h"
#include "server/stdio_io.h"
#include "server/tool_text.h"

namespace server {
namespace {

constexpr const char* kLatestProtocol = "2025-06-18";

// tools/list: the registered methods that agents use, in registration order, each also taking
// `max_tokens`, the budget of its answer (tool_text.h), which mcp.cpp takes off before the tool runs.
const json& tools() {
  static const json list = [] {
    json out = json::array();
    for (const auto& m : registry().methods())
      if (m.tool) {
        json schema = json::parse(m.tool->input_schema);
        schema["properties"]["max_tokens"] = {{"type", "integer"}, {"minimum", kMinToolTokens}, {"maximum", kMaxToolTokens},
                                              {"description", "the answer's budget in tokens (default " + std::to_string(kToolTokens) + ")"}};
        out.push_back({{"name", m.tool->name}, {"description", m.tool->description}, {"inputSchema", std::move(schema)}});
      }
    return out;
  }();
  return list;
}

class McpServer {
 public:
  explicit McpServer(const StdioOptions& options) : options_(options) {}

  int run() {
    RpcConnection rpc([this](const std::string& m, const json& p, const CancelFlag& c) { return handle(m, p, c); },
                      [](const std::string& message) { detail::write_all(message + "\n"); });
    workspace_.open(std::filesystem::absolute(options_.root.value_or(".")).lexically_normal(), options_, {});
    detail::LineFramer framer(options_.max_message);
    detail::FrameSink sink{[&](std::string_view line) { rpc.receive(line); },
                           [&](const std::string& why) { rpc.send_raw(error_response(kInvalidRequest, why)); },
                           [](const std::string&) {}};
    for (std::string chunk; input_.read(chunk); chunk.clear()) framer.feed(chunk, sink);
    rpc.close();
    workspace_.stop();
    return 0;
  }

 private:
  json handle(const std::string& method, const json& params, const CancelFlag& cancelled) {
    if (method == "initialize") {
      std::string asked = member(params, "protocolVersion").is_string() ? member(params, "protocolVersion").get<std::string>() : "";
      static const std::vector<std::string> known = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"};
      std::string version = std::find(known.begin(), known.end(), asked) != known.end() ? asked : kLatestProtocol;
      return {{"protocolVersion", version},
              {"capabilities", {{"tools", {{"listChanged", false}}}}},
              {"serverInfo", {{"name", "indexer"}, {"version", kVersion}}},
              {"instructions", "Code search over the indexed repository: find_symbols first, then outline or definition."}};
    }
    if (method == "ping") return json::object();
    if (method.starts_with("notifications/")) return nullptr;
    if (method == "tools/list") return {{"tools", tools()}};
    if (method == "tools/call") {
      const json& name = member(params, "name");
      if (!name.is_string()) throw RpcError{kInvalidParams, "tools/call needs a tool name"};
      const json& args = member(params, "arguments");
      const Method* found = registry().with_tool(name.get_ref<const std::string&>());
      if (!found) throw RpcError{kInvalidParams, "no tool '" + name.get<std::string>() + "'"};
      size_t budget = kToolTokens;
      try {
        if (!args.is_null() && !args.is_object()) throw RpcError{kInvalidParams, "arguments must be an object"};
        json given = args.is_null() ? json::object() : args;
        if (given.contains("max_tokens")) {
          budget = Params(given).integer("max_tokens", kToolTokens, kMinToolTokens, kMaxToolTokens);
          given.erase("max_tokens");
        }
        Context context{workspace_, found->needs_index ? &workspace_.ready(cancelled) : workspace_.service(), cancelled, budget};
        std::string text = found->tool->run(given, context);
        return {{"content", json::array({{{"type", "text"}, {"text", clipped(std::move(text), budget)}}})}};
      } catch (const RpcError& e) {
        if (e.code == kMethodNotFound || e.code == kRequestCancelled) throw;
        // Tool errors go back to the model as a result it can read and act on.
        return {{"content", json::array({{{"type", "text"}, {"text", clipped(e.message, budget)}}})}, {"isError", true}};
      }
    }
    throw RpcError{kMethodNotFound, "no method '" + method + "'"};
  }

  StdioOptions options_;
  detail::Input input_;
  detail::Workspace workspace_;
};

}  // namespace

int serve_mcp(const StdioOptions& options) { return McpServer(options).run(); }

}  // namespace server
