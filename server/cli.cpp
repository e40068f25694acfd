// The `indexer` command line: index, query, outline, stats, export, graph, diff, and the long-running
// watch, serve, lsp and mcp.
//
// A one-shot command answers from PATH's running server when one is there (query), else from the
// snapshot brought up to date with the tree, else from a fresh index. Output is a table for people
// and JSON for programs (--json).
#include <fcntl.h>
#include <unistd.h>
#ifdef INDEXER_HAVE_MIMALLOC
#include <mimalloc.h>
#endif

#include <nlohmann/json.hpp>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "compress/tokens.h"
#include "indexer/confine.h"
#include "indexer/indexer.h"
#include "indexer/live_tree.h"
#include "indexer/resolve_imports.h"
#include "indexer/watch_loop.h"
#include "query/import_graph.h"
#include "query/query.h"
#include "server/diff_methods.h"
#include "server/elided.h"
#include "server/index_methods.h"
#include "server/registry.h"
#include "server/sandbox_policy.h"
#include "server/json_scan.h"
#include "server/service.h"
#include "server/stdio.h"
#include "server/ws_server.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

using server::kVersion;

constexpr const char* kUsage = R"(usage: indexer <command> [options]

commands:
  index   [PATH]            index PATH and print a summary
  query   PATTERN [PATH]    fuzzy symbol search (Class.method, ns::fn, dir/file:Name); asks the
                            server of PATH when one runs (--no-server: never)
            --kind K[,K]      function, method, class, struct, interface, enum, variable, ...
            --lang L[,L]      python, javascript, typescript, tsx, go, rust, c, cpp, java, csharp, ruby, php, bash
            --path GLOB       only paths matching a gitignore-style glob ("src/**/*.ts", "*_test.go")
            --limit N         at most N results (default 50)
            --json            one JSON array
  outline FILE [--json] [--imports]
                            the file's symbols as a tree (and its imports)
  stats   [PATH] [--json]   files, symbols and index memory
  export  [PATH] --format jsonl|ctags [-o FILE]
                            every symbol as JSON Lines, or as a sorted tags file for Vim/Emacs
  graph   imports|importers FILE [PATH] [--json]
                            what FILE imports, or what imports it (FILE may be an external
                            module such as react or external:net/http)
  graph   deps|dependents FILE [PATH] [--depth N] [--json]
                            transitive imports of FILE, or the files it affects, by depth
  graph   path FROM TO [PATH] [--json]
                            a shortest chain of imports from FROM to TO
  graph   cycles [PATH] [--json]
                            import cycles (files that reach each other through imports)
  methods [--json|--markdown]
                            every JSON-RPC method the server answers: params, where it runs,
                            whether it waits for the index, its MCP tool
  diff    OLD NEW [--context N] [--words] [--json]
                            a unified diff of two text files that patch and git apply take
                            (exit 0 identical, 1 different, 2 trouble: binary, unreadable);
                            --words marks changed words [-so-]{+so+} (for reading, not patch)
  call    METHOD [PARAMS] [PATH]
                            any method by name with JSON params ('{"pattern":"Foo"}'): asked of
                            PATH's running server when one runs, else answered here
  map     [PATH] [--tokens N] [--focus PATH|NAME]... [--encoding E] [--json]
                            the repository's most important files and their definitions, ranked
                            over the import graph, led by the focus, filled to N tokens (2048)
  compact FILE|- [PATH] --tokens N [--encoding E]
                            a conversation (JSON messages) made to fit N tokens; what it elides
                            stays retrievable: from PATH's running server, by `indexer expand`
  expand  HANDLE [PATH]     the text a compaction marker's handle elided (asks PATH's server)
                            compact and expand keep what is elided in PATH/.indexer/elided/
                            (a server too), so a handle outlives the process;
                            --no-persist-elided keeps it in memory only
  serve   [PATH] [--listen ADDRESS:PORT|unix:SOCKET] [--token T] [--allow-origin ORIGIN] [--policy P]
                            serve the live index over WebSocket JSON-RPC (LSP on /lsp) and HTTP (/health,
                            /stats, /metrics, POST /rpc); loopback and a free port by default;
                            unix:SOCKET, a Unix socket of mode 0600 (no token needed);
                            query and other local clients find it through PATH/.indexer/server.json
                            [--exec-workers N] [--exec-queue-limit N] [--exec-retention SECONDS]
                            [--exec-policy P]: the execution service (README: "Execution service")
                            [--exec-queue redis://HOST:PORT/N] [--exec-lease SECONDS]: share its
                            queue and results with other servers through Redis
  lsp     [PATH] [--stdio]  a language server on stdin/stdout (LSP 3.17; PATH: else the
                            client's workspace root; --stdio, as editors pass it, changes nothing)
  mcp     [PATH]            a Model Context Protocol server on stdin/stdout, with tools for agents
  tokens  [FILE|-] [--encoding o200k_base|cl100k_base] [--count|--encode|--decode]
                            the tokens of FILE (default: standard input) as tiktoken counts them:
                            the count (default), the ids, or --decode: ids in, the text out
  policy  check FILE | show [POLICY] | explain [--policy POLICY] [--workspace DIR]
            (--path P [--write] | --url U | --command C)
                            validate a sandbox policy (a preset or a JSON file), print it whole,
                            or say whether it allows a path, URL or command line and why
  executor [--policy P] [--workspace DIR]
                            run tasks (fs.read, fs.write, fs.list, cmd.run, test.run, lint.run)
                            for an orchestrator: one JSON object a line on stdin/stdout
  watch   [PATH] [--max-watches N]
                            keep the index of PATH live (inotify) and its snapshot current,
                            printing each re-index, until interrupted

options for every command that indexes:
  --snapshot FILE           where the index is saved (default PATH/.indexer/snapshot); query,
                            stats and export load it and re-index only files changed since
  --no-snapshot             neither read nor write a snapshot
  --max-file-size BYTES     skip larger files (default 4194304)
  --exclude GLOB            also ignore these paths (repeatable; .gitignore syntax)
  --threads N               parser threads (default: one per core)
  --index-minified          index minified files too
)";

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> options;
  bool has(const std::string& k) const { return options.count(k) > 0; }
  std::optional<std::string> get(const std::string& k) const {
    auto it = options.find(k);
    if (it == options.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
  }
};

struct UsageError {
  std::string message;
};

// Flags that take a value; all others are switches. Constants, not vectors of strings: every start
// pays for what static initialisers build.
constexpr std::string_view kValued[] = {"--kind", "--lang", "--path", "--limit", "--format", "-o",
                                        "--max-file-size", "--exclude", "--threads", "--snapshot", "--depth",
                                        "--max-watches", "--listen", "--token", "--allow-origin", "--encoding",
                                        "--tokens", "--focus", "--context", "--policy",
                                        "--exec-workers", "--exec-queue-limit", "--exec-retention", "--exec-policy",
                                        "--exec-queue", "--exec-lease"};
constexpr std::string_view kSwitches[] = {"--json", "--imports", "--index-minified", "--no-snapshot", "--no-server", "--help", "-h", "--version",
                                          "--stdio", "--markdown", "--count", "--encode", "--decode", "--words",
                                          "--no-persist-elided"};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--") {
      for (++i; i < argc; ++i) a.positional.push_back(argv[i]);
      break;
    }
    if (s.size() > 1 && s[0] == '-') {
      std::string key = s, value;
      bool inline_value = false;
      if (auto eq = s.find('='); eq != std::string::npos && s.starts_with("--")) {
        key = s.substr(0, eq);
        value = s.substr(eq + 1);
        inline_value = true;
      }
      if (std::find(std::begin(kValued), std::end(kValued), key) != std::end(kValued)) {
        if (!inline_value) {
          if (i + 1 >= argc) throw UsageError{key + " needs a value"};
          value = argv[++i];
        }
        a.options[key].push_back(value);
      } else if (std::find(std::begin(kSwitches), std::end(kSwitches), key) != std::end(kSwitches) && !inline_value) {
        a.options[key].push_back("");
      } else {
        throw UsageError{"unknown option " + s};
      }
      continue;
    }
    if (a.command.empty()) a.command = s;
    else a.positional.push_back(s);
  }
  return a;
}

