// indexer mcp: the Model Context Protocol over stdio (one JSON-RPC message per line), with tools
// for agents over the same method table. Answers are compact text, bounded by a result limit and
// a character cap, and say when they were cut.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <iostream>

#include "server/framing.h"
#include "server/jsonrpc.h"
#include "server/stdio.h"
#include "server/stdio_io.h"

namespace server {
namespace {

constexpr const char* kLatestProtocol = "2025-06-18";
constexpr size_t kMaxChars = 12000;
constexpr size_t kBodyLines = 60;
constexpr size_t kCounted = 1000;  // matches counted past find_symbols' limit, for "N more"

json tool(const char* name, const char* description, json properties, std::vector<std::string> required = {}) {
  return {{"name", name},
          {"description", description},
          {"inputSchema", {{"type", "object"}, {"properties", std::move(properties)}, {"required", required}, {"additionalProperties", false}}}};
}

const json& tools() {
  static const json list = json::array({
      tool("find_symbols",
           "Find definitions (functions, classes, methods, types, constants...) by fuzzy name. Qualified patterns work: "
           "'Class.method', 'ns::fn', 'dir/file.py:name'. Best matches first.",
           {{"pattern", {{"type", "string"}, {"description", "name or qualified name, fuzzy (camelHumps like gRS work)"}}},
            {"kind", {{"type", "string"}, {"description", "comma-separated kinds: function, method, class, struct, interface, enum, variable, constant, field, macro, ..."}}},
            {"lang", {{"type", "string"}, {"description", "comma-separated languages: python, typescript, go, rust, cpp, ..."}}},
            {"path", {{"type", "string"}, {"description", "gitignore-style glob on the path, e.g. 'src/**/*.ts'"}}},
            {"limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 200}, {"description", "at most this many results (default 20)"}}},
            {"include_body", {{"type", "boolean"}, {"description", "also show each definition's source (first lines)"}}}},
           {"pattern"}),
      tool("outline", "The definitions of one file as an indented tree, with line numbers.",
           {{"path", {{"type", "string"}, {"description", "file path relative to the indexed root"}}}}, {"path"}),
      tool("definition",
           "Where a name is defined: give 'name', or 'path' with 'line' and 'column' (1-based) of an identifier; "
           "candidates the file imports come first.",
           {{"name", {{"type", "string"}}},
            {"path", {{"type", "string"}}},
            {"line", {{"type", "integer"}, {"minimum", 1}}},
            {"column", {{"type", "integer"}, {"minimum", 1}}}}),
      tool("importers", "The files that import a file (or an external module such as 'react').",
           {{"path", {{"type", "string"}}}}, {"path"}),
      tool("dependencies",
           "What a file depends on through imports (direction 'imports'), or what depends on it and is affected by a "
           "change (direction 'dependents'), with the depth of each.",
           {{"path", {{"type", "string"}}},
            {"direction", {{"type", "string"}, {"enum", {"imports", "dependents"}}}},
            {"depth", {{"type", "integer"}, {"minimum", 1}, {"description", "1: direct only (default: all)"}}}},
           {"path"}),
      tool("index_status", "How many files and symbols the index holds, and its root.", json::object()),
      tool("refresh", "Re-read changed files now (all, or the given paths); the index also follows the disk by itself.",
           {{"paths", {{"type", "array"}, {"items", {{"type", "string"}}}}}}),
  });
  return list;
}

// Text that stops before the character cap and says what it left out; the whole answer, that
// note included, stays within the cap.
class Capped {
 public:
  explicit Capped(size_t cap) : cap_(cap), room_(cap - kNoteRoom) {}
  // False once the cap is reached (the line is not added, and counted as left out).
  bool line(const std::string& l) {
    if (full_ || text_.size() + l.size() + 1 > room_) {
      full_ = true;
      ++left_;
      return false;
    }
    text_ += l;
    text_ += '\n';
    return true;
  }
  // For lists of one line per result: says how many lines the cap left out.
  std::string take() { return take(left_, false); }
  // `not_shown` results were left out (by the cap or a limit); `at_least`: there may be more.
  std::string take(size_t not_shown, bool at_least) {
    if (not_shown)
      text_ += "(output cut: " + std::string(at_least ? "over " : "") + std::to_string(not_shown) + " more; narrow the query or raise limit)\n";
    else if (full_)
      text_ += "(output cut at " + std::to_string(cap_) + " characters; narrow the query)\n";
    return std::move(text_);
  }

 private:
  static constexpr size_t kNoteRoom = 100;  // the longest note, with a 20-digit count
  size_t cap_, room_;
  std::string text_;
  size_t left_ = 0;
  bool full_ = false;
};

// The cap for any text, cut at a character boundary (a tool error can quote what it was given).
std::string clipped(std::string text) {
  if (text.size() <= kMaxChars) return text;
  const std::string note = "... (cut at " + std::to_string(kMaxChars) + " characters)";
  size_t end = kMaxChars - note.size();
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text + note;
}

std::string symbol_line(const json& s) {
  std::string q = s["container"].get<std::string>();
  std::string name = s["name"];
  std::string line = s["kind"].get<std::string>() + " " + (q.empty() ? name : q + "." + name) + "  " + s["path"].get<std::string>() +
                     ":" + std::to_string(s["line"].get<unsigned>());
  std::string sig = s["signature"];
  if (!sig.empty() && sig != name) line += "  " + sig.substr(0, 160);
  return line;
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
      const json& list = tools();
      if (std::none_of(list.begin(), list.end(), [&](const json& t) { return t["name"] == name; }))
        throw RpcError{kInvalidParams, "no tool '" + name.get<std::string>() + "'"};
      try {
        return {{"content", json::array({{{"type", "text"}, {"text", clipped(call_tool(name.get<std::string>(), args.is_null() ? json::object() : args, cancelled))}}})}};
      } catch (const RpcError& e) {
        if (e.code == kMethodNotFound || e.code == kRequestCancelled) throw;
        // Tool errors go back to the model as a result it can read and act on.
        return {{"content", json::array({{{"type", "text"}, {"text", clipped(e.message)}}})}, {"isError", true}};
      }
    }
    throw RpcError{kMethodNotFound, "no method '" + method + "'"};
  }

