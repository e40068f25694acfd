#include "lsp_peers.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "lsp_client.h"

namespace bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string uri(const fs::path& p) {
  std::string out = "file://";
  for (unsigned char c : p.string()) {
    if (std::isalnum(c) || std::strchr("/-._~", c)) out += char(c);
    else {
      char esc[4];
      std::snprintf(esc, sizeof esc, "%%%02X", c);
      out += esc;
    }
  }
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The first line a command prints ("Debian clangd version 14.0.6"), or "".
std::string first_line(const std::vector<std::string>& args) {
  Child c = spawn(args);
  std::string out;
  char chunk[4096];
  for (ssize_t n; (n = ::read(c.out, chunk, sizeof chunk)) > 0;) out.append(chunk, size_t(n));
  ::close(c.out);
  waitpid(c.pid, nullptr, 0);
  return out.substr(0, out.find('\n'));
}

size_t count_files(const fs::path& dir, const std::vector<std::string>& extensions) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file() && std::find(extensions.begin(), extensions.end(), it->path().extension()) != extensions.end()) ++n;
  return n;
}

// A scratch directory under $TMPDIR, removed with all it holds (clangd's .cache/clangd index too).
struct TempDir {
  fs::path path;
  explicit TempDir(const char* prefix) {
    std::string pattern = (fs::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct Server {
  std::vector<std::string> command;
  fs::path cwd;
  fs::path root;  // the workspace folder
  std::function<json(const std::string&)> settings;
  // After `initialized`, until the server's index is complete, for a server that says when.
  std::function<void(LspClient&)> prime;
  // pyright answers [] until it has found its files (and then parses them all for the answer):
  // it is ready at its first answer with results, or empty after 10 minutes of asking.
  bool empty_until_ready = false;
};

LspTiming run(const Server& s, const std::vector<std::string>& queries, double seconds) {
  auto t0 = Clock::now();
  LspClient lsp(s.command, s.cwd.string());
  lsp.settings = s.settings;
  json folder = {{"uri", uri(s.root)}, {"name", s.root.filename().string()}};
  json capabilities = {{"window", {{"workDoneProgress", true}}},
                       {"workspace", {{"configuration", true}, {"workspaceFolders", true}, {"symbol", json::object()}}}};
  lsp.call("initialize",
           {{"processId", getpid()}, {"rootUri", uri(s.root)}, {"rootPath", s.root.string()}, {"workspaceFolders", {folder}},
            {"capabilities", capabilities}},
           120);
  lsp.notify("initialized", json::object());
  if (s.prime) s.prime(lsp);
  for (;;) {
    LspMessage m = lsp.call("workspace/symbol", {{"query", queries[0]}}, 3600);
    bool empty = !m.body["result"].is_array() || m.body["result"].empty();
    if (!s.empty_until_ready || !empty || ms_since(t0) > 600e3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  LspTiming t;
  t.ready_s = ms_since(t0) / 1e3;
  size_t results = 0, bytes = 0;
  auto start = Clock::now();
  for (size_t i = 0; i < queries.size() || ms_since(start) < seconds * 1e3; ++i) {
    auto sent = Clock::now();
    LspMessage m = lsp.call("workspace/symbol", {{"query", queries[i % queries.size()]}}, 600);
    t.ms.push_back(std::chrono::duration<double, std::milli>(m.at - sent).count());
    results += m.body["result"].is_array() ? m.body["result"].size() : 0;
    bytes += m.bytes;
  }
  t.elapsed_s = ms_since(start) / 1e3;
  t.results = double(results) / double(t.ms.size());
  t.kb = double(bytes) / 1024 / double(t.ms.size());
  lsp.shutdown();
  return t;
}

// clangd needs a compile command for every file it indexes, and a header-only library has none.
// So: one translation unit per directory of headers, including each of its headers
// (`clang++ -std=c++17 -fsyntax-only -ferror-limit=0`, Boost found in /usr/include). Every
// header is parsed as a user would include it, and clangd's index holds the symbols of every
// header of the tree (asio + beast: 787 of the 788 files ours indexes got an index shard; the
// one left, beast's unit_test/main.ipp, is included by no header), plus those of everything they
// include (the rest of Boost, the standard library), which ours does not index. .ipp files are
// not listed: in a header-only build each .hpp includes its own. One TU per header would index
// the same symbols with many more parses (beast/websocket: 31 TUs took 26 s, 3 TUs 8 s, for the
// same shards); all of Boost would be 1,171 TUs (roughly 15-25 minutes at asio + beast's 0.7-1.2
// s a TU on 2 cores), and many of its directories need headers that are not installed (MPI,
// OpenCL) or not on the default include path (Python's), or are variants that exclude each other
// (mpl's preprocessed/), where a fatal error ends the TU and drops its remaining includes.
// Returns the TUs' paths.
std::vector<fs::path> write_compile_commands(const fs::path& out, const std::vector<std::string>& dirs) {
  std::map<fs::path, std::vector<fs::path>> by_dir;
  for (const auto& dir : dirs)
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file() && (e.path().extension() == ".hpp" || e.path().extension() == ".h"))
        by_dir[e.path().parent_path()].push_back(e.path());
  json commands = json::array();
  std::vector<fs::path> tus;
  for (auto& [dir, headers] : by_dir) {
    std::sort(headers.begin(), headers.end());
    fs::path tu = out / ("tu" + std::to_string(tus.size()) + ".cpp");
    std::ofstream src(tu);
    src << "// " << dir.string() << "\n";
    for (const auto& h : headers) src << "#include \"" << h.string() << "\"\n";
    commands.push_back({{"directory", out.string()},
                        {"file", tu.string()},
                        {"arguments", {"clang++", "-std=c++17", "-fsyntax-only", "-ferror-limit=0", tu.string()}}});
    tus.push_back(tu);
  }
  std::ofstream(out / "compile_commands.json") << commands.dump(1);
  return tus;
}

// clangd's background index reports $/progress under this token; its end comes after the
// index has been rebuilt from the last file indexed.
bool background_index_progress(const LspMessage& m, const char* kind) {
  const json& p = m.body.value("params", json::object());
  return m.body["method"] == "$/progress" && p.value("token", json()) == "backgroundIndexProgress" &&
         p.value("value", json::object()).value("kind", "") == kind;
}

void print_header() {
  std::printf("%-46s %10s %10s %10s %8s %8s %10s\n", "LSP workspace/symbol, cold, one request at a time", "ready s", "p50 ms",
              "p99 ms", "answers", "results", "KB/answer");
}

void print_row(const std::string& label, const LspTiming& t) {
  std::printf("  %-44s %10.2f %10.3f %10.3f %8zu %8.0f %10.1f\n", label.c_str(), t.ready_s, percentile(t.ms, 0.5),
              percentile(t.ms, 0.99), t.ms.size(), t.results, t.kb);
}

void print_ratio(const std::string& label, const LspTiming& peer, const LspTiming& ours) {
  auto x = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  std::printf("  %-44s %9.1fx %9.1fx %9.1fx\n", label.c_str(), x(peer.ready_s, ours.ready_s),
              x(percentile(peer.ms, 0.5), percentile(ours.ms, 0.5)), x(percentile(peer.ms, 0.99), percentile(ours.ms, 0.99)));
}

// Ours, then the peer, on one tree; a failure of either is a line, not the end of the run.
void compare(const std::string& peer_name, const std::function<LspTiming()>& ours, const std::function<LspTiming()>& peer) {
  LspTiming a, b;
  try {
    a = ours();
    print_row("indexer lsp", a);
  } catch (const std::exception& e) {
    std::printf("  indexer lsp failed: %s\n", e.what());
    return;
  }
  try {
    b = peer();
    print_row(peer_name, b);
  } catch (const std::exception& e) {
    std::printf("  %s failed: %s\n", peer_name.c_str(), e.what());
    return;
  }
  print_ratio(peer_name.substr(0, peer_name.find(' ')) + " / indexer", b, a);
}

void clangd_block(const LspPeerOptions& o) {
  std::string dirs;
  for (const auto& d : o.boost_dirs) dirs += (dirs.empty() ? "" : ", ") + d;
  std::string clangd = find_in_path(o.clangd);
  if (clangd.empty()) {
    std::printf("%s: skipped, clangd is not installed (apt-get install clangd)\n", dirs.c_str());
    return;
  }
  fs::path parent = fs::path(o.boost_dirs.front()).parent_path();
  size_t files = 0;
  for (const auto& d : o.boost_dirs) {
    if (!fs::is_directory(d) || fs::path(d).parent_path() != parent) {
      std::printf("%s: skipped, %s is not a directory beside the others\n", dirs.c_str(), d.c_str());
      return;
    }
    files += count_files(d, {".hpp", ".ipp", ".h"});
  }
  std::printf("%s: %zu headers\n", dirs.c_str(), files);
  // Ours indexes the same directories: the one, or their parent less everything else.
  fs::path root = o.boost_dirs.size() == 1 ? fs::path(o.boost_dirs.front()) : parent;
  std::vector<std::string> only;
  if (o.boost_dirs.size() > 1) {
    only = {"--exclude", "/*"};
    for (const auto& d : o.boost_dirs) only.insert(only.end(), {"--exclude", "!/" + fs::path(d).filename().string() + "/"});
  }
  // "Debian clangd version 14.0.6" names it "clangd 14.0.6".
  std::string name = "clangd", version = first_line({clangd, "--version"});
  if (size_t v = version.find("version "); v != std::string::npos) name.append(" ").append(version, v + 8);
  size_t tu_count = 0;
  compare(
      name,
      [&] {
        TempDir snapshot("indexer-lsp-bench-");
        only.insert(only.end(), {"--snapshot", (snapshot.path / "snapshot").string()});
        return time_indexer_lsp(o.indexer, root.string(), only, o.queries, o.seconds);
      },
      [&] {
        // A fresh project directory: the compilation database, and the index clangd keeps
        // under .cache/clangd beside it, so every run is a cold one.
        TempDir project("clangd-bench-");
        std::vector<fs::path> tus = write_compile_commands(project.path, o.boost_dirs);
        tu_count = tus.size();
        Server s;
        // --limit-results=200: as many as ours sends. The background index runs at idle
        // priority (SCHED_IDLE), so any other load on the machine stretches its cold time.
        s.command = {clangd, "--background-index", "--compile-commands-dir=" + project.path.string(), "--limit-results=200",
                     "--log=error"};
        s.cwd = s.root = project.path;
        s.prime = [&](LspClient& lsp) {
          // clangd reads the compilation database, and so starts indexing it, for a file opened.
          lsp.notify("textDocument/didOpen",
                     {{"textDocument", {{"uri", uri(tus.front())}, {"languageId", "cpp"}, {"version", 1}, {"text", slurp(tus.front())}}}});
          auto ended = [](const LspMessage& m) { return background_index_progress(m, "end"); };
          auto began = [](const LspMessage& m) { return background_index_progress(m, "begin"); };
          // A new begin soon after an end means it found more to index.
          do {
            if (!lsp.wait_for(ended, 3600)) throw std::runtime_error("the background index did not end in an hour");
          } while (lsp.wait_for(began, 1.0));
        };
        return run(s, o.queries, o.seconds);
      });
  if (tu_count) std::printf("  (clangd: %zu translation units, one per directory of headers)\n", tu_count);
}

void pyright_block(const LspPeerOptions& o) {
  std::string node = find_in_path("node");
  if (node.empty()) {
    std::printf("%s: skipped, node is not installed (apt-get install nodejs)\n", o.python_dir.c_str());
    return;
  }
  if (!fs::exists(o.pyright)) {
    std::printf("%s: skipped, pyright is not installed (bench/run.sh installs it: %s)\n", o.python_dir.c_str(), o.pyright.c_str());
    return;
  }
  if (!fs::is_directory(o.python_dir)) {
    std::printf("%s: skipped, not a directory\n", o.python_dir.c_str());
    return;
  }
  std::printf("%s: %zu .py files\n", o.python_dir.c_str(), count_files(o.python_dir, {".py"}));
  json package = json::parse(slurp(fs::path(o.pyright).parent_path() / "package.json"), nullptr, false);
  std::string name = "pyright";
  if (package.is_object()) name.append(" ").append(package.value("version", ""));
  compare(
      name,
      [&] {
        TempDir snapshot("indexer-lsp-bench-");
        return time_indexer_lsp(o.indexer, o.python_dir, {"--snapshot", (snapshot.path / "snapshot").string()}, o.queries,
                                o.seconds);
      },
      [&] {
        Server s;
        s.command = {node, o.pyright, "--stdio"};
        s.cwd = s.root = o.python_dir;
        // Imports resolve against Debian's interpreter, whose library the tree is, not against
        // whichever python comes first in PATH. pyright has no result limit: it sends every match.
        s.settings = [](const std::string& section) { return section == "python" ? json{{"pythonPath", "/usr/bin/python3"}} : json(); };
        s.empty_until_ready = true;
        return run(s, o.queries, o.seconds);
      });
}

}  // namespace

LspTiming time_indexer_lsp(const std::string& indexer, const std::string& root, const std::vector<std::string>& args,
                           const std::vector<std::string>& queries, double seconds) {
  Server s;
  s.command = {indexer, "lsp", root};
  s.command.insert(s.command.end(), args.begin(), args.end());
  s.root = root;
  return run(s, queries, seconds);
}

void print_lsp_peers(const LspPeerOptions& o) {
  print_header();
  if (!o.boost_dirs.empty()) clangd_block(o);
  if (o.python_dir.empty()) std::printf("pyright: skipped, no Python standard library in /usr/lib (apt-get install python3)\n");
  else pyright_block(o);
}

}  // namespace bench
