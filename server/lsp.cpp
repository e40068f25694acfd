// indexer lsp: LSP 3.17 over stdio, answered from the live index; the conversation itself
// (lsp_session.h) is shared with indexer serve's /lsp.
#include <nlohmann/json.hpp>

#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "query/query.h"
#include "server/framing.h"
#include "server/index_methods.h"
#include "server/jsonrpc.h"
#include "server/lsp_session.h"
#include "server/registry.h"
#include "server/stdio.h"
#include "server/stdio_io.h"

namespace server {
namespace detail {
namespace {

std::string text_at(const json& j, const char* key) {
  const json& v = member(j, key);
  if (!v.is_string()) throw RpcError{kInvalidParams, std::string("'") + key + "' must be a string"};
  return v.get<std::string>();
}

constexpr size_t kWorkspaceSymbolCap = 200;
constexpr const char* kProgressToken = "indexer/indexing";

// The texts of files results point into, for their UTF-16 columns: kept across requests while
// the index holds the same bytes of the file (its content hash), so repeated searches read nothing.
class Texts {
 public:
  std::shared_ptr<const Lines> of(indexer::LiveTree& tree, const query::Index& view, std::string_view path) {
    uint64_t hash = 0;
    if (auto f = view.find_file(path)) hash = view.file(*f).content_hash;
    std::lock_guard lock(mu_);
    auto it = cache_.find(path);
    if (it != cache_.end() && hash && it->second.first == hash) return it->second.second;
    if (cache_.size() > 1024) cache_.clear();
    auto lines = std::make_shared<const Lines>(tree.text_of(std::string(path)));
    cache_[std::string(path)] = {hash, lines};
    return lines;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::pair<uint64_t, std::shared_ptr<const Lines>>, std::less<>> cache_;
};

}  // namespace

struct LspSession::Impl {
  Impl(Workspace& w, const StdioOptions& o, bool opens_, std::function<indexer::Progress()> p, Peer peer_)
      : options(o), workspace(w), opens(opens_), progress(std::move(p)), peer(std::move(peer_)) {
    if (!opens) root = absolute_root(workspace.root());
  }

  static std::filesystem::path absolute_root(std::filesystem::path r) {
    std::error_code ec;
    r = std::filesystem::absolute(r, ec).lexically_normal();
    if (!r.has_filename() && r.string().size() > 1) r = r.parent_path();  // "/src/" -> "/src"
    return r;
  }

  Result handle(const std::string& method, const json& params, const CancelFlag& cancelled) {
    if (shutdown && method != "exit" && std::this_thread::get_id() == reader)
      throw RpcError{kInvalidRequest, "the server is shut down: only 'exit' is accepted"};
    if (method == "initialize") return initialize(params);
    if (method == "initialized") {
      // On a thread of its own: the reader must go on (cancellations, shutdown) while it reports.
      std::lock_guard lock(progress_mu);
      if ((work_done_progress || status_notifications) && !stopped && !progress_thread.joinable()) {
        if (workspace.service()) send_status(nullptr);
        else progress_thread = std::thread([this] { report_progress(); });
      }
      return nullptr;
    }
    if (method == "shutdown") {
      reader = std::this_thread::get_id();  // shutdown runs on the reader (where())
      shutdown = true;
      if (opens) workspace.stop();
      return nullptr;
    }
    if (method == "exit") {
      if (peer.exit) peer.exit();
      return nullptr;
    }
    if (method == "workspace/symbol") return workspace_symbol(params, cancelled);
    if (method == "textDocument/documentSymbol") return document_symbol(params, cancelled);
    if (method == "textDocument/definition") return definition(params, cancelled);
    if (method == "textDocument/hover") return hover(params, cancelled);
    if (method == "textDocument/documentLink") return document_link(params, cancelled);
    if (method == "textDocument/didOpen") {
      if (auto rel = relative(member(member(params, "textDocument"), "uri"))) open_buffer(*rel, text_at(member(params, "textDocument"), "text"), cancelled);
      return nullptr;
    }
    if (method == "textDocument/didChange") {
      auto rel = relative(member(member(params, "textDocument"), "uri"));
      if (!rel) return nullptr;
      const json& changes = member(params, "contentChanges");
      if (!changes.is_array()) throw RpcError{kInvalidParams, "contentChanges must be an array"};
      {
        std::lock_guard lock(buffers_mu);
        if (auto it = held.find(*rel); it != held.end()) {  // the index is not there yet: held
          for (const auto& change : changes) it->second = apply_change(std::move(it->second), change);
          return nullptr;
        }
      }
      if (!workspace.service()) return nullptr;  // a change to a document never opened
      std::string text = tree(cancelled).text_of(*rel);
      for (const auto& change : changes) text = apply_change(std::move(text), change);
      set_buffer(*rel, std::move(text), cancelled);
      return nullptr;
    }
    if (method == "textDocument/didClose") {
      if (auto rel = relative(member(member(params, "textDocument"), "uri"))) {
        bool was_held;
        {
          std::lock_guard lock(buffers_mu);
          told.erase(*rel);
          opened.erase(*rel);
          was_held = held.erase(*rel) > 0;
        }
        if (!was_held && workspace.service()) tree(cancelled).close_buffer(*rel);
      }
      return nullptr;
    }
    if (method == "workspace/didChangeWatchedFiles") {
      std::vector<std::string> paths;
      const json& changes = member(params, "changes");
      if (changes.is_array())
        for (const auto& c : changes)
          if (auto rel = relative(member(c, "uri"))) paths.push_back(*rel);
      if (!paths.empty() && workspace.service()) tree(cancelled).refresh(paths);
      return nullptr;
    }
    // The registry's methods: an editor's custom requests (the import graph, the index's state).
    if (const Method* m = registry().find(method); m && m->call && method != "initialize") {
      if (workspace.service()) flush(cancelled);
      return registry().call(method, params, workspace, cancelled);
    }
    throw RpcError{kMethodNotFound, "no method '" + method + "'"};
  }