uint64_t parse_number(const std::string& flag, const std::string& s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) throw UsageError{flag + " takes a whole number, not '" + s + "'"};
  return v;
}

indexer::Options index_options(const Args& a) {
  indexer::Options o;
  if (auto v = a.get("--max-file-size")) o.max_file_size = parse_number("--max-file-size", *v);
  if (auto v = a.get("--threads")) {
    uint64_t n = parse_number("--threads", *v);
    if (n == 0 || n > 256) throw UsageError{"--threads takes a number from 1 to 256"};
    o.threads = unsigned(n);
  }
  o.index_minified = a.has("--index-minified");
  if (a.has("--exclude")) o.excludes = a.options.at("--exclude");
  return o;
}

// A progress bar on stderr when it is a terminal, shown only once indexing takes a moment.
class ProgressBar {
 public:
  ProgressBar() : tty_(isatty(STDERR_FILENO)), start_(std::chrono::steady_clock::now()) {}
  void operator()(const indexer::Progress& p) {
    if (!tty_) return;
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (elapsed < 0.3 && !shown_) return;
    shown_ = true;
    double frac = p.bytes_total ? double(p.bytes_done) / double(p.bytes_total) : 1.0;
    int width = 30, filled = int(frac * width);
    std::string bar(size_t(filled), '=');
    if (filled < width) bar += '>' + std::string(size_t(width - filled - 1), ' ');
    std::fprintf(stderr, "\r[%s] %3d%% %zu/%zu files  %.1f MB/s ", bar.c_str(), int(frac * 100), p.files_done,
                 p.files_total, elapsed > 0 ? double(p.bytes_done) / 1e6 / elapsed : 0.0);
    std::fflush(stderr);
  }
  ~ProgressBar() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_;
};

struct Indexed {
  std::unique_ptr<query::Index> index;
  indexer::Summary summary;
};

fs::path snapshot_path(const Args& a, const std::string& root) {
  if (auto v = a.get("--snapshot")) return *v;
  return indexer::default_snapshot_path(root);
}

// `fresh`: index everything and write the snapshot (`indexer index`); otherwise load the snapshot
// and refresh what changed. --no-snapshot neither reads nor writes one.
indexer::IndexResult index_here(const Args& a, const std::string& root, bool fresh = false) {
  ProgressBar bar;
  indexer::Options options = index_options(a);
  indexer::IndexResult r;
  std::string warning;
  if (a.has("--no-snapshot")) {
    r = indexer::index_tree(root, options, std::ref(bar));
  } else if (fresh) {
    r = indexer::index_tree(root, options, std::ref(bar));
    if (r.index)
      if (indexer::Status saved = indexer::save_tree(r, options, snapshot_path(a, root)); !saved)
        warning = "could not save the snapshot: " + saved.error();
  } else {
    r = indexer::open_tree(root, options, snapshot_path(a, root), std::ref(bar), warning);
  }
  if (!r.index) throw std::runtime_error(r.error);
  if (!warning.empty()) std::cerr << "indexer: warning: " << warning << '\n';
  if (!r.summary.query_error.empty()) std::cerr << "indexer: warning: " << r.summary.query_error << '\n';
  return r;
}

Indexed build_index(const Args& a, const std::string& root, bool fresh = false) {
  indexer::IndexResult r = index_here(a, root, fresh);
  return {std::move(r.index), r.summary};
}

// The service `indexer serve` runs, over the tree indexed here: a command answers what the server
// would, through the same typed calls (index_methods.h).
struct Local {
  std::unique_ptr<indexer::LiveTree> tree;
  std::unique_ptr<server::Service> service;
  std::unique_ptr<server::ReadyHost> host;
  server::CancelFlag never{false};
  server::Context context() { return {*host, service.get(), never}; }
};

std::unique_ptr<Local> open_local(const Args& a, const std::string& root) {
  auto local = std::make_unique<Local>();
  local->tree = indexer::LiveTree::adopt(root, index_options(a), a.has("--no-snapshot") ? fs::path() : snapshot_path(a, root), index_here(a, root));
  local->service = std::make_unique<server::Service>(*local->tree);
  local->host = std::make_unique<server::ReadyHost>(*local->service);
  return local;
}

// Invalid UTF-8 in names or signatures becomes U+FFFD rather than an exception.
std::string dump(const json& j, int indent = -1) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

std::string root_arg(const Args& a, size_t index) {
  if (a.positional.size() > index) return a.positional[index];
  return ".";
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << '\n';
  }
}

int cmd_index(const Args& a) {
  std::string root = root_arg(a, 0);
  Indexed ix = build_index(a, root, true);
  const auto& s = ix.summary;
  double mb = double(s.bytes_indexed) / 1e6;
  std::printf("indexed %zu files (%.1f MB) in %.2f s: %zu symbols, %zu imports; %.1f MB/s, %.0f files/s\n",
              s.files_indexed, mb, s.seconds, s.symbols, s.imports, s.seconds > 0 ? mb / s.seconds : 0.0,
              s.seconds > 0 ? double(s.files_indexed) / s.seconds : 0.0);
  std::printf("(index built in %.2f s after parsing)\n", s.build_seconds);
  if (s.parse_error_files) std::printf("%zu files had syntax errors; indexed what the parser recovered\n", s.parse_error_files);
  if (s.generated_files) std::printf("%zu files are marked as generated\n", s.generated_files);
  if (s.dropped_match_files)
    std::printf("%zu files hit the matcher's step limit or tree-sitter's match limit; some of their definitions may be missing\n", s.dropped_match_files);
  if (size_t total = s.skipped_total()) {
    std::string parts;
    for (size_t r = 0; r < s.skipped.size(); ++r) {
      if (!s.skipped[r]) continue;
      if (!parts.empty()) parts += ", ";
      parts += std::to_string(s.skipped[r]) + " " + std::string(indexer::skip_reason_name(indexer::SkipReason(r)));
    }
    std::printf("skipped %zu: %s\n", total, parts.c_str());
  }
  return 0;
}

// "--kind function,class --kind enum": the names, as the server reads "function,class,enum".
std::vector<std::string> comma_separated(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values)
    for (size_t start = 0; start <= v.size();) {
      size_t comma = std::min(v.find(',', start), v.size());
      if (comma > start) out.push_back(v.substr(start, comma - start));
      start = comma + 1;
    }
  return out;
}

