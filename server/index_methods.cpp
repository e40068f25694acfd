// The index module's methods: the typed calls of index_methods.h, their params readers and JSON
// writers, their MCP tools, and their registration.
#include "server/index_methods.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "server/executor.h"
#include "server/json_writer.h"
#include "server/tool_text.h"

namespace server::index {

namespace {

constexpr size_t kMaxLimit = 10000;
constexpr size_t kDefinitions = 100;  // candidates a definition answer lists at most

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

void check_cancelled(const Context& c) {
  if (c.cancelled_now()) throw RpcError{kRequestCancelled, "request cancelled"};
}

bool encloses(const query::Range& outer, const query::Range& inner) {
  auto before = [](query::Position a, query::Position b) { return a.line < b.line || (a.line == b.line && a.column <= b.column); };
  return before(outer.start, inner.start) && before(inner.end, outer.end);
}

bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || static_cast<unsigned char>(c) >= 0x80; }

// The identifier at a 1-based line and byte column of a text; "" when there is none there.
std::string word_at(const std::string& text, const std::string& path, uint32_t line, uint32_t column) {
  size_t start = 0;
  for (uint32_t l = 1; l < line && start != std::string::npos; ++l) start = text.find('\n', start), start += start != std::string::npos;
  if (start == std::string::npos || start > text.size()) bad_param(path + ": no line " + std::to_string(line));
  size_t end_of_line = std::min(text.find('\n', start), text.size());
  size_t at = std::min<size_t>(start + column - 1, end_of_line);
  size_t b = at, e = at;
  while (b > start && is_word(text[b - 1])) --b;
  while (e < end_of_line && is_word(text[e])) ++e;
  return text.substr(b, e - b);
}

// A node named by a client: "external:NAME", a file of the tree, or an external module's name.
NodeId node(const query::ImportGraph& graph, const std::string& arg) {
  if (arg.starts_with("external:"))
    if (auto n = graph.find_external(arg.substr(9))) return *n;
  if (auto n = graph.find_file(arg)) return *n;
  if (auto n = graph.find_external(arg)) return *n;
  bad_param(arg + ": not a file of the indexed tree nor an imported module");
}

// ---- params ------------------------------------------------------------------------------------

NoParams read_none(const Params&) { return {}; }

RefreshParams read_refresh(const Params& p) {
  RefreshParams out;
  const json& paths = p.raw("paths");
  if (paths.is_null()) return out;
  out.paths.emplace();
  auto add = [&](const json& v) {
    if (!v.is_string()) bad_param("param 'paths' must be a path or a list of paths");
    // An empty path would name nothing (and refresh nothing): refused rather than ignored.
    if (v.get_ref<const std::string&>().empty()) bad_param("param 'paths' holds an empty path (leave 'paths' out to refresh everything)");
    out.paths->push_back(v.get<std::string>());
  };
  if (paths.is_array())
    for (const auto& v : paths) add(v);
  else
    add(paths);
  return out;
}

SearchParams read_search_limited(const Params& p, size_t fallback, size_t max) {
  SearchParams out;
  out.pattern = p.text("pattern");
  out.path = p.maybe_text("path").value_or("");
  out.limit = p.integer("limit", fallback, 1, max);
  if (auto k = p.names("kind")) out.kinds = kinds_from(*k);
  if (auto l = p.names("lang")) out.languages = languages_from(*l);
  return out;
}
SearchParams read_search(const Params& p) { return read_search_limited(p, 50, kMaxLimit); }

OutlineParams read_outline(const Params& p) { return {p.text("path")}; }

DefinitionParams read_definition(const Params& p) {
  DefinitionParams out;
  out.name = p.maybe_text("name").value_or("");
  if (!out.name.empty()) return out;
  out.path = p.text("path");
  out.line = uint32_t(p.integer("line", 0, 1, UINT32_MAX));
  out.column = uint32_t(p.integer("column", 0, 1, UINT32_MAX));
  if (!out.line || !out.column) bad_param("give 'name', or 'path' with 'line' and 'column'");
  return out;
}

NodeParams read_node(const Params& p) { return {p.text("path")}; }
DepthParams read_depth(const Params& p) {
  return {p.text("path"), uint32_t(p.integer("depth", query::ImportGraph::kUnlimited, 1, query::ImportGraph::kUnlimited))};
}
PathParams read_path(const Params& p) { return {p.text("from"), p.text("to")}; }

}  // namespace