  std::string call_tool(const std::string& name, const json& args, const CancelFlag& cancelled) {
    if (!args.is_object()) throw RpcError{kInvalidParams, "arguments must be an object"};
    Service& service = workspace_.ready(cancelled);
    Capped out(kMaxChars);
    if (name == "find_symbols") {
      json params = args;
      params.erase("include_body");
      const json& asked = member(args, "limit");
      if (!asked.is_null() && (!asked.is_number_integer() || asked.get<int64_t>() < 1 || asked.get<int64_t>() > 200))
        throw RpcError{kInvalidParams, "invalid 'limit': " + asked.dump() + " (an integer from 1 to 200)"};
      uint64_t limit = asked.is_null() ? 20 : asked.get<uint64_t>();
      params["limit"] = limit + kCounted;  // past the limit, only counted
      json hits = service.call("symbols/search", params, &cancelled);
      bool body = member(args, "include_body") == true;
      size_t shown = 0;
      for (const auto& h : hits) {
        if (shown == limit || !out.line(symbol_line(h))) break;
        ++shown;
        if (body) {
          std::string text = service.tree().text_of(h["path"]);
          size_t line = 1, first = h["line"].get<size_t>(), last = std::min(h["end_line"].get<size_t>(), first + kBodyLines - 1);
          for (size_t start = 0; start <= text.size() && line <= last; ++line) {
            size_t end = std::min(text.find('\n', start), text.size());
            if (line >= first && !out.line("  " + std::to_string(line) + "| " + text.substr(start, end - start))) break;
            start = end + 1;
          }
          if (size_t end_line = h["end_line"].get<size_t>(); end_line > last) out.line("  ... (" + std::to_string(end_line - last) + " more lines)");
        }
      }
      if (hits.empty()) return "no symbol matches '" + member(args, "pattern").get<std::string>() + "'";
      return out.take(hits.size() - shown, hits.size() == limit + kCounted);
    }
    if (name == "outline") {
      json tree = service.call("symbols/outline", args, &cancelled);
      std::function<void(const json&, int)> print = [&](const json& nodes, int depth) {
        for (const auto& n : nodes) {
          out.line(std::string(size_t(depth) * 2, ' ') + n["kind"].get<std::string>() + " " + n["name"].get<std::string>() + "  :" +
                   std::to_string(n["line"].get<unsigned>()));
          print(n["children"], depth + 1);
        }
      };
      print(tree, 0);
      return tree.empty() ? "no definitions in " + member(args, "path").get<std::string>() : out.take();
    }
    if (name == "definition") {
      json found = service.call("symbols/definition", args, &cancelled);
      for (const auto& s : found) out.line(symbol_line(s));
      return found.empty() ? "no definition found" : out.take();
    }
    if (name == "importers") {
      json list = service.call("graph/importers", args, &cancelled);
      for (const auto& e : list) out.line(e["path"].get<std::string>() + ":" + std::to_string(e["line"].get<unsigned>()));
      return list.empty() ? member(args, "path").get<std::string>() + " is imported by no file" : out.take();
    }
    if (name == "dependencies") {
      json params = args;
      std::string direction = member(args, "direction").is_string() ? member(args, "direction").get<std::string>() : "imports";
      if (direction != "imports" && direction != "dependents") throw RpcError{kInvalidParams, "direction is 'imports' or 'dependents'"};
      params.erase("direction");
      json list = service.call(direction == "imports" ? "graph/deps" : "graph/dependents", params, &cancelled);
      for (const auto& e : list)
        out.line(std::to_string(e["depth"].get<unsigned>()) + " " + (e["external"] == true ? "external:" : "") + e["path"].get<std::string>());
      return list.empty() ? "none" : out.take();
    }
    if (name == "index_status") return service.status().dump(1);
    if (name == "refresh") return service.call("index/refresh", args, &cancelled).dump();
    throw RpcError{kInvalidParams, "no tool '" + name + "'"};
  }

  StdioOptions options_;
  detail::Input input_;
  detail::Workspace workspace_;
};

}  // namespace

int serve_mcp(const StdioOptions& options) { return McpServer(options).run(); }

}  // namespace server