  RpcConnection::Placement where(const std::string& method) const {
    // initialize too: it only starts the opening, and a shutdown right after it must find it started.
    if (method == "shutdown" || method == "initialize" || shutdown) return {.inline_call = true};
    if (const Method* m = registry().find(method); m && m->call && method != "initialize") {
      if (m->runs == Runs::Inline) return {.inline_call = !m->needs_index || workspace.service()};
      return {.inline_call = false, .executor = m->runs == Runs::Executor ? m->executor : nullptr};
    }
    return {};
  }

  void stop() {
    {
      std::lock_guard lock(progress_mu);
      stopped = true;
    }
    if (progress_thread.joinable()) progress_thread.join();
    if (opens) return;  // the tree goes with the process
    std::set<std::string> still;
    {
      std::lock_guard lock(buffers_mu);
      still.swap(opened);
      held.clear();
    }
    if (Service* s = workspace.service())
      for (const auto& rel : still) s->tree().close_buffer(rel);
  }

  // An editor's buffer: held while the index is being built (applied by flush()), else indexed.
  void open_buffer(const std::string& rel, std::string text, const CancelFlag& cancelled) {
    {
      std::lock_guard lock(buffers_mu);
      opened.insert(rel);
      if (!workspace.service()) {
        held[rel] = std::move(text);
        return;
      }
      held.erase(rel);
    }
    set_buffer(rel, std::move(text), cancelled);
  }

  // The buffers held while the index was built, indexed in the order they came (first come, once).
  void flush(const CancelFlag& cancelled) {
    std::lock_guard order(flush_mu);
    std::map<std::string, std::string> now;
    {
      std::lock_guard lock(buffers_mu);
      if (held.empty()) return;
      now.swap(held);
    }
    for (auto& [rel, text] : now) set_buffer(rel, std::move(text), cancelled);
  }

  // A buffer indexed unless it is judged as a file would be (too large for --max-file-size, or
  // too dense: its parse tree past the budget). The editor is told once.
  void set_buffer(const std::string& rel, std::string text, const CancelFlag& cancelled) {
    size_t size = text.size();
    indexer::LiveTree::Report r = workspace.ready(cancelled).tree().set_buffer(rel, std::move(text));
    std::optional<indexer::SkipReason> why;
    for (const auto& c : r.changes)
      if (c.path == rel && c.what == indexer::LiveTree::Change::What::Skipped) why = c.reason;
    {
      std::lock_guard lock(buffers_mu);
      if (why != indexer::SkipReason::TooLarge && why != indexer::SkipReason::TooDense) {
        told.erase(rel);
        return;
      }
      if (!told.insert(rel).second) return;
    }
    const indexer::Options& o = options.index;
    std::string message = why == indexer::SkipReason::TooLarge
                              ? "is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(o.max_file_size) + " (--max-file-size)"
                              : "is too dense to index: its parse tree passed " + std::to_string(o.max_tree_bytes >> 20) + " MiB";
    peer.notify("window/showMessage",
                {{"type", 2},  // Warning
                 {"message", "indexer: " + rel + " " + message + "; it has no symbols while it is open like this"}});
  }

