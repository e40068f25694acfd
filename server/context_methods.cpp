// The context methods (compress/compact.h, compress/repo_map.h): a conversation made to fit a
// token budget, the spans it removed given back, and a map of the repository that fits a budget.
// One elision store for the process, persisted under the root's .indexer/elided/ (server/elided.h).
#include <fcntl.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <chrono>
#include <set>

#include "compress/compact.h"
#include "compress/diff.h"
#include "compress/repo_map.h"
#include "compress/tokens.h"
#include "indexer/confine.h"
#include "indexer/indexer.h"
#include "server/elided.h"
#include "server/index_methods.h"
#include "server/json_writer.h"
#include "server/registry.h"

namespace server {
namespace {

namespace tokens = compress::tokens;

constexpr size_t kMaxMessages = 100000;
constexpr size_t kMaxBudget = 10'000'000;
constexpr size_t kDefaultMapBudget = 2048;

struct StoreSetting {
  std::mutex mu;
  std::string root;     // keep_elided_under()'s
  std::string refused;  // why the store is in memory only, when it was asked to persist
};
StoreSetting& setting() {
  static StoreSetting* s = new StoreSetting();  // never freed: calls may run at exit
  return *s;
}

// <root>/.indexer/elided, opened beneath the root (confine.h): -1 and why, when refused.
int open_elided_dir(const std::string& root, std::string& why) {
  indexer::confine::Opened state = indexer::confine::open_state_dir(root);
  if (!state) {
    why = std::string(indexer::confine::refusal_name(state.refusal)) + ": " + root + "/.indexer (" + std::strerror(state.error) + ")";
    return -1;
  }
  if (::mkdirat(state.fd.get(), "elided", 0700) != 0 && errno != EEXIST) {
    why = root + "/.indexer/elided: " + std::strerror(errno);
    return -1;
  }
  indexer::confine::Opened dir = indexer::confine::open_beneath(state.fd.get(), "elided", O_RDONLY | O_DIRECTORY);
  if (!dir) {
    why = std::string(indexer::confine::refusal_name(dir.refusal)) + ": " + root + "/.indexer/elided (" + std::strerror(dir.error) + ")";
    return -1;
  }
  return dir.fd.release();  // the store's, for one use
}

compress::ElisionStore& store() {
  // Made once, on first use, with the root set by then; never freed: calls may run at exit.
  static compress::ElisionStore* s = [] {
    StoreSetting& set = setting();
    std::lock_guard lock(set.mu);
    compress::ElisionStore::Options o;
    if (!set.root.empty()) {
      // Opened for each use, never held: a descriptor inside the root would keep a deleted root's
      // inode alive, and the watcher would never hear it was deleted (and so never see it return).
      int probe = open_elided_dir(set.root, set.refused);
      if (probe >= 0) {
        ::close(probe);
        o.open_dir = [root = set.root] {
          std::string why;
          return open_elided_dir(root, why);
        };
      }
    }
    return new compress::ElisionStore(o);
  }();
  return *s;
}

tokens::Encoding encoding_of(const Params& p) {
  std::string name = p.maybe_text("encoding").value_or("o200k_base");
  auto e = tokens::encoding_named(name);
  if (!e) bad_param("unknown encoding '" + name + "' (cl100k_base or o200k_base)");
  return *e;
}

std::function<size_t(std::string_view)> counter(tokens::Encoding e) {
  const tokens::Tokenizer* t = &tokens::tokenizer(e);
  return [t](std::string_view text) { return t->count(text); };  // invalid UTF-8 is replaced there
}

// A source file as its definitions (signatures, one a line, nested by range), keeping the bodies of
// the symbols named in `keep`; nullopt for a file no grammar reads.
std::optional<std::string> outline(const std::string& path, const std::string& text, const std::vector<std::string>& keep) {
  auto language = grammars::detect_language(path, std::string_view(text).substr(0, text.find('\n')));
  if (language == query::Language::Unknown) return std::nullopt;
  indexer::Extraction ex = indexer::extract(language, text);
  if (!ex.error.empty() || ex.symbols.empty()) return std::nullopt;
  std::set<std::string_view> wanted(keep.begin(), keep.end());
  std::vector<std::string_view> lines;
  for (size_t at = 0; at <= ex.text.size();) {
    size_t nl = std::min(ex.text.find('\n', at), ex.text.size());
    lines.push_back(std::string_view(ex.text).substr(at, nl - at));
    at = nl + 1;
  }
  std::string out;
  std::vector<uint32_t> open;  // end lines of the enclosing definitions
  uint32_t shown_to = 0;       // lines before this were shown as a body
  for (const auto& s : ex.symbols) {
    while (!open.empty() && s.range.start.line > open.back()) open.pop_back();
    if (s.range.start.line < shown_to) continue;  // inside a body shown whole
    std::string indent(open.size() * 2, ' ');
    if (wanted.count(s.name)) {
      for (uint32_t l = s.range.start.line; l <= s.range.end.line && l < lines.size(); ++l)
        out += indent + std::to_string(l + 1) + "| " + std::string(lines[l]) + "\n";
      shown_to = s.range.end.line + 1;
    } else {
      out += indent + std::to_string(s.range.start.line + 1) + ": " + std::string(s.signature.empty() ? s.name : s.signature) + "\n";
    }
    open.push_back(s.range.end.line);
  }
  return out;
}

struct CompactParams {
  std::vector<compress::Message> messages;
  size_t budget = 0;
  tokens::Encoding encoding = tokens::Encoding::O200k;
};

CompactParams read_compact(const Params& p) {
  CompactParams out;
  out.budget = p.integer("budget", 0, 1, kMaxBudget);
  if (!out.budget) bad_param("missing param 'budget'");
  out.encoding = encoding_of(p);
  const json& list = p.raw("messages");
  if (!list.is_array()) bad_param("param 'messages' must be a list of {role, content, kind?, pinned?, path?}");
  if (list.size() > kMaxMessages) bad_param("param 'messages' holds more than " + std::to_string(kMaxMessages) + " messages");
  for (size_t i = 0; i < list.size(); ++i) {
    const json& m = list[i];
    auto where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad_param(where + " must be an object");
    compress::Message msg;
    const json &role = member(m, "role"), &content = member(m, "content"), &kind = member(m, "kind"), &pinned = member(m, "pinned"),
               &path = member(m, "path");
    if (!role.is_string()) bad_param(where + ".role must be a string");
    if (!content.is_string()) bad_param(where + ".content must be a string");
    msg.role = role.get<std::string>();
    msg.content = content.get<std::string>();
    std::string k = kind.is_string() ? kind.get<std::string>() : msg.role == "tool" ? "tool_output" : msg.role;
    if (!kind.is_null() && !kind.is_string()) bad_param(where + ".kind must be a string");
    auto parsed = compress::kind_from_name(k);
    if (!parsed && !kind.is_null()) bad_param(where + ".kind '" + k + "' is none of system, instruction, user, assistant, tool_call, tool_output, file");
    msg.kind = parsed.value_or(compress::Kind::Other);
    if (!pinned.is_null() && !pinned.is_boolean()) bad_param(where + ".pinned must be true or false");
    msg.pinned = pinned == true;
    if (!path.is_null() && !path.is_string()) bad_param(where + ".path must be a string");
    if (path.is_string()) msg.path = path.get<std::string>();
    out.messages.push_back(std::move(msg));
  }
  return out;
}

compress::Compacted compact(Context&, const CompactParams& p) {
  compress::CompactOptions o;
  o.budget = p.budget;
  o.count = counter(p.encoding);
  o.outline = outline;
  // An older read of a file read again: the diff that turns the newer read into it.
  o.diff = [](const std::string& older, const std::string& newer) -> std::optional<std::string> {
    compress::DiffOptions d;
    d.old_name = "newer read";
    d.new_name = "this read";
    d.budget = std::chrono::milliseconds(200);
    auto r = compress::diff_text(newer, older, d);
    if (const auto* diff = std::get_if<compress::Diff>(&r)) return diff->unified;
    return std::nullopt;
  };
  return compress::compact(p.messages, o, store());
}

std::string write_compacted(const compress::Compacted& c) {
  JsonWriter w;
  w.begin_object().key("messages").begin_array();
  for (const auto& m : c.messages) {
    w.begin_object().field("role", m.role).field("content", m.content).field("kind", compress::kind_name(m.kind));
    if (m.pinned) w.field("pinned", true);
    if (!m.path.empty()) w.field("path", m.path);
    w.end_object();
  }
  w.end_array().key("manifest").begin_array();
  for (const auto& ch : c.manifest)
    w.begin_object()
        .field("message", uint64_t(ch.message))
        .field("strategy", ch.strategy)
        .field("handle", ch.handle)
        .field("lines", uint64_t(ch.lines))
        .field("tokens_before", uint64_t(ch.tokens_before))
        .field("tokens_after", uint64_t(ch.tokens_after))
        .end_object();
  w.end_array().field("tokens_before", uint64_t(c.tokens_before)).field("tokens_after", uint64_t(c.tokens_after)).end_object();
  return w.take();
}

struct ExpandParams {
  std::string handle;
};
ExpandParams read_expand(const Params& p) { return {p.text("handle")}; }

std::string expand(Context&, const ExpandParams& p) {
  auto got = store().get(p.handle);
  if (got.status == compress::ElisionStore::Status::Found) return got.bytes;
  if (got.status == compress::ElisionStore::Status::Unknown && !setting().refused.empty())
    got.reason += "; spans are kept in memory only here, as " + setting().refused;
  bad_param(got.reason);
}

std::string write_expanded(const std::string& bytes) {
  JsonWriter w;
  w.begin_object().field("text", bytes).field("valid_utf8", tokens::is_valid_utf8(bytes)).end_object();
  return w.take();
}

struct MapParams {
  size_t budget = kDefaultMapBudget;
  tokens::Encoding encoding = tokens::Encoding::O200k;
  std::vector<std::string> focus;
};

MapParams read_map(const Params& p) {
  MapParams out;
  out.budget = p.integer("budget", kDefaultMapBudget, 1, kMaxBudget);
  out.encoding = encoding_of(p);
  if (auto f = p.names("focus")) out.focus = *f;
  return out;
}

compress::RepoMap repo_map(Context& c, const MapParams& p) {
  auto graph = c.service().graph();
  auto view = c.service().tree().index();
  compress::RepoMapOptions o;
  o.budget = p.budget;
  o.count = counter(p.encoding);
  o.focus = p.focus;
  return compress::repo_map(*view, *graph, o);
}

std::string write_map(const compress::RepoMap& m) {
  JsonWriter w;
  w.begin_object()
      .field("text", m.text)
      .field("tokens", uint64_t(m.tokens))
      .field("files", uint64_t(m.files))
      .field("symbols", uint64_t(m.symbols))
      .end_object();
  return w.take();
}

std::string tool_repo_map(const json& args, Context& c) {
  MapParams p = read_map(Params(args));
  compress::RepoMap m = repo_map(c, p);
  return m.text.empty() ? "no definitions fit " + std::to_string(p.budget) + " tokens" : m.text;
}

std::string tool_expand(const json& args, Context& c) { return expand(c, read_expand(Params(args))); }

void register_methods(Registry& r) {
  r.bind({.name = "context/compact", .params = "{messages: [{role, content, kind?, pinned?, path?}], budget, encoding?}",
          .summary = "The messages made to fit `budget` tokens (exact, and at least 97% of it used when they were larger), with a "
                     "manifest of each change; every elided span is kept and named by a handle in its marker.",
          .needs_index = false},
         read_compact, compact, write_compacted);
  r.bind({.name = "context/expand", .params = "{handle}", .summary = "The bytes a context/compact marker's handle elided: {text, valid_utf8}.",
          .needs_index = false,  // on the pool: a span may be megabytes to decompress
          .tool = McpTool{"expand", "The text a compaction marker ([[elided z...]]) removed, by its handle.",
                          tool_schema({{"handle", {{"type", "string"}}}}, {"handle"}), tool_expand}},
         read_expand, expand, write_expanded);
  r.bind({.name = "context/repoMap", .params = "{budget?, encoding?, focus?: [path or name...]}",
          .summary = "The repository's most important files and their definitions, ranked by PageRank over the import graph and "
                     "led by the focus, filled to `budget` tokens (default 2048): {text, tokens, files, symbols}.",
          .tool = McpTool{"repo_map",
                          "A map of the repository that fits a token budget: its most important files (by imports) and their "
                          "definitions, led by the files or names you focus on.",
                          tool_schema({{"budget", {{"type", "integer"}, {"minimum", 1}, {"description", "tokens (default 2048)"}}},
                                  {"focus", {{"type", "array"}, {"items", {{"type", "string"}}}, {"description", "paths or symbol names"}}}}),
                          tool_repo_map}},
         read_map, repo_map, write_map);
}

const Registration registered(register_methods);

}  // namespace

void keep_elided_under(std::string root) {
  std::lock_guard lock(setting().mu);
  setting().root = std::move(root);
}

compress::ElisionStore& elided_store() { return store(); }

std::string open_elided_store() {
  store();
  std::lock_guard lock(setting().mu);
  return setting().refused;
}
}  // namespace server
