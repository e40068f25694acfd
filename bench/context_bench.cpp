// indexer_context_bench: the context compactor and the repo map (compress/), timed.
//
//   indexer_context_bench [--session-tokens N] [--budget N] [--copies N] [--map-budget N] [DIR]
//
// 1. An agent session of about --session-tokens tokens (o200k_base; default 200,000) generated
//    here: instructions, user turns, build and test logs with failures in them, file reads (some of
//    the same file again), assistant turns. It is compacted to --budget (default 50,000), five
//    times with a fresh store each; printed: the median time, the tokens after, and what each
//    strategy saved. Target: under 20 ms.
// 2. The elision store: the session's lines stored one by one, with a dictionary and without:
//    bytes stored, and the time to put and get them all.
// 3. The repo map of DIR (copied --copies times into a temporary tree, to reach a million
//    symbols: 40 copies of Python's library), warm: the index and import graph built once, then
//    the map made ten times at --map-budget tokens (default 2048); printed: the median and the
//    worst, and the resident memory with the index and what the map's peak adds. Target: under
//    30 ms at 100k symbols (none stated at 1M).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/stats.h"
#include "compress/compact.h"
#include "compress/repo_map.h"
#include "compress/tokens.h"
#include "indexer/indexer.h"
#include "indexer/resolve_imports.h"

namespace fs = std::filesystem;
using bench::Clock;
using bench::ms_since;
using bench::percentile;

namespace {

// A line of /proc/self/status in MiB ("VmRSS", "VmHWM"); -1 when unreadable.
double status_mib(const char* key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  double kib = -1;
  size_t n = std::strlen(key);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, key, n) == 0 && line[n] == ':') kib = std::atof(line + n + 1);
  std::fclose(f);
  return kib < 0 ? -1 : kib / 1024;
}

// Resets the peak RSS (VmHWM) to the current RSS (Linux 4.0+): what follows then shows its own peak.
void reset_peak() {
  if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) std::fputs("5", f), std::fclose(f);
}

const compress::tokens::Tokenizer& o200k() { return compress::tokens::tokenizer(compress::tokens::Encoding::O200k); }