// ---- JSON writers ------------------------------------------------------------------------------

namespace {

// The one field list of a symbol, for every answer that holds symbols.
void symbol_fields(JsonWriter& w, const query::Symbol& s) {
  w.field("name", s.name)
      .field("kind", query::kind_name(s.kind))
      .field("container", s.container)
      .field("language", grammars::spec(s.language).name)
      .field("path", s.path)
      .field("line", s.range.start.line + 1)
      .field("column", s.range.start.column + 1)
      .field("end_line", s.range.end.line + 1)
      .field("end_column", s.range.end.column + 1)
      .field("selection_line", s.selection.start.line + 1)
      .field("selection_column", s.selection.start.column + 1)
      .field("signature", s.signature);
}

void outline_nodes(JsonWriter& w, const std::vector<OutlineNode>& nodes) {
  w.begin_array();
  for (const auto& n : nodes) {
    w.begin_object();
    symbol_fields(w, n.symbol);
    outline_nodes(w.key("children"), n.children);
    w.end_object();
  }
  w.end_array();
}

void node_fields(JsonWriter& w, const query::ImportGraph& g, NodeId n) { w.field("path", g.name(n)).field("external", g.is_external(n)); }

}  // namespace

std::string write_refreshed(const Refreshed& r) {
  JsonWriter w;
  w.begin_object().field("changes", uint64_t(r.changes)).field("milliseconds", r.milliseconds).end_object();
  return w.take();
}

std::string write_saved(const Saved& r) {
  JsonWriter w;
  w.begin_object().field("milliseconds", r.milliseconds).end_object();
  return w.take();
}

std::string write_edges(const Edges& r) {
  JsonWriter w;
  w.begin_array();
  for (const auto& e : r.edges) {
    w.begin_object();
    node_fields(w, *r.graph, r.outgoing ? e.to : e.from);
    w.field("line", e.line + 1).end_object();
  }
  w.end_array();
  return w.take();
}

std::string write_reach(const Reach& r) {
  JsonWriter w;
  w.begin_array();
  for (const auto& n : r.nodes) {
    w.begin_object();
    node_fields(w, *r.graph, n.node);
    w.field("depth", n.depth).end_object();
  }
  w.end_array();
  return w.take();
}

std::string write_chain(const Chain& r) {
  JsonWriter w;
  if (!r.nodes) return "null";
  w.begin_array();
  for (auto n : *r.nodes) w.string(node_label(*r.graph, n));
  w.end_array();
  return w.take();
}

std::string write_cycles(const Cycles& r) {
  JsonWriter w;
  auto names = [&](const std::vector<NodeId>& nodes) {
    w.begin_array();
    for (auto n : nodes) w.string(r.graph->name(n));
    w.end_array();
  };
  w.begin_array();
  for (size_t i = 0; i < r.cycles.size(); ++i) {
    w.begin_object().key("files");
    names(r.cycles[i]);
    w.key("example");
    names(r.examples[i]);
    w.end_object();
  }
  w.end_array();
  return w.take();
}