  json initialize(const json& params) {
    if (opens) {
      std::filesystem::path r;
      if (options.root) r = *options.root;
      else if (path_ok(member(params, "rootUri"))) r = *path_from_uri(member(params, "rootUri").get<std::string>());
      else if (const json& folders = member(params, "workspaceFolders"); folders.is_array() && !folders.empty() && path_ok(member(folders[0], "uri")))
        r = *path_from_uri(member(folders[0], "uri").get<std::string>());
      else if (member(params, "rootPath").is_string()) r = member(params, "rootPath").get<std::string>();
      else r = std::filesystem::current_path();
      root = absolute_root(r);
    }
    const json& caps = member(params, "capabilities");
    work_done_progress = member(member(caps, "window"), "workDoneProgress") == true;
    status_notifications = member(member(params, "initializationOptions"), "statusNotifications") == true;
    utf8 = false;
    if (const json& encodings = member(member(caps, "general"), "positionEncodings"); encodings.is_array())
      for (const auto& e : encodings) utf8 |= e == "utf-8";
    if (opens && !workspace.opening() && !workspace.service())
      workspace.open(root, options, [this](const indexer::Progress& p) {
        std::lock_guard lock(progress_mu);
        own_progress = p;
      });
    return json{{"capabilities",
                 {{"positionEncoding", utf8 ? "utf-8" : "utf-16"},
                  {"textDocumentSync", {{"openClose", true}, {"change", 2}}},
                  {"workspaceSymbolProvider", true},
                  {"documentSymbolProvider", true},
                  {"definitionProvider", true},
                  {"hoverProvider", true},
                  {"documentLinkProvider", {{"resolveProvider", false}}}}},
                {"serverInfo", {{"name", "indexer"}, {"version", kVersion}}}};
  }

  indexer::Progress progress_now() {
    if (progress) return progress();
    std::lock_guard lock(progress_mu);
    return own_progress;
  }

  // window/workDoneProgress while the first index is built: begin, reports, end.
  void report_progress() {
    auto stopping = [this] {
      std::lock_guard lock(progress_mu);
      return stopped;
    };
    if (work_done_progress) {
      peer.request("window/workDoneProgress/create", {{"token", kProgressToken}});
      peer.notify("$/progress", {{"token", kProgressToken}, {"value", {{"kind", "begin"}, {"title", "Indexing"}, {"percentage", 0}}}});
    }
    while (!workspace.wait(std::chrono::milliseconds(200)) && !stopping()) {
      indexer::Progress p = progress_now();
      unsigned pct = p.bytes_total ? unsigned(100 * p.bytes_done / p.bytes_total) : 0;
      if (work_done_progress)
        peer.notify("$/progress", {{"token", kProgressToken},
                                   {"value", {{"kind", "report"}, {"message", std::to_string(p.files_done) + "/" + std::to_string(p.files_total) + " files"}, {"percentage", pct}}}});
      send_status(&p);
    }
    Service* s = workspace.service();
    std::string done = s ? std::to_string(s->tree().index()->symbol_count()) + " symbols" : "failed";
    if (work_done_progress) peer.notify("$/progress", {{"token", kProgressToken}, {"value", {{"kind", "end"}, {"message", done}}}});
    send_status(nullptr);
  }