server::index::SearchParams search_params(const Args& a, const std::string& pattern) {
  server::index::SearchParams p;
  p.pattern = pattern;
  p.path = a.get("--path").value_or("");
  if (auto v = a.get("--limit")) {
    p.limit = parse_number("--limit", *v);
    if (p.limit == 0) throw UsageError{"--limit takes a number from 1 up"};
  }
  try {  // the server reads the same names
    if (a.has("--kind")) p.kinds = server::index::kinds_from(comma_separated(a.options.at("--kind")));
    if (a.has("--lang")) p.languages = server::index::languages_from(comma_separated(a.options.at("--lang")));
  } catch (const server::RpcError& e) {
    throw UsageError{e.message};
  }
  return p;
}

// A hit's row in the table: kind, qualified name, path:line.
std::vector<std::string> hit_row(std::string kind, const std::string& name, const std::string& container,
                                 std::string_view language, const std::string& path, uint64_t line) {
  std::string_view sep = grammars::spec(grammars::language_from_name(language)).separator;
  return {std::move(kind), container.empty() ? name : container + std::string(sep) + name, path + ":" + std::to_string(line)};
}

int print_rows(const std::vector<std::vector<std::string>>& rows, const std::string& pattern) {
  if (rows.empty()) {
    std::cerr << "no symbol matches '" << pattern << "'\n";
    return 1;
  }
  print_table(rows);
  return 0;
}

// The same from the server's answer as it came (json_scan.h: no tree built); its bytes are what
// the local path writes for --json (the method's own writer, index_methods.h). False
// when a hit lacks a field, which a server of this version always sends.
bool print_served_hits(const Args& a, std::string_view hits, const std::string& pattern, int& rc) {
  if (a.has("--json")) {
    std::cout << hits << '\n';
    return rc = 0, true;
  }
  namespace scan = server::json_scan;
  std::vector<std::vector<std::string>> rows;
  scan::Items items(hits);
  for (std::string_view hit; items.next(hit);) {
    std::optional<std::string> kind, name, container, language, path;
    std::optional<uint64_t> line;
    scan::Items fields(hit);
    for (std::string_view key, value; fields.next(key, value);) {
      if (key == "line") line = scan::unsigned_value(value);
      else if (auto* field = key == "kind" ? &kind : key == "name" ? &name : key == "container" ? &container : key == "language" ? &language : key == "path" ? &path : nullptr)
        *field = scan::string_value(value);
    }
    if (!kind || !name || !container || !language || !path || !line) return false;
    rows.push_back(hit_row(std::move(*kind), *name, *container, *language, *path, *line));
  }
  rc = print_rows(rows, pattern);
  return true;
}

// The answer of the server running for this root (the text of its hits, a JSON array), if there
// is one and the query asks nothing of indexing that the server might do otherwise. Read without
// nlohmann: a process that starts for one request spends most of its time starting (README).
std::optional<std::string> query_server(const Args& a, const std::string& root, const server::index::SearchParams& req) {
  for (const char* own : {"--no-server", "--no-snapshot", "--snapshot", "--exclude", "--max-file-size", "--index-minified"})
    if (a.has(own)) return std::nullopt;
  std::error_code ec;
  auto found = server::discover(fs::absolute(root, ec).lexically_normal());
  if (!found) return std::nullopt;
  std::string request = R"({"jsonrpc":"2.0","id":1,"method":"symbols/search","params":{"pattern":)";
  server::append_json_string(request, req.pattern);
  request += ",\"limit\":" + std::to_string(req.limit);
  auto names = [&](const char* flag, const char* param) {
    if (!a.has(flag)) return;
    request += std::string(",\"") + param + "\":[";
    for (const auto& v : a.options.at(flag)) {
      if (request.back() != '[') request += ',';
      server::append_json_string(request, v);
    }
    request += ']';
  };
  names("--kind", "kind");
  names("--lang", "lang");
  if (!req.path.empty()) request += ",\"path\":", server::append_json_string(request, req.path);
  request += "}}";
  auto body = server::post_rpc(*found, request);
  if (!body || !server::json_scan::whole(*body)) return std::nullopt;
  std::string_view result = server::json_scan::member(*body, "result");
  if (result.empty() || result[0] != '[') return std::nullopt;
  return std::string(result);
}

int cmd_query(const Args& a) {
  if (a.positional.empty()) throw UsageError{"query needs a PATTERN"};
  std::string pattern = a.positional[0];
  server::index::SearchParams params = search_params(a, pattern);
  std::string root = root_arg(a, 1);
  if (auto served = query_server(a, root, params))
    if (int rc; print_served_hits(a, *served, pattern, rc)) return rc;
  auto local = open_local(a, root);
  server::Context c = local->context();
  server::index::Hits r = server::index::search(c, params);
  if (a.has("--json")) return std::cout << server::index::write_hits(r) << '\n', 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : r.hits) {
    query::Symbol s = r.view->symbol(h.symbol);
    rows.push_back(hit_row(std::string(query::kind_name(s.kind)), std::string(s.name), std::string(s.container), grammars::spec(s.language).name,
                           std::string(s.path), s.range.start.line + 1));
  }
  return print_rows(rows, pattern);
}

int cmd_outline(const Args& a) {
  if (a.positional.empty()) throw UsageError{"outline needs a FILE"};
  fs::path file = a.positional[0];
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) throw std::runtime_error(file.string() + ": no such file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file.string() + ": cannot read the file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto lang = grammars::detect_language(file.string(), std::string_view(text).substr(0, text.find('\n')));
  if (lang == query::Language::Unknown) throw std::runtime_error(file.string() + ": no grammar for this file");
  indexer::Extraction ex = indexer::extract(lang, text);
  if (!ex.error.empty()) throw std::runtime_error(ex.error);
  // Build a one-file index so symbols come back in the same shape as everywhere else.
  query::IndexBuilder builder;
  query::FileInput fi;
  std::string path = file.string();
  fi.path = path;
  fi.language = lang;
  fi.size = text.size();
  fi.symbols = ex.symbols;
  fi.imports = ex.imports;
  builder.add(fi);
  std::shared_ptr<const query::Index> index = builder.finish();
  server::index::Outline tree{index, server::index::outline_of(*index, 0)};
  auto imports = index->file_imports(0);
  if (a.has("--json")) {
    std::string symbols = server::index::write_outline(tree);
    if (!a.has("--imports")) return std::cout << symbols << '\n', 0;
    json list = json::array();
    for (const auto& i : imports) list.push_back({{"specifier", i.specifier}, {"kind", i.kind}, {"line", i.line + 1}});
    std::cout << "{\"symbols\":" << symbols << ",\"imports\":" << dump(list) << "}\n";
    return 0;
  }
  server::index::outline_lines(tree.nodes, [](const std::string& line) { return std::printf("%s\n", line.c_str()) >= 0; });
  if (a.has("--imports"))
    for (const auto& i : imports)
      std::printf("import %s %s  :%u\n", std::string(i.kind).c_str(), std::string(i.specifier).c_str(), i.line + 1);
  return 0;
}

