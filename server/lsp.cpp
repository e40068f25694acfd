// indexer lsp: LSP 3.17 over stdio, answered from the live index.
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
#include "server/stdio.h"
#include "server/stdio_io.h"

namespace server {
namespace {

using detail::Lines;

std::string text_at(const json& j, const char* key) {
  const json& v = member(j, key);
  if (!v.is_string()) throw RpcError{kInvalidParams, std::string("'") + key + "' must be a string"};
  return v.get<std::string>();
}

constexpr size_t kWorkspaceSymbolCap = 200;
constexpr const char* kProgressToken = "indexer/indexing";

class LspServer {
 public:
  explicit LspServer(const StdioOptions& options) : options_(options) {}

  int run() {
    // shutdown is answered on the reader's thread, and after it everything is: so a request that
    // follows shutdown is refused (handle()), while one read before it and still running is not.
    RpcConnection rpc([this](const std::string& m, const json& p, const CancelFlag& c) { return handle(m, p, c); },
                      [](const std::string& message) {
                        detail::write_all("Content-Length: " + std::to_string(message.size()) + "\r\n\r\n" + message);
                      },
                      256, [this](const std::string& m) { return RpcConnection::Placement{.inline_call = m == "shutdown" || shutdown_}; });
    rpc_ = &rpc;
    reader_ = std::this_thread::get_id();
    detail::LspFramer framer(options_.max_message);
    std::string chunk;
    while (!exiting_ && input_.read(chunk)) {
      framer.append(chunk);
      chunk.clear();
      while (auto f = framer.next()) {
        if (f->kind == detail::LspFramer::Frame::Body) {
          rpc.receive(f->body);
          continue;
        }
        // A frame that cannot be read: said to the client (with no id: there is none to name)
        // and to the log; the framer has moved on to the next header.
        std::cerr << "indexer: lsp: " << f->why << '\n';
        rpc.send_raw(error_response(f->kind == detail::LspFramer::Frame::TooLarge ? kInvalidRequest : kParseError, f->why));
      }
    }
    workspace_.stop();  // ends the opening, so the progress reporter ends too
    if (progress_thread_.joinable()) progress_thread_.join();
    rpc.close();
    return shutdown_ ? 0 : 1;
  }

 private:
  static std::string frame(const std::string& message) {
    return "Content-Length: " + std::to_string(message.size()) + "\r\n\r\n" + message;
  }

  json handle(const std::string& method, const json& params, const CancelFlag& cancelled) {
    if (shutdown_ && method != "exit" && std::this_thread::get_id() == reader_)
      throw RpcError{kInvalidRequest, "the server is shut down: only 'exit' is accepted"};
    if (method == "initialize") return initialize(params);
    if (method == "initialized") {
      // On a thread of its own: the reader must go on (cancellations, shutdown) while it reports.
      if (work_done_progress_ && !progress_thread_.joinable()) progress_thread_ = std::thread([this] { report_progress(); });
      return nullptr;
    }
    if (method == "shutdown") {
      shutdown_ = true;
      workspace_.stop();
      return nullptr;
    }
    if (method == "exit") {
      exiting_ = true;
      input_.wake();
      return nullptr;
    }
    if (method == "workspace/symbol") return workspace_symbol(params, cancelled);
    if (method == "textDocument/documentSymbol") return document_symbol(params, cancelled);
    if (method == "textDocument/definition") return definition(params, cancelled);
    if (method == "textDocument/didOpen") {
      if (auto rel = relative(member(member(params, "textDocument"), "uri"))) set_buffer(*rel, text_at(member(params, "textDocument"), "text"), cancelled);
      return nullptr;
    }
    if (method == "textDocument/didChange") {
      auto rel = relative(member(member(params, "textDocument"), "uri"));
      if (!rel) return nullptr;
      std::string text = tree(cancelled).text_of(*rel);
      const json& changes = member(params, "contentChanges");
      if (!changes.is_array()) throw RpcError{kInvalidParams, "contentChanges must be an array"};
      for (const auto& change : changes) text = apply_change(std::move(text), change);
      set_buffer(*rel, std::move(text), cancelled);
      return nullptr;
    }
    if (method == "textDocument/didClose") {
      if (auto rel = relative(member(member(params, "textDocument"), "uri"))) {
        {
          std::lock_guard lock(told_mu_);
          told_.erase(*rel);
        }
        tree(cancelled).close_buffer(*rel);
      }
      return nullptr;
    }
    if (method == "workspace/didChangeWatchedFiles") {
      std::vector<std::string> paths;
      const json& changes = member(params, "changes");
      if (changes.is_array())
        for (const auto& c : changes)
          if (auto rel = relative(member(c, "uri"))) paths.push_back(*rel);
      if (!paths.empty()) tree(cancelled).refresh(paths);
      return nullptr;
    }
    throw RpcError{kMethodNotFound, "no method '" + method + "'"};
  }