  // indexer/status, for a client that asked (initializationOptions.statusNotifications): an
  // editor's status bar, which LSP's progress (a token the client's own UI takes) cannot feed.
  // `p`: still indexing; null: as the index now stands.
  void send_status(const indexer::Progress* p) {
    if (!status_notifications) return;
    if (p) {
      unsigned pct = p->bytes_total ? unsigned(100 * p->bytes_done / p->bytes_total) : 0;
      peer.notify("indexer/status", {{"state", "indexing"}, {"percentage", pct}, {"files", p->files_done}, {"files_total", p->files_total}});
    } else if (Service* s = workspace.service()) {
      auto view = s->tree().index();
      peer.notify("indexer/status", {{"state", "ready"}, {"files", view->file_count()}, {"symbols", view->symbol_count()}});
    } else {
      peer.notify("indexer/status", {{"state", "failed"}});
    }
  }

  indexer::LiveTree& tree(const CancelFlag& cancelled) {
    Service& s = workspace.ready(cancelled);
    flush(cancelled);
    return s.tree();
  }

  static bool path_ok(const json& uri) { return uri.is_string() && path_from_uri(uri.get<std::string>()).has_value(); }

  // The path of a URI relative to the root; nullopt outside the tree. Lexical only: the tree
  // opens it under confine.h's rule, so a link on its way is refused there.
  std::optional<std::string> relative(const json& uri) const {
    if (!uri.is_string()) throw RpcError{kInvalidParams, "a document uri must be a string"};
    auto path = path_from_uri(uri.get<std::string>());
    if (!path || root.empty()) return std::nullopt;
    auto rel = path->lexically_normal().lexically_relative(root);
    if (rel.empty() || rel == ".") return std::nullopt;
    for (const auto& part : rel)
      if (part == "..") return std::nullopt;
    return rel.generic_string();
  }

  // Columns as the client counts them.
  uint32_t out_column(const Lines& lines, uint32_t line, uint32_t byte) const { return utf8 ? byte : lines.utf16_column(line, byte); }
  uint32_t in_column(const Lines& lines, uint32_t line, uint32_t col) const { return utf8 ? col : lines.byte_column(line, col); }

  json position_json(const Lines& lines, uint32_t line, uint32_t byte) const { return {{"line", line}, {"character", out_column(lines, line, byte)}}; }
  json range_json(const Lines& lines, const query::Range& r) const {
    return {{"start", position_json(lines, r.start.line, r.start.column)}, {"end", position_json(lines, r.end.line, r.end.column)}};
  }

  json location(indexer::LiveTree& t, const query::Index& view, const query::Symbol& s) {
    return {{"uri", uri_from_path(root / std::string(s.path))}, {"range", range_json(*texts.of(t, view, s.path), s.selection)}};
  }

  // Through the registered methods' typed calls: what the editor sees is what every surface answers.
  Context context(const CancelFlag& cancelled) {
    Service& s = workspace.ready(cancelled);
    flush(cancelled);
    return {workspace, &s, cancelled};
  }

  json workspace_symbol(const json& params, const CancelFlag& cancelled) {
    Context c = context(cancelled);
    index::SearchParams p;
    p.pattern = member(params, "query").is_string() ? member(params, "query").get<std::string>() : "";
    p.limit = kWorkspaceSymbolCap;
    index::Hits r = index::search(c, p);
    json out = json::array();
    for (const auto& h : r.hits) {
      if (cancelled) throw RpcError{kRequestCancelled, "request cancelled"};
      query::Symbol s = r.view->symbol(h.symbol);
      out.push_back({{"name", s.name}, {"kind", query::lsp_kind(s.kind)}, {"containerName", s.container},
                     {"location", location(c.service().tree(), *r.view, s)}});
    }
    return out;
  }

  json document_symbols(const Lines& lines, const std::vector<index::OutlineNode>& nodes) const {
    json out = json::array();
    for (const auto& n : nodes) {
      const query::Symbol& s = n.symbol;
      out.push_back({{"name", s.name},
                     {"detail", s.signature},
                     {"kind", query::lsp_kind(s.kind)},
                     {"range", range_json(lines, s.range)},
                     {"selectionRange", range_json(lines, s.selection)},
                     {"children", document_symbols(lines, n.children)}});
    }
    return out;
  }

  json document_symbol(const json& params, const CancelFlag& cancelled) {
    Context c = context(cancelled);
    auto rel = relative(member(member(params, "textDocument"), "uri"));
    if (!rel) return json::array();
    auto view = c.service().tree().index();
    auto file = view->find_file(*rel);
    if (!file) return json::array();
    Lines lines(c.service().tree().text_of(*rel));
    return document_symbols(lines, index::outline_of(*view, *file));
  }