int cmd_stats(const Args& a) {
  Indexed ix = build_index(a, root_arg(a, 0));
  const auto& index = *ix.index;
  std::map<std::string, size_t> by_language, by_kind;
  for (uint32_t f = 0; f < index.file_count(); ++f) ++by_language[std::string(grammars::spec(index.file(f).language).name)];
  for (uint32_t s = 0; s < index.symbol_count(); ++s) ++by_kind[std::string(query::kind_name(index.symbol(s).kind))];
  auto mem = index.memory();
  double per_symbol = index.symbol_count() ? double(mem.total() - mem.signatures) / double(index.symbol_count()) : 0;
  if (a.has("--json")) {
    json j{{"files", index.file_count()},
           {"symbols", index.symbol_count()},
           {"names", index.name_count()},
           {"files_by_language", by_language},
           {"symbols_by_kind", by_kind},
           {"memory", {{"records", mem.records}, {"names", mem.names}, {"postings", mem.postings},
                       {"strings", mem.strings}, {"signatures", mem.signatures}, {"total", mem.total()}}},
           {"bytes_per_symbol_without_signatures", per_symbol},
           {"index_seconds", ix.summary.seconds}};
    std::cout << dump(j, 2) << '\n';
    return 0;
  }
  std::printf("%zu files, %zu symbols, %zu distinct names\n", index.file_count(), index.symbol_count(), index.name_count());
  std::printf("files by language:");
  for (auto& [k, v] : by_language) std::printf(" %s %zu", k.c_str(), v);
  std::printf("\nsymbols by kind:");
  for (auto& [k, v] : by_kind) std::printf(" %s %zu", k.c_str(), v);
  std::printf("\nindex memory: %.1f MB (records %.1f, names %.1f, postings %.1f, strings %.1f, signatures %.1f)\n",
              double(mem.total()) / 1e6, double(mem.records) / 1e6, double(mem.names) / 1e6, double(mem.postings) / 1e6,
              double(mem.strings) / 1e6, double(mem.signatures) / 1e6);
  std::printf("%.1f bytes per symbol without signatures, %.1f with\n", per_symbol,
              index.symbol_count() ? double(mem.total()) / double(index.symbol_count()) : 0.0);
  return 0;
}

// ctags' kind letters, as Vim and readtags show them.
char ctags_letter(query::Kind k) {
  using K = query::Kind;
  switch (k) {
    case K::Class: return 'c';
    case K::Struct: return 's';
    case K::Interface: return 'i';
    case K::Enum: return 'g';
    case K::EnumMember: return 'e';
    case K::Function: return 'f';
    case K::Method: case K::Constructor: return 'm';
    case K::Field: case K::Property: return 'm';
    case K::Variable: return 'v';
    case K::Constant: return 'C';
    case K::Macro: return 'd';
    case K::TypeAlias: return 't';
    case K::Namespace: return 'n';
    case K::Module: case K::Package: return 'p';
    default: return 'v';
  }
}

// The line as a search pattern: /^text$/ with / and \ escaped, as ctags writes it.
std::string ctags_pattern(const query::Symbol& s, const std::string& line) {
  std::string p = "/^";
  for (char c : line) {
    if (c == '\\' || c == '/') p += '\\';
    if (c == '\r') continue;
    p += c;
  }
  return p + "$/";
}

// Output went somewhere that refused it (a full disk, a closed pipe): say so, exit 1.
int finish_output(std::ostream& out, const std::string& where) {
  out.flush();
  if (!out) {
    std::cerr << "indexer: could not write " << where << '\n';
    return 1;
  }
  return 0;
}

int cmd_export(const Args& a) {
  std::string format = a.get("--format").value_or("jsonl");
  if (format != "jsonl" && format != "ctags") throw UsageError{"--format is jsonl or ctags, not '" + format + "'"};
  std::string root = root_arg(a, 0);
  Indexed ix = build_index(a, root);
  const auto& index = *ix.index;
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (auto o = a.get("-o")) {
    file.open(*o, std::ios::binary);
    if (!file) throw std::runtime_error(*o + ": cannot write");
    out = &file;
  }
  const std::string where = a.get("-o").value_or("standard output");
  if (format == "jsonl") {
    for (uint32_t id = 0; id < index.symbol_count(); ++id) *out << server::index::write_symbol(index.symbol(id)) << '\n';
    return finish_output(*out, where);
  }
  // Tag paths are relative to the tags file's directory (the current one for standard output),
  // as Vim and Emacs resolve them.
  std::error_code ec;
  fs::path tags_dir = a.get("-o") ? fs::absolute(fs::path(*a.get("-o")), ec).parent_path() : fs::current_path(ec);
  fs::path abs_root = fs::absolute(root, ec);
  // Tags need each symbol's source line; read each file once, in path order.
  std::vector<std::string> lines;
  std::vector<std::string> tags;
  indexer::confine::Opened root_dir = indexer::confine::open_root(root);
  for (uint32_t f = 0; f < index.file_count(); ++f) {
    auto info = index.file(f);
    lines.clear();
    // Under the one rule for paths (indexer/confine.h), whatever the snapshot says.
    indexer::confine::Opened opened = indexer::confine::open_beneath(root_dir.fd.get(), info.path, O_RDONLY | O_NONBLOCK);
    if (FILE* in = opened ? ::fdopen(opened.fd.get(), "rb") : nullptr) {
      opened.fd.release();  // fclose() closes it
      char* l = nullptr;
      size_t cap = 0;
      for (ssize_t n; (n = ::getline(&l, &cap, in)) >= 0;) lines.emplace_back(l, size_t(n) - (n > 0 && l[n - 1] == '\n'));
      std::free(l);
      std::fclose(in);
    }
    if (info.path.find_first_of("\t\r\n") != std::string_view::npos) continue;  // would break the line format
    std::string tag_path = (abs_root / std::string(info.path)).lexically_relative(tags_dir).string();
    if (tag_path.empty()) tag_path = (abs_root / std::string(info.path)).string();
    auto range = index.file_symbols(f);
    for (uint32_t id = range.begin; id < range.end; ++id) {
      auto s = index.symbol(id);
      if (s.name.find_first_of("\t\r\n") != std::string_view::npos) continue;
      // The name's line: a definition may start at a decorator or annotation line shared by many.
      uint32_t at = s.selection.start.line;
      std::string line = at < lines.size() ? lines[at] : std::string();
      std::string tag = std::string(s.name) + '\t' + tag_path + '\t' + ctags_pattern(s, line) + ";\"\t" +
                        ctags_letter(s.kind) + "\tline:" + std::to_string(at + 1);
      if (!s.container.empty()) tag += "\tscope:" + std::string(s.container);
      tags.push_back(std::move(tag));
    }
  }
  std::sort(tags.begin(), tags.end());
  *out << "!_TAG_FILE_FORMAT\t2\t/extended format/\n"
       << "!_TAG_FILE_SORTED\t1\t/0=unsorted, 1=sorted, 2=foldcase/\n"
       << "!_TAG_PROGRAM_NAME\tindexer\t//\n"
       << "!_TAG_PROGRAM_VERSION\t" << kVersion << "\t//\n";
  for (const auto& t : tags) *out << t << '\n';
  return finish_output(*out, where);
}

// ---- graph: the import graph, through the graph/* methods ----------------------------------------