  // An editor's buffer, indexed unless it is judged as a file would be (too large for
  // --max-file-size, or too dense: its parse tree past the budget). The editor is told once.
  void set_buffer(const std::string& rel, std::string text, const CancelFlag& cancelled) {
    size_t size = text.size();
    indexer::LiveTree::Report r = tree(cancelled).set_buffer(rel, std::move(text));
    std::optional<indexer::SkipReason> why;
    for (const auto& c : r.changes)
      if (c.path == rel && c.what == indexer::LiveTree::Change::What::Skipped) why = c.reason;
    {
      std::lock_guard lock(told_mu_);
      if (why != indexer::SkipReason::TooLarge && why != indexer::SkipReason::TooDense) {
        told_.erase(rel);
        return;
      }
      if (!told_.insert(rel).second) return;
    }
    const indexer::Options& o = options_.index;
    std::string message = why == indexer::SkipReason::TooLarge
                              ? "is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(o.max_file_size) + " (--max-file-size)"
                              : "is too dense to index: its parse tree passed " + std::to_string(o.max_tree_bytes >> 20) + " MiB";
    rpc_->notify("window/showMessage",
                 {{"type", 2},  // Warning
                  {"message", "indexer: " + rel + " " + message + "; it has no symbols while it is open like this"}});
  }

  json initialize(const json& params) {
    std::filesystem::path root;
    if (options_.root) root = std::filesystem::absolute(*options_.root);
    else if (path_ok(member(params, "rootUri"))) root = *detail::path_from_uri(member(params, "rootUri").get<std::string>());
    else if (const json& folders = member(params, "workspaceFolders"); folders.is_array() && !folders.empty() && path_ok(member(folders[0], "uri")))
      root = *detail::path_from_uri(member(folders[0], "uri").get<std::string>());
    else if (member(params, "rootPath").is_string()) root = member(params, "rootPath").get<std::string>();
    else root = std::filesystem::current_path();
    root = root.lexically_normal();
    if (root.has_filename() == false && root.string().size() > 1) root = root.parent_path();

    const json& caps = member(params, "capabilities");
    work_done_progress_ = member(member(caps, "window"), "workDoneProgress") == true;
    utf8_ = false;
    if (const json& encodings = member(member(caps, "general"), "positionEncodings"); encodings.is_array())
      for (const auto& e : encodings) utf8_ |= e == "utf-8";

    workspace_.open(root, options_, [this](const indexer::Progress& p) {
      std::lock_guard lock(progress_mu_);
      progress_ = p;
    });
    return json{{"capabilities",
                 {{"positionEncoding", utf8_ ? "utf-8" : "utf-16"},
                  {"textDocumentSync", {{"openClose", true}, {"change", 2}}},
                  {"workspaceSymbolProvider", true},
                  {"documentSymbolProvider", true},
                  {"definitionProvider", true}}},
                {"serverInfo", {{"name", "indexer"}, {"version", kVersion}}}};
  }

  // window/workDoneProgress while the first index is built: begin, reports, end.
  void report_progress() {
    rpc_->request("window/workDoneProgress/create", {{"token", kProgressToken}});
    rpc_->notify("$/progress", {{"token", kProgressToken}, {"value", {{"kind", "begin"}, {"title", "Indexing"}, {"percentage", 0}}}});
    while (!workspace_.wait(std::chrono::milliseconds(200))) {
      indexer::Progress p;
      {
        std::lock_guard lock(progress_mu_);
        p = progress_;
      }
      unsigned pct = p.bytes_total ? unsigned(100 * p.bytes_done / p.bytes_total) : 0;
      rpc_->notify("$/progress", {{"token", kProgressToken},
                                  {"value", {{"kind", "report"}, {"message", std::to_string(p.files_done) + "/" + std::to_string(p.files_total) + " files"}, {"percentage", pct}}}});
    }
    Service* s = workspace_.service();
    std::string done = s ? std::to_string(s->tree().index()->symbol_count()) + " symbols" : "failed";
    rpc_->notify("$/progress", {{"token", kProgressToken}, {"value", {{"kind", "end"}, {"message", done}}}});
  }