  // The definitions of the identifier at a position (in the file itself first, then in the files it imports).
  index::Symbols definitions_at(Context& c, const json& params, std::string& rel_out) {
    auto rel = relative(member(member(params, "textDocument"), "uri"));
    if (!rel) return {};
    const json& pos = member(params, "position");
    if (!member(pos, "line").is_number_unsigned() || !member(pos, "character").is_number_unsigned())
      throw RpcError{kInvalidParams, "position must have line and character"};
    Lines lines(c.service().tree().text_of(*rel));
    uint32_t line = member(pos, "line").get<uint32_t>();
    uint32_t column = in_column(lines, line, member(pos, "character").get<uint32_t>());
    if (line == UINT32_MAX || column == UINT32_MAX) return {};
    rel_out = *rel;
    return index::definition(c, {.name = {}, .path = *rel, .line = line + 1, .column = column + 1});
  }

  json definition(const json& params, const CancelFlag& cancelled) {
    Context c = context(cancelled);
    std::string rel;
    index::Symbols found = definitions_at(c, params, rel);
    json out = json::array();
    for (uint32_t id : found.ids) out.push_back(location(c.service().tree(), *found.view, found.view->symbol(id)));
    return out;
  }

  // The definition's signature, its container and where it is: what the index knows, not a type checker.
  json hover(const json& params, const CancelFlag& cancelled) {
    Context c = context(cancelled);
    std::string rel;
    index::Symbols found = definitions_at(c, params, rel);
    if (found.ids.empty()) return nullptr;
    query::Symbol s = found.view->symbol(found.ids.front());
    std::string md = "```" + std::string(grammars::spec(s.language).name) + "\n" + std::string(s.signature.empty() ? s.name : s.signature) + "\n```\n\n";
    md += std::string(query::kind_name(s.kind));
    if (!s.container.empty()) md += " in `" + std::string(s.container) + "`";
    md += " — " + std::string(s.path) + ":" + std::to_string(s.selection.start.line + 1);
    if (found.ids.size() > 1) md += " (" + std::to_string(found.ids.size() - 1) + " more definitions)";
    return {{"contents", {{"kind", "markdown"}, {"value", md}}}};
  }

  // Each import whose specifier resolved to a file of the tree, linked to that file: the import
  // graph's edge on the import's line, the specifier found as written on that line.
  json document_link(const json& params, const CancelFlag& cancelled) {
    Context c = context(cancelled);
    json out = json::array();
    auto rel = relative(member(member(params, "textDocument"), "uri"));
    if (!rel) return out;
    auto view = c.service().tree().index();
    auto file = view->find_file(*rel);
    if (!file) return out;
    auto graph = c.service().graph();
    auto node = graph->find_file(*rel);
    if (!node) return out;
    std::multimap<uint32_t, std::string_view> targets;  // line -> file
    for (const auto& e : graph->imports(*node))
      if (!graph->is_external(e.to)) targets.emplace(e.line, graph->name(e.to));
    if (targets.empty()) return out;
    Lines lines(c.service().tree().text_of(*rel));
    for (const auto& imp : view->file_imports(*file)) {
      auto [from, to] = targets.equal_range(imp.line);
      if (from == to || imp.specifier.empty()) continue;
      // Several files imported on one line (a Go import block has one a line): the one whose path
      // the specifier's last part names, else the first.
      std::string_view target = from->second;
      std::string_view last = imp.specifier.substr(imp.specifier.find_last_of("/.:") == std::string_view::npos ? 0 : imp.specifier.find_last_of("/.:") + 1);
      for (auto it = from; it != to; ++it)
        if (!last.empty() && it->second.find(last) != std::string_view::npos) target = it->second;
      std::string_view text = lines.line(imp.line);
      size_t at = text.find(imp.specifier);
      if (at == std::string_view::npos) continue;  // rewritten by the extractor ("from . import x"): no span to link
      out.push_back({{"range", {{"start", position_json(lines, imp.line, uint32_t(at))}, {"end", position_json(lines, imp.line, uint32_t(at + imp.specifier.size()))}}},
                     {"target", uri_from_path(root / std::string(target))},
                     {"tooltip", std::string(target)}});
    }
    return out;
  }

