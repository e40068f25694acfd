#include "server/service.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <mutex>
#include <unordered_set>

#include "indexer/resolve_imports.h"
#include "query/import_graph.h"

namespace server {

namespace {

constexpr size_t kMaxLimit = 10000;

[[noreturn]] void bad_param(const std::string& message) { throw RpcError{kInvalidParams, message}; }

std::string text_param(const json& params, const char* name, bool required = true) {
  const json& v = member(params, name);
  if (v.is_null()) {
    if (required) bad_param(std::string("missing param '") + name + "'");
    return {};
  }
  if (!v.is_string()) bad_param(std::string("param '") + name + "' must be a string");
  return v.get<std::string>();
}

uint64_t number_param(const json& params, const char* name, uint64_t fallback, uint64_t min, uint64_t max) {
  const json& v = member(params, name);
  if (v.is_null()) return fallback;
  if (!v.is_number_integer() || v.get<int64_t>() < int64_t(min) || v.get<uint64_t>() > max)
    bad_param(std::string("param '") + name + "' must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return v.get<uint64_t>();
}

// "a,b" or ["a", "b"].
std::vector<std::string> names_of(const json& v, const char* what) {
  std::vector<std::string> out;
  auto split = [&](const std::string& s) {
    for (size_t start = 0; start <= s.size();) {
      size_t comma = std::min(s.find(',', start), s.size());
      if (comma > start) out.push_back(s.substr(start, comma - start));
      start = comma + 1;
    }
  };
  if (v.is_string()) split(v.get<std::string>());
  else if (v.is_array())
    for (const auto& e : v) {
      if (!e.is_string()) bad_param(std::string("param '") + what + "' must be a string or a list of strings");
      split(e.get<std::string>());
    }
  else if (!v.is_null()) bad_param(std::string("param '") + what + "' must be a string or a list of strings");
  return out;
}

bool encloses(const query::Range& outer, const query::Range& inner) {
  auto before = [](query::Position a, query::Position b) { return a.line < b.line || (a.line == b.line && a.column <= b.column); };
  return before(outer.start, inner.start) && before(inner.end, outer.end);
}

std::vector<OutlineNode> outline_tree(const std::vector<query::Symbol>& symbols) {
  std::vector<OutlineNode> roots;
  std::vector<OutlineNode*> stack;
  for (const auto& s : symbols) {
    // Fields and properties hold no children: "int a, b;" makes a's range cover b's.
    while (!stack.empty() && (!encloses(stack.back()->symbol.range, s.range) || stack.back()->symbol.kind == query::Kind::Field ||
                              stack.back()->symbol.kind == query::Kind::Property))
      stack.pop_back();
    auto& siblings = stack.empty() ? roots : stack.back()->children;
    siblings.push_back({s, {}});
    // Pointers into `siblings` stay valid: only the last element's children grow from here on.
    stack.push_back(&siblings.back());
  }
  return roots;
}

json outline_nodes_json(const std::vector<OutlineNode>& nodes) {
  json out = json::array();
  for (const auto& n : nodes) {
    json j = symbol_json(n.symbol);
    j["children"] = outline_nodes_json(n.children);
    out.push_back(std::move(j));
  }
  return out;
}

bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || static_cast<unsigned char>(c) >= 0x80; }

}  // namespace

const json& member(const json& object, const char* key) {
  static const json null;
  if (!object.is_object()) return null;
  auto it = object.find(key);
  return it == object.end() ? null : *it;
}

json symbol_json(const query::Symbol& s) {
  return json{{"name", s.name},
              {"kind", query::kind_name(s.kind)},
              {"container", s.container},
              {"language", grammars::spec(s.language).name},
              {"path", s.path},
              {"line", s.range.start.line + 1},
              {"column", s.range.start.column + 1},
              {"end_line", s.range.end.line + 1},
              {"end_column", s.range.end.column + 1},
              {"selection_line", s.selection.start.line + 1},
              {"selection_column", s.selection.start.column + 1},
              {"signature", s.signature}};
}

std::vector<OutlineNode> outline(const query::Index& index, uint32_t file) {
  std::vector<query::Symbol> symbols;
  auto range = index.file_symbols(file);
  for (uint32_t id = range.begin; id < range.end; ++id) symbols.push_back(index.symbol(id));
  return outline_tree(symbols);
}

json outline_json(const query::Index& index, uint32_t file) { return outline_nodes_json(outline(index, file)); }

uint64_t kinds_from(const json& names) {
  uint64_t bits = 0;
  for (const auto& k : names_of(names, "kind")) {
    auto kind = query::kind_from_name(k);
    if (!kind) bad_param("unknown kind '" + k + "' (try function, method, class, struct, interface, enum, variable, constant, field, macro)");
    bits |= query::kind_bit(*kind);
  }
  return bits;
}

uint32_t languages_from(const json& names) {
  uint32_t bits = 0;
  for (const auto& l : names_of(names, "lang")) {
    auto lang = grammars::language_from_name(l);
    if (lang == query::Language::Unknown) bad_param("unknown language '" + l + "'");
    bits |= 1u << uint32_t(lang);
  }
  return bits;
}

// The live tree's import graph (LiveTree::graph()), held for one request.
struct Service::Graph {
  std::shared_ptr<const indexer::LiveTree::Graph> live;
  const query::ImportGraph& graph;
};

struct Service::State {};

Service::Service(indexer::LiveTree& tree) : tree_(tree), state_(std::make_unique<State>()) {}
Service::~Service() = default;

const std::vector<std::string>& Service::methods() {
  static const std::vector<std::string> names = {
      "initialize",         "index/status",  "index/refresh",   "index/snapshot", "symbols/search", "symbols/outline",
      "symbols/definition", "graph/imports", "graph/importers", "graph/deps",     "graph/dependents", "graph/path",
      "graph/cycles"};
  return names;
}

json Service::status() const {
  auto view = tree_.index();
  query::MemoryStats m = view->memory();
  return json{{"root", tree_.root().string()},
              {"files", view->file_count()},
              {"symbols", view->symbol_count()},
              {"memory_bytes", m.total()},
              {"unsaved_changes", tree_.dirty()}};
}

std::shared_ptr<const Service::Graph> Service::graph() {
  auto live = tree_.graph();
  return std::make_shared<const Graph>(Graph{live, *live->imports});
}

json Service::call(std::string_view method, const json& params, const CancelFlag* cancelled) {
  if (!params.is_null() && !params.is_object() && !params.is_array()) throw RpcError{kInvalidParams, "params must be an object"};
  if (method == "initialize") return json{{"server", "indexer"}, {"version", kVersion}, {"methods", methods()}, {"index", status()}};
  if (method == "index/status") return status();
  if (method == "index/refresh") {
    const json& paths = member(params, "paths");
    indexer::LiveTree::Report r;
    // An empty path would name nothing (and refresh nothing): refused rather than ignored.
    auto empty = [](const json& p) { return p.is_string() && p.get_ref<const std::string&>().empty(); };
    if (empty(paths) || (paths.is_array() && std::any_of(paths.begin(), paths.end(), empty)))
      bad_param("param 'paths' holds an empty path (leave 'paths' out to refresh everything)");
    if (paths.is_null()) r = tree_.rescan();
    else r = tree_.refresh(names_of(paths, "paths"));
    return json{{"changes", r.changes.size()}, {"milliseconds", r.milliseconds}};
  }
  if (method == "index/snapshot") {
    auto t = std::chrono::steady_clock::now();
    if (std::string err = tree_.save(); !err.empty()) throw RpcError{kInternalError, "could not save the snapshot: " + err};
    return json{{"milliseconds", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count()}};
  }
  if (method == "symbols/search") {
    auto [view, hits] = search(params);
    json out = json::array();
    for (const auto& h : hits) {
      json j = symbol_json(view->symbol(h.symbol));
      j["score"] = h.score;
      j["match"] = query::tier_name(h.tier);
      out.push_back(std::move(j));
    }
    return out;
  }
  if (method == "symbols/outline") {
    std::string path = text_param(params, "path");
    auto view = tree_.index();
    auto file = view->find_file(path);
    if (!file) bad_param(path + ": not an indexed file");
    return outline_json(*view, *file);
  }
  if (method == "symbols/definition") return definition(params);
  if (method.starts_with("graph/")) {
    if (cancelled && cancelled->load()) throw RpcError{kRequestCancelled, "cancelled"};
    return graph_call(method, params);
  }
  throw RpcError{kMethodNotFound, "no method '" + std::string(method) + "'"};
}

std::pair<std::shared_ptr<const query::Index>, std::vector<query::Hit>> Service::search(const json& params) {
  std::string pattern = text_param(params, "pattern");
  std::string glob = text_param(params, "path", false);
  query::SearchRequest req;
  req.pattern = pattern;
  req.path_glob = glob;
  req.limit = number_param(params, "limit", 50, 1, kMaxLimit);
  req.kinds = kinds_from(member(params, "kind"));
  req.languages = languages_from(member(params, "lang"));
  auto view = tree_.index();
  auto hits = query::search(*view, req);
  return {std::move(view), std::move(hits)};
}

Result Service::call_fast(std::string_view method, const json& params, const CancelFlag* cancelled) {
  if (method != "symbols/search") return call(method, params, cancelled);
  if (!params.is_null() && !params.is_object()) throw RpcError{kInvalidParams, "params must be an object"};
  auto [view, hits] = search(params);
  // The keys in the order nlohmann writes them (sorted), so both paths give the same bytes.
  std::string out = "[";
  out.reserve(hits.size() * 320);
  auto number = [&out](int64_t v) {
    char buf[24];
    out.append(buf, size_t(std::to_chars(buf, buf + sizeof buf, v).ptr - buf));
  };
  for (size_t i = 0; i < hits.size(); ++i) {
    query::Symbol s = view->symbol(hits[i].symbol);
    if (i) out += ',';
    out += "{\"column\":";
    number(s.range.start.column + 1);
    out += ",\"container\":";
    append_json_string(out, s.container);
    out += ",\"end_column\":";
    number(s.range.end.column + 1);
    out += ",\"end_line\":";
    number(s.range.end.line + 1);
    out += ",\"kind\":";
    append_json_string(out, query::kind_name(s.kind));
    out += ",\"language\":";
    append_json_string(out, grammars::spec(s.language).name);
    out += ",\"line\":";
    number(s.range.start.line + 1);
    out += ",\"match\":";
    append_json_string(out, query::tier_name(hits[i].tier));
    out += ",\"name\":";
    append_json_string(out, s.name);
    out += ",\"path\":";
    append_json_string(out, s.path);
    out += ",\"score\":";
    number(hits[i].score);
    out += ",\"selection_column\":";
    number(s.selection.start.column + 1);
    out += ",\"selection_line\":";
    number(s.selection.start.line + 1);
    out += ",\"signature\":";
    append_json_string(out, s.signature);
    out += '}';
  }
  out += ']';
  return RawJson{std::move(out)};
}

void append_json_string(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    // The common case first: a run of printable ASCII goes in at once.
    size_t run = i;
    while (run < s.size() && static_cast<unsigned char>(s[run]) >= 0x20 && static_cast<unsigned char>(s[run]) < 0x80 &&
           s[run] != '"' && s[run] != '\\')
      ++run;
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') out += '\\', out += char(c);
      else if (c == '\b') out += "\\b";
      else if (c == '\f') out += "\\f";
      else if (c == '\n') out += "\\n";
      else if (c == '\r') out += "\\r";
      else if (c == '\t') out += "\\t";
      else if (c < 0x20) out += "\\u00", out += hex[c >> 4], out += hex[c & 15];
      else out += char(c);
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence is copied; anything else becomes U+FFFD, one per bad byte, as
    // nlohmann's error_handler_t::replace does.
    size_t len = utf8_sequence(s, i);
    if (len) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  out += '"';
}

json Service::definition(const json& params) {
  auto view = tree_.index();
  std::string name = text_param(params, "name", false);
  std::string from;  // the file asking, whose own and imported files rank first
  if (name.empty()) {
    from = text_param(params, "path");
    uint64_t line = number_param(params, "line", 0, 1, UINT32_MAX), column = number_param(params, "column", 0, 1, UINT32_MAX);
    if (!line || !column) bad_param("give 'name', or 'path' with 'line' and 'column'");
    std::string text = tree_.text_of(from);
    size_t start = 0;
    for (uint64_t l = 1; l < line && start != std::string::npos; ++l) start = text.find('\n', start), start += start != std::string::npos;
    if (start == std::string::npos || start > text.size()) bad_param(from + ": no line " + std::to_string(line));
    size_t end_of_line = std::min(text.find('\n', start), text.size());
    size_t at = std::min<size_t>(start + column - 1, end_of_line);
    size_t b = at, e = at;
    while (b > start && is_word(text[b - 1])) --b;
    while (e < end_of_line && is_word(text[e])) ++e;
    if (b == e) return json::array();
    name = text.substr(b, e - b);
  }
  std::vector<uint32_t> ids = view->find_exact(name);
  // Same file, then the files it imports, then the rest (in path order).
  std::unordered_set<std::string> imported;
  if (!from.empty()) {
    auto g = graph();
    if (auto node = g->graph.find_file(from))
      for (const auto& e : g->graph.imports(*node)) imported.emplace(g->graph.name(e.to));
  }
  auto rank = [&](uint32_t id) {
    std::string_view path = view->symbol(id).path;
    return path == from ? 0 : imported.count(std::string(path)) ? 1 : 2;
  };
  std::stable_sort(ids.begin(), ids.end(), [&](uint32_t a, uint32_t b) { return rank(a) < rank(b); });
  json out = json::array();
  for (size_t i = 0; i < ids.size() && i < 100; ++i) out.push_back(symbol_json(view->symbol(ids[i])));
  return out;
}

json Service::graph_call(std::string_view method, const json& params) {
  auto g = graph();
  const query::ImportGraph& graph = g->graph;
  auto node = [&](const char* name) {
    std::string arg = text_param(params, name);
    if (arg.starts_with("external:"))
      if (auto n = graph.find_external(arg.substr(9))) return *n;
    if (auto n = graph.find_file(arg)) return *n;
    if (auto n = graph.find_external(arg)) return *n;
    bad_param(arg + ": not a file of the tree nor an imported module");
  };
  auto node_json = [&](query::ImportGraph::NodeId n) { return json{{"path", graph.name(n)}, {"external", graph.is_external(n)}}; };
  if (method == "graph/imports" || method == "graph/importers") {
    bool out = method == "graph/imports";
    auto n = node("path");
    json list = json::array();
    for (const auto& e : out ? graph.imports(n) : graph.importers(n)) {
      json j = node_json(out ? e.to : e.from);
      j["line"] = e.line + 1;
      list.push_back(std::move(j));
    }
    return list;
  }
  if (method == "graph/deps" || method == "graph/dependents") {
    auto n = node("path");
    uint32_t depth = uint32_t(number_param(params, "depth", query::ImportGraph::kUnlimited, 1, query::ImportGraph::kUnlimited));
    json list = json::array();
    for (const auto& r : method == "graph/deps" ? graph.dependencies(n, depth) : graph.dependents(n, depth)) {
      json j = node_json(r.node);
      j["depth"] = r.depth;
      list.push_back(std::move(j));
    }
    return list;
  }
  if (method == "graph/path") {
    auto path = graph.shortest_path(node("from"), node("to"));
    if (!path) return nullptr;
    json list = json::array();
    for (auto n : *path) list.push_back((graph.is_external(n) ? "external:" : "") + std::string(graph.name(n)));
    return list;
  }
  if (method == "graph/cycles") {
    json list = json::array();
    auto names = [&](const std::vector<query::ImportGraph::NodeId>& nodes) {
      std::vector<std::string> out;
      for (auto n : nodes) out.emplace_back(graph.name(n));
      return out;
    };
    for (const auto& c : graph.cycles()) list.push_back({{"files", names(c)}, {"example", names(example_loop(graph, c))}});
    return list;
  }
  throw RpcError{kMethodNotFound, "no method '" + std::string(method) + "'"};
}

std::vector<query::ImportGraph::NodeId> example_loop(const query::ImportGraph& g, const std::vector<query::ImportGraph::NodeId>& cycle) {
  auto v = cycle.front();
  std::vector<query::ImportGraph::NodeId> best;
  for (const auto& e : g.imports(v)) {
    if (!std::binary_search(cycle.begin(), cycle.end(), e.to)) continue;
    auto back = e.to == v ? std::optional(std::vector{v}) : g.shortest_path(e.to, v);
    if (!back || (!best.empty() && back->size() + 1 >= best.size())) continue;
    best = {v};
    best.insert(best.end(), back->begin(), back->end());
  }
  return best;
}

}  // namespace server