  indexer::LiveTree& tree(const CancelFlag& cancelled) { return workspace_.ready(cancelled).tree(); }

  static bool path_ok(const json& uri) { return uri.is_string() && detail::path_from_uri(uri.get<std::string>()).has_value(); }

  // The path of a URI relative to the root; nullopt outside the tree. Lexical only: the tree
  // opens it under confine.h's rule, so a link on its way is refused there.
  std::optional<std::string> relative(const json& uri) const {
    if (!uri.is_string()) throw RpcError{kInvalidParams, "a document uri must be a string"};
    auto path = detail::path_from_uri(uri.get<std::string>());
    if (!path) return std::nullopt;
    auto root = workspace_.root().lexically_normal();
    if (!root.has_filename()) root = root.parent_path();  // "/src/" -> "/src"
    auto rel = path->lexically_normal().lexically_relative(root);
    if (rel.empty() || rel == ".") return std::nullopt;
    for (const auto& part : rel)
      if (part == "..") return std::nullopt;
    return rel.generic_string();
  }

  // Columns as the client counts them.
  uint32_t out_column(const Lines& lines, uint32_t line, uint32_t byte) const { return utf8_ ? byte : lines.utf16_column(line, byte); }
  uint32_t in_column(const Lines& lines, uint32_t line, uint32_t col) const { return utf8_ ? col : lines.byte_column(line, col); }

  json range_json(const Lines& lines, const query::Range& r) const {
    return {{"start", {{"line", r.start.line}, {"character", out_column(lines, r.start.line, r.start.column)}}},
            {"end", {{"line", r.end.line}, {"character", out_column(lines, r.end.line, r.end.column)}}}};
  }

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

  json location(indexer::LiveTree& tree, const query::Index& view, const query::Symbol& s) {
    return {{"uri", detail::uri_from_path(workspace_.root() / std::string(s.path))},
            {"range", range_json(*texts_.of(tree, view, s.path), s.selection)}};
  }

  // Through the registered methods' typed calls: what the editor sees is what every surface answers.
  Context context(const CancelFlag& cancelled) { return {workspace_, &workspace_.ready(cancelled), cancelled}; }

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

  json definition(const json& params, const CancelFlag& cancelled) {
    Context c = context(cancelled);
    auto rel = relative(member(member(params, "textDocument"), "uri"));
    if (!rel) return json::array();
    const json& pos = member(params, "position");
    if (!member(pos, "line").is_number_unsigned() || !member(pos, "character").is_number_unsigned())
      throw RpcError{kInvalidParams, "position must have line and character"};
    Lines lines(c.service().tree().text_of(*rel));
    uint32_t line = member(pos, "line").get<uint32_t>();
    uint32_t column = in_column(lines, line, member(pos, "character").get<uint32_t>());
    if (line == UINT32_MAX || column == UINT32_MAX) return json::array();
    index::Symbols found = index::definition(c, {.name = {}, .path = *rel, .line = line + 1, .column = column + 1});
    json out = json::array();
    for (uint32_t id : found.ids) out.push_back(location(c.service().tree(), *found.view, found.view->symbol(id)));
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

  StdioOptions options_;
  detail::Input input_;
  detail::Workspace workspace_;
  RpcConnection* rpc_ = nullptr;
  std::atomic<bool> exiting_{false}, shutdown_{false};
  std::thread::id reader_;
  // Buffers the editor was told are not indexed. Notifications come on the reader's thread, but a
  // client may send didOpen/didChange with an id, which runs on the pool.
  std::mutex told_mu_;
  std::set<std::string> told_;
  bool work_done_progress_ = false, utf8_ = false;
  std::mutex progress_mu_;
  indexer::Progress progress_;
  std::thread progress_thread_;
  Texts texts_;
};

}  // namespace

int serve_lsp(const StdioOptions& options) { return LspServer(options).run(); }

}  // namespace server