  // One contentChanges entry: a whole text, or a range replaced.
  std::string apply_change(std::string text, const json& change) const {
    std::string replacement = text_at(change, "text");
    const json& r = member(change, "range");
    if (r.is_null()) return replacement;
    auto number = [](const json& pos, const char* key) {
      const json& v = member(pos, key);
      if (!v.is_number_unsigned()) throw RpcError{kInvalidParams, "a range needs line and character"};
      return v.get<uint32_t>();
    };
    Lines lines(std::move(text));
    const json &start = member(r, "start"), &end = member(r, "end");
    uint32_t sl = number(start, "line"), el = number(end, "line");
    size_t from = lines.offset(sl, in_column(lines, sl, number(start, "character")));
    size_t to = lines.offset(el, in_column(lines, el, number(end, "character")));
    if (to < from) std::swap(from, to);
    std::string out = lines.text();
    return out.replace(from, to - from, replacement);
  }

  StdioOptions options;
  Workspace& workspace;
  const bool opens;
  std::function<indexer::Progress()> progress;
  Peer peer;
  std::filesystem::path root;  // absolute, normalized: URIs are made from it and read against it
  std::atomic<bool> shutdown{false};
  std::thread::id reader;
  // Buffers: opened by this client (closed on stop() in a shared tree), held until the index is
  // there, and those the editor was told are not indexed. Notifications come on the reader's
  // thread, but a client may send didOpen/didChange with an id, which runs on the pool.
  std::mutex buffers_mu, flush_mu;
  std::set<std::string> told, opened;
  std::map<std::string, std::string> held;
  bool work_done_progress = false, status_notifications = false, utf8 = false;
  std::mutex progress_mu;
  bool stopped = false;
  indexer::Progress own_progress;
  std::thread progress_thread;
  Texts texts;
};

LspSession::LspSession(Workspace& workspace, const StdioOptions& options, bool opens, std::function<indexer::Progress()> progress, Peer peer)
    : impl_(std::make_unique<Impl>(workspace, options, opens, std::move(progress), std::move(peer))) {}
LspSession::~LspSession() { stop(); }
Result LspSession::handle(const std::string& method, const json& params, const CancelFlag& cancelled) { return impl_->handle(method, params, cancelled); }
RpcConnection::Placement LspSession::where(const std::string& method) const { return impl_->where(method); }
bool LspSession::shut_down() const { return impl_->shutdown; }
void LspSession::stop() { impl_->stop(); }

}  // namespace detail

int serve_lsp(const StdioOptions& options) {
  detail::Input input;
  detail::Workspace workspace;
  std::atomic<bool> exiting{false};
  std::unique_ptr<RpcConnection> rpc;
  detail::LspSession session(workspace, options, true, {},
                             {.notify = [&rpc](const std::string& m, const json& p) { rpc->notify(m, p); },
                              .request = [&rpc](const std::string& m, const json& p) { rpc->request(m, p); },
                              .exit = [&] {
                                exiting = true;
                                input.wake();
                              }});
  rpc = std::make_unique<RpcConnection>(
      [&session](const std::string& m, const json& p, const CancelFlag& c) { return session.handle(m, p, c); },
      [](const std::string& message) { detail::write_all("Content-Length: " + std::to_string(message.size()) + "\r\n\r\n" + message); }, 256,
      [&session](const std::string& m) { return session.where(m); });
  detail::LspFramer framer(options.max_message);
  std::string chunk;
  while (!exiting && input.read(chunk)) {
    framer.append(chunk);
    chunk.clear();
    while (auto f = framer.next()) {
      if (f->kind == detail::LspFramer::Frame::Body) {
        rpc->receive(f->body);
        continue;
      }
      // A frame that cannot be read: said to the client (with no id: there is none to name)
      // and to the log; the framer has moved on to the next header.
      std::cerr << "indexer: lsp: " << f->why << '\n';
      rpc->send_raw(error_response(f->kind == detail::LspFramer::Frame::TooLarge ? kInvalidRequest : kParseError, f->why));
    }
  }
  workspace.stop();  // ends the opening, so the progress reporter ends too
  session.stop();
  rpc->close();
  return session.shut_down() ? 0 : 1;
}

}  // namespace server