// A node named on the command line: a file as a path from here or from the root, or an external
// module by name ("react", "external:react"); the method resolves it as the server would.
std::string graph_arg(const std::string& root, const std::string& arg) {
  std::error_code ec;
  if (arg.starts_with("external:")) return arg;
  if (fs::is_regular_file(arg, ec)) {
    fs::path rel = fs::absolute(arg, ec).lexically_normal().lexically_relative(fs::absolute(root, ec).lexically_normal());
    if (!rel.empty() && *rel.begin() != "..") return rel.generic_string();
  }
  return fs::path(arg).lexically_normal().generic_string();
}

std::vector<std::string> node_names(const query::ImportGraph& g, const std::vector<query::ImportGraph::NodeId>& nodes) {
  std::vector<std::string> out;
  for (auto n : nodes) out.emplace_back(g.name(n));
  return out;
}

int cmd_graph(const Args& a) {
  namespace ix = server::index;
  const std::string sub = a.positional.empty() ? "" : a.positional[0];
  const bool as_json = a.has("--json");
  auto need = [&](size_t n, const char* what) {
    if (a.positional.size() < n + 1) throw UsageError{"graph " + sub + " needs " + what};
  };
  uint32_t depth = query::ImportGraph::kUnlimited;
  if (auto d = a.get("--depth")) {
    uint64_t v = parse_number("--depth", *d);
    if (v == 0) throw UsageError{"--depth takes a number from 1 up"};
    depth = uint32_t(std::min<uint64_t>(v, depth));
  }
  size_t root_at = sub == "path" ? 3 : sub == "cycles" ? 1 : 2;
  if (sub == "imports" || sub == "importers" || sub == "deps" || sub == "dependents") need(1, "a FILE");
  else if (sub == "path") need(2, "FROM and TO");
  else if (sub != "cycles")
    throw UsageError{sub.empty() ? "graph needs imports, importers, deps, dependents, path or cycles"
                                 : "unknown graph command '" + sub + "' (imports, importers, deps, dependents, path, cycles)"};
  std::string root = root_arg(a, root_at);
  auto local = open_local(a, root);
  server::Context c = local->context();
  for (const auto& w : local->service->graph_warnings()) std::cerr << "indexer: warning: " << w << '\n';
  auto arg = [&](size_t i) { return graph_arg(root, a.positional[i]); };
  try {
    if (sub == "imports" || sub == "importers") {
      bool out = sub == "imports";
      ix::Edges r = out ? ix::imports(c, {arg(1)}) : ix::importers(c, {arg(1)});
      if (as_json) return std::cout << ix::write_edges(r) << '\n', 0;
      std::vector<std::vector<std::string>> rows;
      for (const auto& e : r.edges) {
        if (out) rows.push_back({ix::node_label(*r.graph, e.to), "line " + std::to_string(e.line + 1)});
        else rows.push_back({std::string(r.graph->name(e.from)) + ":" + std::to_string(e.line + 1)});
      }
      if (rows.empty()) std::cerr << ix::node_label(*r.graph, r.node) << (out ? " imports nothing\n" : " is imported by no file\n");
      else print_table(rows);
      return 0;
    }
    if (sub == "deps" || sub == "dependents") {
      ix::Reach r = sub == "deps" ? ix::deps(c, {arg(1), depth}) : ix::dependents(c, {arg(1), depth});
      if (as_json) return std::cout << ix::write_reach(r) << '\n', 0;
      std::vector<std::vector<std::string>> rows;
      for (const auto& n : r.nodes) rows.push_back({std::to_string(n.depth), ix::node_label(*r.graph, n.node)});
      if (rows.empty()) std::cerr << ix::node_label(*r.graph, r.node) << (r.forward ? " depends on nothing\n" : " affects no other file\n");
      else print_table(rows);
      return 0;
    }
    if (sub == "path") {
      ix::Chain r = ix::path(c, {arg(1), arg(2)});
      if (as_json) std::cout << ix::write_chain(r) << '\n';
      else if (r.nodes)
        for (size_t i = 0; i < r.nodes->size(); ++i) std::cout << (i ? "  -> " : "") << ix::node_label(*r.graph, (*r.nodes)[i]) << '\n';
      else
        std::cerr << "no import path from " << ix::node_label(*r.graph, r.from) << " to " << ix::node_label(*r.graph, r.to) << '\n';
      return r.nodes ? 0 : 1;
    }
    ix::Cycles r = ix::cycles(c, {});
    if (as_json) return std::cout << ix::write_cycles(r) << '\n', 0;
    if (r.cycles.empty()) std::cout << "no import cycles\n";
    for (size_t i = 0; i < r.cycles.size(); ++i) {
      std::string loop;
      for (const auto& n : node_names(*r.graph, r.examples[i])) loop += (loop.empty() ? "" : " -> ") + n;
      std::cout << "cycle " << i + 1 << ": " << r.cycles[i].size() << (r.cycles[i].size() == 1 ? " file" : " files") << ", e.g. " << loop << '\n';
      for (const auto& n : node_names(*r.graph, r.cycles[i])) std::cout << "  " << n << '\n';
    }
    return 0;
  } catch (const server::RpcError& e) {
    throw std::runtime_error(e.message + " (root " + root + ")");
  }
}

// ---- methods and call: the registry (server/registry.h) as it is ----------------------------------

const char* runs_name(server::Runs r) { return r == server::Runs::Inline ? "inline" : r == server::Runs::Pool ? "pool" : "executor"; }

int cmd_methods(const Args& a) {
  const auto& r = server::registry();
  if (a.has("--markdown")) return std::cout << r.markdown(), 0;
  if (a.has("--json")) {
    json list = json::array();
    for (const auto& m : r.methods()) {
      json j = {{"name", m.name}, {"params", m.params}, {"summary", m.summary}, {"runs", runs_name(m.runs)},
                {"needs_index", m.needs_index}, {"websocket_only", m.websocket_only}};
      if (m.tool) j["tool"] = {{"name", m.tool->name}, {"description", m.tool->description}, {"inputSchema", json::parse(m.tool->input_schema)}};
      list.push_back(std::move(j));
    }
    return std::cout << dump(list) << '\n', 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : r.methods())
    rows.push_back({m.name, m.params, runs_name(m.runs), m.needs_index ? "" : "no index needed",
                    m.websocket_only ? "websocket" : m.tool ? "mcp: " + m.tool->name : ""});
  print_table(rows);
  return 0;
}