std::vector<compress::Message> session(size_t target_tokens) {
  using compress::Kind;
  std::mt19937 rng(42);
  std::vector<compress::Message> out;
  out.push_back({"system", "You are a coding agent working in /src. Use the tools; be brief.\n", Kind::System, false, ""});
  out.push_back({"user", "Never change the public API of libcore without asking first.\n", Kind::Instruction, true, ""});
  size_t tokens = 0;
  for (int turn = 0; tokens < target_tokens; ++turn) {
    std::vector<compress::Message> add;
    add.push_back({"user", "Step " + std::to_string(turn) + ": the nightly build is red again, please look.\n", Kind::User, false, ""});
    add.push_back({"assistant", "Running the build, then reading the failing module.\n", Kind::Assistant, false, ""});
    std::string log;
    int lines = 150 + int(rng() % 250);
    for (int l = 0; l < lines; ++l) {
      if (l == lines / 2 && turn % 3 == 0)
        log += "src/core/parse_" + std::to_string(turn % 7) + ".c:" + std::to_string(100 + turn) + ":5: error: implicit declaration of function 'scan'\n";
      log += "[" + std::to_string(10 * l + int(rng() % 10)) + "/" + std::to_string(10 * lines) + "] CC src/core/obj_" + std::to_string(l) +
             ".o  " + std::to_string(rng() % 900) + " ms\n";
    }
    add.push_back({"tool", log, Kind::ToolOutput, false, ""});
    std::string file;
    int module = turn % 11;
    for (int f = 0; f < 25; ++f)
      file += "def handler_" + std::to_string(module) + "_" + std::to_string(f) + "(request, context):\n    value = context.lookup(request.key)\n"
              "    if value is None:\n        raise KeyError(request.key)\n    return transform_" + std::to_string(f) + "(value)\n\n";
    add.push_back({"tool", file, Kind::File, false, "src/handlers/h" + std::to_string(module) + ".py"});
    add.push_back({"assistant", "The failure is in parse_" + std::to_string(turn % 7) + ".c: `scan` is used before it is declared.\n",
                   Kind::Assistant, false, ""});
    for (auto& m : add) tokens += o200k().count(m.content), out.push_back(std::move(m));
  }
  out.push_back({"user", "Fix parse_3.c and run the tests again.\n", Kind::User, false, ""});
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  size_t session_tokens = 200000, budget = 50000, map_budget = 2048;
  int copies = 1;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--session-tokens" && i + 1 < argc) session_tokens = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--budget" && i + 1 < argc) budget = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--map-budget" && i + 1 < argc) map_budget = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--copies" && i + 1 < argc) copies = std::max(1, std::atoi(argv[++i]));
    else if (!a.starts_with("--")) dir = a;
    else {
      std::fprintf(stderr, "usage: indexer_context_bench [--session-tokens N] [--budget N] [--copies N] [--map-budget N] [DIR]\n");
      return 2;
    }
  }

  // 1. Compaction.
  auto messages = session(session_tokens);
  size_t before = 0;
  for (const auto& m : messages) before += o200k().count(m.content);
  std::vector<double> times;
  compress::Compacted last;
  for (int run = 0; run < 5; ++run) {
    compress::ElisionStore store;
    compress::CompactOptions o;
    o.budget = budget;
    o.count = [](std::string_view t) { return o200k().count(t); };
    auto t = Clock::now();
    last = compress::compact(messages, o, store);
    times.push_back(ms_since(t));
  }
  std::printf("compaction: %zu messages, %zu tokens -> budget %zu: %zu tokens (%.1f%% of the budget)\n", messages.size(), before, budget,
              last.tokens_after, 100.0 * double(last.tokens_after) / double(budget));
  std::printf("  time p50 %.1f ms, worst %.1f ms (5 runs; target under 20 ms)\n", percentile(times, 0.5), percentile(times, 1));
  // A step that elided several spans of a message has an entry a handle, each with the message's
  // tokens: its saving is counted once.
  struct Saved {
    size_t steps = 0, handles = 0, tokens = 0;
  };
  std::map<std::string, Saved> saved;
  for (size_t i = 0; i < last.manifest.size(); ++i) {
    const auto& c = last.manifest[i];
    auto& s = saved[c.strategy];
    ++s.handles;
    const auto* prev = i ? &last.manifest[i - 1] : nullptr;
    if (prev && prev->message == c.message && prev->strategy == c.strategy && prev->tokens_before == c.tokens_before &&
        prev->tokens_after == c.tokens_after)
      continue;
    ++s.steps;
    s.tokens += c.tokens_before > c.tokens_after ? c.tokens_before - c.tokens_after : 0;
  }
  for (const auto& [name, s] : saved)
    std::printf("  %-8s %6zu changes (%zu handles), %9zu tokens saved\n", name.c_str(), s.steps, s.handles, s.tokens);

  // 2. The elision store: the session's lines as small spans (what a fold or a cut elides), with
  // and without a dictionary trained on the first 256.
  std::vector<std::string> spans;
  for (const auto& m : messages)
    for (size_t at = 0; at < m.content.size() && spans.size() < 20000;) {
      size_t end = std::min(m.content.find('\n', at), m.content.size());
      spans.push_back(m.content.substr(at, end + 1 - at));
      at = end + 1;
    }
  size_t raw = 0;
  for (const auto& s : spans) raw += s.size();
  std::printf("\nelision store: %zu spans of one line, %zu bytes\n", spans.size(), raw);
  for (size_t after : {size_t(256), SIZE_MAX}) {
    compress::ElisionStore store({.max_bytes = size_t(1) << 30, .dir_fd = -1, .dictionary_after = after});
    std::vector<std::string> handles;
    auto t0 = Clock::now();
    for (const auto& s : spans) handles.push_back(store.put(s));
    double put_ms = ms_since(t0);
    t0 = Clock::now();
    size_t back = 0;
    for (const auto& h : handles) back += store.get(h).bytes.size();
    double get_ms = ms_since(t0);
    auto st = store.stats();
    std::printf("  %-18s %9zu bytes stored (%.2fx), put %.1f ms, get %.1f ms (%zu bytes back)\n",
                after == SIZE_MAX ? "zstd alone" : "zstd + dictionary", st.stored_bytes, double(st.original_bytes) / double(st.stored_bytes), put_ms,
                get_ms, back);
  }

  // 3. The repo map.
  if (dir.empty()) return 0;
  fs::path root = dir;
  fs::path tmp;
  if (copies > 1) {
    tmp = fs::temp_directory_path() / ("indexer-context-bench-" + std::to_string(::getpid()));
    // Regular files only (no links, no special files), whatever cannot be read skipped, and no
    // __pycache__ (bytecode: nothing indexed, and most of the bytes at 40 copies).
    for (int c = 0; c < copies; ++c) {
      std::error_code ec;
      for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec); it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        if (it->is_directory(ec) && it->path().filename() == "__pycache__") {
          it.disable_recursion_pending();
          continue;
        }
        if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
        fs::path to = tmp / ("c" + std::to_string(c)) / fs::relative(it->path(), dir, ec);
        fs::create_directories(to.parent_path(), ec);
        fs::copy_file(it->path(), to, ec);
      }
    }
    root = tmp;
  }
  auto t = Clock::now();
  indexer::IndexResult r = indexer::index_tree(root, {}, {});
  if (!r.index) {
    std::fprintf(stderr, "%s: %s\n", root.c_str(), r.error.c_str());
    return 1;
  }
  indexer::ImportResolver resolver(root, *r.index);
  query::ImportGraph graph = indexer::build_import_graph(resolver, *r.index);
  std::printf("\nrepo map of %s (x%d): %zu files, %zu symbols, %zu import edges (indexed and resolved in %.0f ms)\n", dir.c_str(), copies,
              r.index->file_count(), r.index->symbol_count(), graph.edge_count(), ms_since(t));
  compress::RepoMapOptions o;
  o.budget = map_budget;
  o.count = [](std::string_view text) { return o200k().count(text); };
  std::vector<double> map_ms;
  compress::RepoMap map;
  double rss_before = status_mib("VmRSS");
  reset_peak();
  for (int run = 0; run < 10; ++run) {
    auto t0 = Clock::now();
    map = compress::repo_map(*r.index, graph, o);
    map_ms.push_back(ms_since(t0));
  }
  std::printf("  %zu tokens budget: %zu tokens, %zu files, %zu definitions; p50 %.1f ms, worst %.1f ms (10 runs, warm; target under 30 ms at 100k symbols)\n",
              map_budget, map.tokens, map.files, map.symbols, percentile(map_ms, 0.5), percentile(map_ms, 1));
  std::printf("  memory: %.0f MiB resident with the index and graph; the map's peak adds %.0f MiB\n", rss_before, status_mib("VmHWM") - rss_before);
  if (!tmp.empty()) fs::remove_all(tmp);
  return 0;
}