namespace {

// ---- MCP tools: compact text for a model -------------------------------------------------------

constexpr size_t kBodyLines = 60;
constexpr size_t kCounted = 1000;  // matches counted past find_symbols' limit, for "N more"

std::string symbol_line(const query::Symbol& s) {
  std::string name(s.name), q(s.container);
  std::string line = std::string(query::kind_name(s.kind)) + " " + (q.empty() ? name : q + "." + name) + "  " + std::string(s.path) +
                     ":" + std::to_string(s.range.start.line + 1);
  std::string sig(s.signature);
  if (!sig.empty() && sig != name) line += "  " + sig.substr(0, 160);
  return line;
}

std::string tool_find_symbols(const json& args, Context& c) {
  Params p(args);
  size_t limit = p.integer("limit", 20, 1, 200);
  SearchParams sp = read_search_limited(p, limit, 200);
  sp.limit = limit + kCounted;  // past the limit, only counted
  bool body = p.flag("include_body", false);
  Hits r = search(c, sp);
  if (r.hits.empty()) return "no symbol matches '" + sp.pattern + "'";
  Capped out(c.max_tokens ? c.max_tokens : kToolTokens);
  size_t shown = 0;
  for (const auto& h : r.hits) {
    query::Symbol s = r.view->symbol(h.symbol);
    if (shown == limit || !out.line(symbol_line(s))) break;
    ++shown;
    if (!body) continue;
    std::string text = c.service().tree().text_of(std::string(s.path));
    size_t first = s.range.start.line + 1, end_line = s.range.end.line + 1, last = std::min(end_line, first + kBodyLines - 1);
    size_t line = 1;
    for (size_t start = 0; start <= text.size() && line <= last; ++line) {
      size_t end = std::min(text.find('\n', start), text.size());
      if (line >= first && !out.line("  " + std::to_string(line) + "| " + text.substr(start, end - start))) break;
      start = end + 1;
    }
    if (end_line > last) out.line("  ... (" + std::to_string(end_line - last) + " more lines)");
  }
  return out.take(r.hits.size() - shown, r.hits.size() == limit + kCounted);
}

std::string tool_outline(const json& args, Context& c) {
  OutlineParams p = read_outline(Params(args));
  Outline r = outline(c, p);
  if (r.nodes.empty()) return "no definitions in " + p.path;
  Capped out(c.max_tokens ? c.max_tokens : kToolTokens);
  outline_lines(r.nodes, [&](const std::string& l) { return out.line(l), true; });  // every line counted, shown or not
  return out.take();
}

std::string tool_definition(const json& args, Context& c) {
  Symbols r = definition(c, read_definition(Params(args)));
  if (r.ids.empty()) return "no definition found";
  Capped out(c.max_tokens ? c.max_tokens : kToolTokens);
  for (uint32_t id : r.ids) out.line(symbol_line(r.view->symbol(id)));
  return out.take();
}

std::string tool_importers(const json& args, Context& c) {
  NodeParams p = read_node(Params(args));
  Edges r = importers(c, p);
  if (r.edges.empty()) return p.path + " is imported by no file";
  Capped out(c.max_tokens ? c.max_tokens : kToolTokens);
  for (const auto& e : r.edges) out.line(std::string(r.graph->name(e.from)) + ":" + std::to_string(e.line + 1));
  return out.take();
}

std::string tool_dependencies(const json& args, Context& c) {
  Params p(args);
  std::string direction = p.maybe_text("direction").value_or("imports");
  if (direction != "imports" && direction != "dependents") bad_param("direction is 'imports' or 'dependents'");
  DepthParams dp = read_depth(p);
  Reach r = direction == "imports" ? deps(c, dp) : dependents(c, dp);
  if (r.nodes.empty()) return "none";
  Capped out(c.max_tokens ? c.max_tokens : kToolTokens);
  for (const auto& n : r.nodes) out.line(std::to_string(n.depth) + " " + node_label(*r.graph, n.node));
  return out.take();
}

std::string tool_status(const json& args, Context& c) {
  Params{args};  // none are taken, but they must be an object
  Status s = status(c, {});
  return "root: " + s.root + "\nfiles: " + std::to_string(s.files) + "\nsymbols: " + std::to_string(s.symbols) +
         "\nmemory: " + std::to_string(s.memory_bytes) + " bytes\nunsaved changes: " + (s.unsaved_changes ? "yes" : "no") + "\n";
}

std::string tool_refresh(const json& args, Context& c) { return write_refreshed(refresh(c, read_refresh(Params(args)))); }

// Index writes (refresh, snapshot) take their turns on one thread of their own: a rescan of a
// large tree takes seconds, and must not hold a thread of the pool that answers queries.
const Executor& writer() {
  static const Executor* e = new Executor(serial_executor("index-writes"));
  return *e;
}

void register_methods(Registry& r) {
  r.bind({.name = "index/status", .params = "{}", .summary = "The root, files, symbols, bytes of memory and whether changes are unsaved.",
          .runs = Runs::Inline,
          .tool = McpTool{"index_status", "How many files and symbols the index holds, and its root.", tool_schema(json::object()), tool_status}},
         read_none, status, write_status);
  r.bind({.name = "index/refresh", .params = "{paths?: [path...]}",
          .summary = "Re-reads the given paths (files or directories), or rescans the whole tree; answers {changes, milliseconds}.",
          .runs = Runs::Executor, .executor = &writer(),
          .tool = McpTool{"refresh", "Re-read changed files now (all, or the given paths); the index also follows the disk by itself.",
                          tool_schema({{"paths", {{"type", "array"}, {"items", {{"type", "string"}}}}}}), tool_refresh}},
         read_refresh, refresh, write_refreshed);
  r.bind({.name = "index/snapshot", .params = "{}", .summary = "Saves the snapshot now; answers {milliseconds}.", .runs = Runs::Executor,
          .executor = &writer()},
         read_none, snapshot, write_saved);
  r.bind({.name = "symbols/search", .params = "{pattern, kind?, lang?, path?, limit?}",
          .summary = "Definitions by fuzzy name, best first, each with its score and match tier (limit: default 50, at most 10,000).",
          .runs = Runs::Inline,
          .tool = McpTool{"find_symbols",
                          "Find definitions (functions, classes, methods, types, constants...) by fuzzy name. Qualified patterns work: "
                          "'Class.method', 'ns::fn', 'dir/file.py:name'. Best matches first.",
                          tool_schema({{"pattern", {{"type", "string"}, {"description", "name or qualified name, fuzzy (camelHumps like gRS work)"}}},
                                  {"kind", {{"type", "string"}, {"description", "comma-separated kinds: function, method, class, struct, interface, enum, variable, constant, field, macro, ..."}}},
                                  {"lang", {{"type", "string"}, {"description", "comma-separated languages: python, typescript, go, rust, cpp, ..."}}},
                                  {"path", {{"type", "string"}, {"description", "gitignore-style glob on the path, e.g. 'src/**/*.ts'"}}},
                                  {"limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 200}, {"description", "at most this many results (default 20)"}}},
                                  {"include_body", {{"type", "boolean"}, {"description", "also show each definition's source (first lines)"}}}},
                                 {"pattern"}),
                          tool_find_symbols}},
         read_search, search, write_hits);
  r.bind({.name = "symbols/outline", .params = "{path}", .summary = "A file's symbols as a tree (each with its children).",
          .runs = Runs::Inline,
          .tool = McpTool{"outline", "The definitions of one file as an indented tree, with line numbers.",
                          tool_schema({{"path", {{"type", "string"}, {"description", "file path relative to the indexed root"}}}}, {"path"}),
                          tool_outline}},
         read_outline, outline, write_outline);
  r.bind({.name = "symbols/definition", .params = "{name} | {path, line, column}",
          .summary = "Where a name (or the identifier at a 1-based line and byte column) is defined: the file's own, then the files it imports, then the rest.",
          .tool = McpTool{"definition",
                          "Where a name is defined: give 'name', or 'path' with 'line' and 'column' (1-based) of an identifier; "
                          "candidates the file imports come first.",
                          tool_schema({{"name", {{"type", "string"}}},
                                  {"path", {{"type", "string"}}},
                                  {"line", {{"type", "integer"}, {"minimum", 1}}},
                                  {"column", {{"type", "integer"}, {"minimum", 1}}}}),
                          tool_definition}},
         read_definition, definition, write_symbols);
  r.bind({.name = "graph/imports", .params = "{path}", .summary = "What a file imports: [{path, external, line}]."}, read_node, imports,
         write_edges);
  r.bind({.name = "graph/importers", .params = "{path}", .summary = "The files that import a file or an external module: [{path, external, line}].",
          .tool = McpTool{"importers", "The files that import a file (or an external module such as 'react').",
                          tool_schema({{"path", {{"type", "string"}}}}, {"path"}), tool_importers}},
         read_node, importers, write_edges);
  r.bind({.name = "graph/deps", .params = "{path, depth?}", .summary = "Everything a file depends on through imports: [{path, external, depth}].",
          .tool = McpTool{"dependencies",
                          "What a file depends on through imports (direction 'imports'), or what depends on it and is affected by a "
                          "change (direction 'dependents'), with the depth of each.",
                          tool_schema({{"path", {{"type", "string"}}},
                                  {"direction", {{"type", "string"}, {"enum", {"imports", "dependents"}}}},
                                  {"depth", {{"type", "integer"}, {"minimum", 1}, {"description", "1: direct only (default: all)"}}}},
                                 {"path"}),
                          tool_dependencies}},
         read_depth, deps, write_reach);
  r.bind({.name = "graph/dependents", .params = "{path, depth?}", .summary = "Every file a change to this one can affect: [{path, external, depth}]."},
         read_depth, dependents, write_reach);
  r.bind({.name = "graph/path", .params = "{from, to}", .summary = "The shortest import chain between two nodes, or null."}, read_path, path,
         write_chain);
  r.bind({.name = "graph/cycles", .params = "{}", .summary = "Import cycles: [{files, example}], the example the shortest loop through the first file."},
         read_none, cycles, write_cycles);
}

const Registration registered(register_methods);

}  // namespace

// ---- the calls ---------------------------------------------------------------------------------

Status status(Context& c, const NoParams&) {
  Service& s = c.service();
  auto view = s.tree().index();
  return {s.tree().root().string(), view->file_count(), view->symbol_count(), view->memory().total(), s.tree().dirty()};
}

std::string write_status(const Status& s) {
  JsonWriter w;
  w.begin_object()
      .field("root", s.root)
      .field("files", uint64_t(s.files))
      .field("symbols", uint64_t(s.symbols))
      .field("memory_bytes", uint64_t(s.memory_bytes))
      .field("unsaved_changes", s.unsaved_changes)
      .end_object();
  return w.take();
}

Refreshed refresh(Context& c, const RefreshParams& p) {
  indexer::LiveTree& tree = c.service().tree();
  auto r = p.paths ? tree.refresh(*p.paths) : tree.rescan();
  return {r.changes.size(), r.milliseconds};
}

Saved snapshot(Context& c, const NoParams&) {
  auto t = std::chrono::steady_clock::now();
  if (indexer::Status saved = c.service().tree().save(); !saved) throw RpcError{kInternalError, "could not save the snapshot: " + saved.error()};
  return {ms_since(t)};
}

Hits search(Context& c, const SearchParams& p) {
  query::SearchRequest req;
  req.pattern = p.pattern;
  req.path_glob = p.path;
  req.limit = p.limit;
  req.kinds = p.kinds;
  req.languages = p.languages;
  auto view = c.service().tree().index();
  auto hits = query::search(*view, req);
  return {std::move(view), std::move(hits)};
}

std::vector<OutlineNode> outline_of(const query::Index& index, uint32_t file) {
  std::vector<OutlineNode> roots;
  std::vector<OutlineNode*> stack;
  auto range = index.file_symbols(file);
  for (uint32_t id = range.begin; id < range.end; ++id) {
    query::Symbol s = index.symbol(id);
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

void outline_lines(const std::vector<OutlineNode>& nodes, const std::function<bool(const std::string&)>& line, int depth) {
  for (const auto& n : nodes) {
    if (!line(std::string(size_t(depth) * 2, ' ') + std::string(query::kind_name(n.symbol.kind)) + " " + std::string(n.symbol.name) +
              "  :" + std::to_string(n.symbol.range.start.line + 1)))
      return;
    outline_lines(n.children, line, depth + 1);
  }
}

Outline outline(Context& c, const OutlineParams& p) {
  auto view = c.service().tree().index();
  auto file = view->find_file(p.path);
  if (!file) bad_param(p.path + ": not an indexed file");
  auto nodes = outline_of(*view, *file);
  return {std::move(view), std::move(nodes)};
}

Symbols definition(Context& c, const DefinitionParams& p) {
  Service& service = c.service();
  auto view = service.tree().index();
  std::string name = p.name, from;  // from: the file asking, whose own and imported files rank first
  if (name.empty()) {
    from = p.path;
    name = word_at(service.tree().text_of(from), from, p.line, p.column);
    if (name.empty()) return {std::move(view), {}};
  }
  std::vector<uint32_t> ids = view->find_exact(name);
  std::unordered_set<std::string_view> imported;
  std::shared_ptr<const query::ImportGraph> graph;
  if (!from.empty()) {
    check_cancelled(c);
    graph = service.graph();
    if (auto n = graph->find_file(from))
      for (const auto& e : graph->imports(*n)) imported.insert(graph->name(e.to));
  }
  auto rank = [&](uint32_t id) {
    std::string_view path = view->symbol(id).path;
    return path == from ? 0 : imported.count(path) ? 1 : 2;
  };
  std::stable_sort(ids.begin(), ids.end(), [&](uint32_t a, uint32_t b) { return rank(a) < rank(b); });
  if (ids.size() > kDefinitions) ids.resize(kDefinitions);
  return {std::move(view), std::move(ids)};
}

namespace {

std::shared_ptr<const query::ImportGraph> graph_of(Context& c) {
  check_cancelled(c);
  return c.service().graph();
}

Edges edges(Context& c, const std::string& path, bool outgoing) {
  auto g = graph_of(c);
  NodeId n = node(*g, path);
  auto span = outgoing ? g->imports(n) : g->importers(n);
  return {g, n, outgoing, {span.begin(), span.end()}};
}

Reach reach(Context& c, const DepthParams& p, bool forward) {
  auto g = graph_of(c);
  NodeId n = node(*g, p.path);
  auto nodes = forward ? g->dependencies(n, p.depth) : g->dependents(n, p.depth);
  return {g, n, forward, std::move(nodes)};
}

}  // namespace

Edges imports(Context& c, const NodeParams& p) { return edges(c, p.path, true); }
Edges importers(Context& c, const NodeParams& p) { return edges(c, p.path, false); }
Reach deps(Context& c, const DepthParams& p) { return reach(c, p, true); }
Reach dependents(Context& c, const DepthParams& p) { return reach(c, p, false); }

Chain path(Context& c, const PathParams& p) {
  auto g = graph_of(c);
  NodeId from = node(*g, p.from), to = node(*g, p.to);
  auto nodes = g->shortest_path(from, to);
  return {g, from, to, std::move(nodes)};
}

Cycles cycles(Context& c, const NoParams&) {
  auto g = graph_of(c);
  Cycles out{g, g->cycles(), {}};
  for (const auto& cycle : out.cycles) out.examples.push_back(example_loop(*g, cycle));
  return out;
}

std::string node_label(const query::ImportGraph& g, NodeId n) { return (g.is_external(n) ? "external:" : "") + std::string(g.name(n)); }

uint64_t kinds_from(const std::vector<std::string>& names) {
  uint64_t bits = 0;
  for (const auto& k : names) {
    auto kind = query::kind_from_name(k);
    if (!kind) bad_param("unknown kind '" + k + "' (try function, method, class, struct, interface, enum, variable, constant, field, macro)");
    bits |= query::kind_bit(*kind);
  }
  return bits;
}

uint32_t languages_from(const std::vector<std::string>& names) {
  uint32_t bits = 0;
  for (const auto& l : names) {
    auto lang = grammars::language_from_name(l);
    if (lang == query::Language::Unknown) bad_param("unknown language '" + l + "'");
    bits |= 1u << uint32_t(lang);
  }
  return bits;
}

std::string write_symbol(const query::Symbol& s) {
  JsonWriter w;
  w.begin_object();
  symbol_fields(w, s);
  w.end_object();
  return w.take();
}

std::string write_symbols(const Symbols& r) {
  JsonWriter w;
  w.begin_array();
  for (uint32_t id : r.ids) {
    w.begin_object();
    symbol_fields(w, r.view->symbol(id));
    w.end_object();
  }
  w.end_array();
  return w.take();
}

std::string write_hits(const Hits& r) {
  JsonWriter w;
  w.reserve(r.hits.size() * 320);
  w.begin_array();
  for (const auto& h : r.hits) {
    w.begin_object();
    symbol_fields(w, r.view->symbol(h.symbol));
    w.field("score", int64_t(h.score)).field("match", query::tier_name(h.tier)).end_object();
  }
  w.end_array();
  return w.take();
}

std::string write_outline(const Outline& r) {
  JsonWriter w;
  outline_nodes(w, r.nodes);
  return w.take();
}

}  // namespace server::index