// A method's answer (JSON text) from PATH's running server when there is one and the command asks
// nothing of indexing the server might do otherwise, else from the same method run here. Prints
// the error and returns nullopt when the method refuses.
std::optional<std::string> answer(const Args& a, const std::string& method, const json& params, const std::string& root) {
  const server::Method* m = server::registry().find(method);
  auto fail = [](int code, const std::string& message) {
    std::cerr << "indexer: " << message << " (" << code << ")\n";
    return std::nullopt;
  };
  bool own = a.has("--no-server") || a.has("--no-snapshot") || a.has("--snapshot") || a.has("--exclude") || a.has("--max-file-size") ||
             a.has("--index-minified");
  std::error_code ec;
  if (auto found = own ? std::nullopt : server::discover(fs::absolute(root, ec).lexically_normal())) {
    if (auto body = server::post_rpc(*found, json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}}.dump(), 60000)) {
      json response = json::parse(*body, nullptr, false);
      if (response.contains("error")) return fail(response["error"].value("code", 0), response["error"].value("message", std::string()));
      if (response.contains("result")) return dump(response["result"]);
    }
  }
  // A method that needs no index is answered without indexing anything.
  struct NoIndex : server::Host {
    server::Service* index_now() override { return nullptr; }
    server::Service& index_ready(const server::CancelFlag&) override { throw server::RpcError{server::kServerNotReady, "no index"}; }
  } no_index;
  std::unique_ptr<Local> local = m && m->needs_index ? open_local(a, root) : nullptr;
  std::unique_ptr<server::ReadyHost> ready = local ? std::make_unique<server::ReadyHost>(*local->service) : nullptr;
  server::Host& host = ready ? static_cast<server::Host&>(*ready) : no_index;
  server::CancelFlag never{false};
  // context/compact and context/expand here keep their spans where the next run finds them.
  if (!a.has("--no-persist-elided")) server::keep_elided_under(fs::absolute(root, ec).lexically_normal().string());
  try {
    server::Result r = server::registry().call(method, params, host, never);
    if (const auto* raw = std::get_if<server::RawJson>(&r)) return raw->text;
    return dump(std::get<json>(r));
  } catch (const server::RpcError& e) {
    return fail(e.code, e.message);
  }
}

int cmd_call(const Args& a) {
  if (a.positional.empty()) throw UsageError{"call needs a METHOD (see indexer methods)"};
  const std::string& method = a.positional[0];
  const server::Method* m = server::registry().find(method);
  if (!m) throw UsageError{"no method '" + method + "' (see indexer methods)"};
  if (m->websocket_only) throw UsageError{method + " is served over a WebSocket only"};
  json params = json::object();
  if (a.positional.size() > 1) {
    params = json::parse(a.positional[1], nullptr, false);
    if (params.is_discarded() || !params.is_object()) throw UsageError{"PARAMS is a JSON object, such as '{\"pattern\": \"Foo\"}'"};
  }
  auto text = answer(a, method, params, root_arg(a, 2));
  if (!text) return 1;
  std::cout << *text << '\n';
  return 0;
}

// ---- map, compact, expand: compress/ through the context/* methods -------------------------------

int cmd_map(const Args& a) {
  json params = json::object();
  if (auto v = a.get("--tokens")) params["budget"] = parse_number("--tokens", *v);
  if (auto v = a.get("--encoding")) params["encoding"] = *v;
  if (a.has("--focus")) params["focus"] = a.options.at("--focus");
  auto text = answer(a, "context/repoMap", params, root_arg(a, 0));
  if (!text) return 1;
  if (a.has("--json")) return std::cout << *text << '\n', 0;
  json map = json::parse(*text);
  std::cout << map["text"].get<std::string>();
  std::cerr << "indexer: " << map["tokens"] << " tokens, " << map["files"] << " files, " << map["symbols"] << " definitions\n";
  return 0;
}

int cmd_compact(const Args& a) {
  if (a.positional.empty()) throw UsageError{"compact needs a FILE of messages (JSON: [{role, content, ...}] or {messages: [...]}), or -"};
  std::string input;
  if (a.positional[0] == "-") {
    input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(a.positional[0], std::ios::binary);
    if (!in) throw std::runtime_error(a.positional[0] + ": cannot read the file");
    input.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  json doc = json::parse(input, nullptr, false);
  if (doc.is_discarded()) throw std::runtime_error(a.positional[0] + ": not JSON");
  json params = doc.is_array() ? json{{"messages", doc}} : doc;
  if (!params.is_object()) throw std::runtime_error(a.positional[0] + ": neither a list of messages nor {messages: [...]}");
  if (auto v = a.get("--tokens")) params["budget"] = parse_number("--tokens", *v);
  if (auto v = a.get("--encoding")) params["encoding"] = *v;
  auto text = answer(a, "context/compact", params, root_arg(a, 1));
  if (!text) return 1;
  std::cout << *text << '\n';
  return 0;
}

int cmd_expand(const Args& a) {
  if (a.positional.empty()) throw UsageError{"expand needs a HANDLE (z and 32 hex digits, from a compaction's marker)"};
  auto text = answer(a, "context/expand", {{"handle", a.positional[0]}}, root_arg(a, 1));
  if (!text) return 1;
  std::cout << json::parse(*text)["text"].get<std::string>();
  return 0;
}

// ---- tokens: compress/tokens.h on a file or standard input ----------------------------------------

int cmd_tokens(const Args& a) {
  namespace tk = compress::tokens;
  auto encoding = tk::encoding_named(a.get("--encoding").value_or("o200k_base"));
  if (!encoding) throw UsageError{"--encoding is o200k_base or cl100k_base"};
  if (a.has("--count") + a.has("--encode") + a.has("--decode") > 1) throw UsageError{"tokens takes one of --count, --encode, --decode"};
  if (a.positional.size() > 1) throw UsageError{"tokens reads one FILE, or - for standard input"};
  std::string path = a.positional.empty() ? "-" : a.positional[0];
  std::ostringstream read;
  if (path == "-") {
    read << std::cin.rdbuf();
  } else {
    std::error_code ec;
    if (fs::is_directory(path, ec)) throw std::runtime_error(path + " is a directory; tokens reads a file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    read << in.rdbuf();
    if (in.bad()) throw std::runtime_error("cannot read " + path);
  }
  std::string input = std::move(read).str();
  const tk::Tokenizer& t = tk::tokenizer(*encoding);
  if (a.has("--decode")) {
    // Ids separated by white space or commas, brackets allowed: what --encode and JSON print.
    std::vector<uint32_t> ids;
    for (size_t i = 0; i < input.size();) {
      char c = input[i];
      if (std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '[' || c == ']') {
        ++i;
        continue;
      }
      uint32_t id = 0;
      auto [end, ec] = std::from_chars(input.data() + i, input.data() + input.size(), id);
      if (ec != std::errc() || end == input.data() + i)
        throw std::runtime_error(path + ": byte " + std::to_string(i) + ": expected a token id");
      ids.push_back(id);
      i = static_cast<size_t>(end - input.data());
    }
    auto decoded = t.decode(ids);
    if (decoded.unknown) throw std::runtime_error("token id " + std::to_string(*decoded.unknown) + " is not in " + tk::name_of(*encoding));
    std::cout << decoded.bytes;
    return 0;
  }
  if (!a.has("--encode")) return std::cout << t.count(input) << '\n', 0;
  std::string out;
  char buf[16];
  for (uint32_t id : t.encode(input)) {
    if (!out.empty()) out += ' ';
    out.append(buf, static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, id).ptr - buf));
  }
  std::cout << out << '\n';
  return 0;
}

// A unified diff's -/+ lines with the changed words marked [-...-] and {+...+}, as git's
// --word-diff=plain marks them; the line numbers come from the @@ headers.
std::string mark_words(const compress::Diff& d) {
  std::map<uint32_t, const std::vector<compress::ByteRange>*> old_ranges, new_ranges;
  for (const auto& h : d.hunks)
    for (const auto& w : h.words) old_ranges[w.old_line] = &w.old_ranges, new_ranges[w.new_line] = &w.new_ranges;
  std::string out;
  uint32_t old_line = 0, new_line = 0;
  for (size_t start = 0; start < d.unified.size();) {
    size_t end = std::min(d.unified.find('\n', start), d.unified.size() - 1) + 1;
    std::string_view line(d.unified.data() + start, end - start);
    start = end;
    const std::vector<compress::ByteRange>* ranges = nullptr;
    if (line.starts_with("@@ ")) {
      unsigned o = 0, n = 0;
      std::sscanf(std::string(line).c_str(), "@@ -%u%*[^+]+%u", &o, &n);
      old_line = o, new_line = n;
    } else if (line.starts_with("---") || line.starts_with("+++") || line.starts_with("\\")) {
    } else if (line[0] == ' ') {
      ++old_line, ++new_line;
    } else if (line[0] == '-') {
      if (auto it = old_ranges.find(old_line++); it != old_ranges.end()) ranges = it->second;
    } else if (line[0] == '+') {
      if (auto it = new_ranges.find(new_line++); it != new_ranges.end()) ranges = it->second;
    }
    if (!ranges) {
      out += line;
      continue;
    }
    const char* open = line[0] == '-' ? "[-" : "{+";
    const char* close = line[0] == '-' ? "-]" : "+}";
    out += line[0];
    size_t at = 1;
    for (const auto& r : *ranges) {
      out += line.substr(at, 1 + r.begin - at), out += open, out += line.substr(1 + r.begin, r.end - r.begin), out += close;
      at = 1 + r.end;
    }
    out += line.substr(at);
  }
  return out;
}

// `indexer diff OLD NEW`: exit status as diff(1)'s: 0 identical, 1 different, 2 trouble.
int cmd_diff(const Args& a) {
  if (a.positional.size() != 2) throw UsageError{"diff needs OLD and NEW"};
  std::string texts[2];
  for (int i = 0; i < 2; ++i) {
    const std::string& path = a.positional[size_t(i)];
    std::error_code ec;
    std::ifstream f(path, std::ios::binary);
    if (fs::is_directory(path, ec) || !f) {
      std::cerr << "indexer: " << path << ": " << (fs::is_directory(path, ec) ? "a directory; diff compares two files" : std::strerror(errno)) << '\n';
      return 2;
    }
    // One read of the whole file (a character iterator took a third of the time); a pipe has
    // no size and is streamed.
    f.seekg(0, std::ios::end);
    if (std::streamoff size = f ? std::streamoff(f.tellg()) : -1; size >= 0) {
      texts[i].resize(size_t(size));
      f.seekg(0).read(texts[i].data(), size);
    } else {
      f.clear();
      std::ostringstream all;
      all << f.rdbuf();
      texts[i] = std::move(all).str();
    }
    if (f.bad()) {
      std::cerr << "indexer: " << path << ": " << std::strerror(errno) << '\n';
      return 2;
    }
  }
  compress::DiffOptions o;
  if (auto v = a.get("--context")) o.context = uint32_t(std::min<uint64_t>(parse_number("--context", *v), 1000000));
  o.words = a.has("--words");
  o.old_name = a.positional[0];
  o.new_name = a.positional[1];
  auto r = compress::diff_text(texts[0], texts[1], o);
  if (auto* refusal = std::get_if<compress::DiffRefusal>(&r)) {
    std::cerr << "indexer: " << a.positional[refusal->old_side ? 0 : 1] << ": " << refusal->message << '\n';
    return 2;
  }
  const compress::Diff& d = std::get<compress::Diff>(r);
  if (a.has("--json")) std::cout << server::diff::write_text(d) << '\n';
  else std::cout << (o.words ? mark_words(d) : d.unified);
  if (!std::cout.flush()) return std::cerr << "indexer: could not write standard output\n", 2;  // main checks only after status 0
  return d.identical ? 0 : 1;
}

}  // namespace

std::atomic<bool> g_stop{false};

void print_changes(const indexer::LiveTree::Report& r) {
  using What = indexer::LiveTree::Change::What;
  constexpr size_t kShown = 20;
  size_t indexed = 0, removed = 0, skipped = 0;
  for (size_t i = 0; i < r.changes.size(); ++i) {
    const auto& c = r.changes[i];
    indexed += c.what == What::Indexed, removed += c.what == What::Removed, skipped += c.what == What::Skipped;
    if (i >= kShown && r.changes.size() > kShown + 1) continue;
    if (c.what == What::Indexed) std::printf("indexed %s: %zu symbols", c.path.c_str(), c.symbols);
    else if (c.what == What::Removed) std::printf("removed %s", c.path.c_str());
    else std::printf("skipped %s: %s", c.path.c_str(), std::string(indexer::skip_reason_name(c.reason)).c_str());
    std::printf(r.changes.size() == 1 ? ", %.1f ms\n" : "\n", r.milliseconds);
  }
  if (r.changes.size() > 1)
    std::printf("%s%zu files in %.1f ms: %zu indexed, %zu removed, %zu skipped\n", r.rescanned ? "rescan: " : "",
                r.changes.size(), r.milliseconds, indexed, removed, skipped);
  std::fflush(stdout);
}

int cmd_watch(const Args& a) {
  if (a.has("--no-snapshot")) throw UsageError{"watch keeps the snapshot current; --no-snapshot does not apply"};
  std::string root = root_arg(a, 0);
  indexer::WatchLoop::Settings settings;
  if (auto v = a.get("--max-watches")) settings.max_watches = parse_number("--max-watches", *v);
  indexer::Options options = index_options(a);
  std::string warning;
  std::unique_ptr<indexer::LiveTree> tree;
  {
    ProgressBar bar;
    auto opened = indexer::LiveTree::open(root, options, snapshot_path(a, root), std::ref(bar), warning);
    if (!opened) throw std::runtime_error(opened.error());
    tree = std::move(*opened);
  }
  if (!warning.empty()) std::cerr << "indexer: warning: " << warning << '\n';

  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = true; };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::mutex out_mu;  // the loop's and the saver's lines do not interleave
  indexer::WatchLoop::Callbacks callbacks;
  callbacks.changed = [&](const indexer::LiveTree::Report& r) {
    std::lock_guard lock(out_mu);
    print_changes(r);
  };
  callbacks.warning = [&](const std::string& w) {
    std::lock_guard lock(out_mu);
    std::cerr << "indexer: warning: " << w << '\n';
  };
  callbacks.saved = [&](double ms) {
    std::lock_guard lock(out_mu);
    std::printf("snapshot saved in %.0f ms\n", ms);
    std::fflush(stdout);
  };
  indexer::WatchLoop loop(*tree, settings, callbacks);
  {
    auto view = tree->index();
    std::lock_guard lock(out_mu);
    std::printf("watching %s: %zu files, %zu symbols, %zu directories watched; Ctrl-C stops\n", root.c_str(),
                view->file_count(), view->symbol_count(), loop.watch_count());
    std::fflush(stdout);
  }
  while (!g_stop) ::usleep(50 * 1000);
  loop.stop();
  std::printf("stopped\n");
  return 0;
}

int cmd_serve(const Args& a) {
  server::ServeOptions o;
  std::error_code ec;
  std::string root = root_arg(a, 0);
  if (!fs::is_directory(root, ec)) throw std::runtime_error(root + ": not a directory");
  o.root = fs::absolute(root, ec).lexically_normal();
  if (o.root.has_filename() == false && o.root.string().size() > 1) o.root = o.root.parent_path();
  if (auto v = a.get("--listen"); v && v->starts_with("unix:")) {
    // Absolute, since server.json gives it to clients started elsewhere.
    std::string path = v->substr(5);
    if (path.empty()) throw UsageError{"--listen unix:PATH needs a PATH"};
    o.socket_path = fs::absolute(path, ec).lexically_normal().string();
  } else if (v) {
    size_t colon = v->rfind(':');
    if (colon == std::string::npos) throw UsageError{"--listen takes ADDRESS:PORT (127.0.0.1:7345) or unix:PATH"};
    o.address = v->substr(0, colon);
    if (o.address.size() > 1 && o.address.front() == '[' && o.address.back() == ']') o.address = o.address.substr(1, o.address.size() - 2);
    uint64_t port = parse_number("--listen", v->substr(colon + 1));
    if (port > 65535) throw UsageError{"--listen: a port is at most 65535"};
    o.port = uint16_t(port);
  }
  if (auto v = a.get("--token")) o.token = *v;
  else if (const char* env = std::getenv("INDEXER_TOKEN")) o.token = env;
  if (a.has("--allow-origin")) o.allowed_origins = a.options.at("--allow-origin");
  if (auto v = a.get("--snapshot")) o.snapshot = *v;
  {  // the policy sandbox/check and sandbox/policy answer by, over the served root
    auto policy = sandbox::load_policy(a.get("--policy").value_or("workspace"));
    if (!policy) throw UsageError{"--policy: " + policy.error()};
    server::set_served_policy(std::move(*policy), o.root.string());
  }
  o.index = index_options(a);
  for (const char* flag : {"--exec-workers", "--exec-queue-limit", "--exec-retention", "--exec-policy", "--exec-queue", "--exec-lease"})  // checked by the module
    if (auto v = a.get(flag)) o.settings[flag + 2] = *v;
  // One policy unless told otherwise: runs are judged by the one sandbox/check answers by.
  if (!a.get("--exec-policy")) {
    if (auto v = a.get("--policy")) o.settings["exec-policy"] = *v;
  }
  if (!a.has("--no-persist-elided")) {
    server::keep_elided_under(o.root.string());
    if (std::string why = server::open_elided_store(); !why.empty())
      std::cerr << "indexer: warning: compaction handles will not outlive this server: " << why << '\n';
  }
  std::mutex out_mu;
  o.announce = [&](const std::string& line) {
    std::lock_guard lock(out_mu);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  ProgressBar bar;
  o.progress = std::ref(bar);
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = true; };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  int rc = server::serve(o, g_stop);
  if (rc == 0) std::printf("stopped\n");
  return rc;
}

int cmd_stdio(const Args& a, bool lsp) {
  // --stdio (which VS Code's client appends) names the only transport there is.
  server::StdioOptions o;
  if (!a.positional.empty()) {
    std::error_code ec;
    if (!fs::is_directory(a.positional[0], ec)) throw std::runtime_error(a.positional[0] + ": not a directory");
    o.root = a.positional[0];
  }
  if (!lsp && !a.has("--no-persist-elided")) {  // MCP's expand tool: its root is PATH, else "."
    std::error_code ec;
    server::keep_elided_under(fs::absolute(o.root.value_or("."), ec).lexically_normal().string());
  }
  if (auto v = a.get("--snapshot")) o.snapshot = *v;
  o.index = index_options(a);
  if (!lsp) {  // the sandbox_check tool judges by the workspace preset over PATH
    std::error_code ec;
    server::set_served_policy(*sandbox::preset("workspace"), fs::absolute(o.root.value_or("."), ec).lexically_normal().string());
  }
  return lsp ? server::serve_lsp(o) : server::serve_mcp(o);
}

int cmd_policy(int argc, char** argv);  // policy_cli.cpp
int cmd_exec(int argc, char** argv);  // server/exec_cli.cpp
int cmd_executor(int argc, char** argv);  // server/executor_stdio.cpp

int main(int argc, char** argv) {
#ifdef INDEXER_HAVE_MIMALLOC
  // Huge pages for the index's big arrays: in a VM, faulting in a loaded snapshot 4 KiB at a time
  // costs more than decompressing it (measured: 250 ms -> 100 ms for 450k symbols).
  mi_option_enable(mi_option_large_os_pages);
#endif
  if (argc > 1 && std::string_view(argv[1]) == "exec") return cmd_exec(argc, argv);  // its own flags, then CMD...
  if (argc > 1 && std::string_view(argv[1]) == "executor") return cmd_executor(argc, argv);  // NDJSON on stdio
  try {
    if (argc > 1 && std::string_view(argv[1]) == "policy") return cmd_policy(argc, argv);
    Args a = parse_args(argc, argv);
    // Streams apart from stdio allocate six buffers (120 KB, a page fault each): worth it for
    // the commands that write much, not for a query (at most --limit lines) nor --version.
    if (a.command != "query" && !a.has("--version")) std::ios::sync_with_stdio(false);
    if ((a.command.empty() && !a.has("--version")) || a.command == "help" || a.has("--help") || a.has("-h")) {
      std::cout << kUsage;
      return a.command.empty() && !a.has("--help") && !a.has("-h") ? 2 : 0;
    }
    if (a.command == "version" || a.has("--version")) {
      std::cout << "indexer " << kVersion << '\n';
      return 0;
    }
    if (a.has("--stdio") && a.command != "lsp" && a.command != "mcp") throw UsageError{"--stdio is for lsp and mcp"};
    int rc;
    if (a.command == "index") rc = cmd_index(a);
    else if (a.command == "query") rc = cmd_query(a);
    else if (a.command == "outline") rc = cmd_outline(a);
    else if (a.command == "stats") rc = cmd_stats(a);
    else if (a.command == "export") rc = cmd_export(a);
    else if (a.command == "graph") rc = cmd_graph(a);
    else if (a.command == "methods") rc = cmd_methods(a);
    else if (a.command == "call") rc = cmd_call(a);
    else if (a.command == "map") rc = cmd_map(a);
    else if (a.command == "compact") rc = cmd_compact(a);
    else if (a.command == "expand") rc = cmd_expand(a);
    else if (a.command == "tokens") rc = cmd_tokens(a);
    else if (a.command == "diff") rc = cmd_diff(a);
    else if (a.command == "watch") rc = cmd_watch(a);
    else if (a.command == "serve") rc = cmd_serve(a);
    else if (a.command == "lsp") rc = cmd_stdio(a, true);
    else if (a.command == "mcp") rc = cmd_stdio(a, false);
    else throw UsageError{"unknown command '" + a.command + "'"};
    // Both printf and iostream write standard output; either may have failed (a full disk).
    std::cout.flush();
    if (rc == 0 && (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout))) {
      std::cerr << "indexer: could not write standard output\n";
      return 1;
    }
    return rc;
  } catch (const UsageError& e) {
    std::cerr << "indexer: " << e.message << "\n(run 'indexer --help' for usage)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "indexer: " << e.what() << '\n';
    return 1;
  }
}
