// indexer_live_bench: how fast an edit becomes queryable, and what churn does to memory. Not a
// test: it prints numbers, and ratios next to the peer a user would otherwise re-run.
//
//   indexer_live_bench [--edits N] [--churn N] DIR...
//
// The DIRs are copied into one scratch tree (edits must not touch the originals; installed
// packages, site-packages and dist-packages, are left out). Then, in this process, as
// `indexer watch` runs them: a LiveTree with a WatchLoop applying its watcher's batches.
// 1. Edit-to-queryable: a real file of about each size (1, 10, 40, 120 KB) is rewritten with a new
//    function name, N times each; the clock runs from just before the write until a search of
//    the live index finds the new name. The first edit of each file (a full parse) is shown
//    apart from the rest (incremental reparses). Next to it: re-running ctags -R over the tree, which is
//    what a tags file needs to see the same edit.
// 3. Import graph: a full resolve of the tree, then a Python file with many importers edited and
//    refresh()ed (no watcher) until `graph/dependents` of it is answered; before: the graph
//    resolved in full on first use after the change (what the service did until the live tree
//    kept it); after: the graph the live tree follows per change. Edits alternate between one
//    inside a body (imports unchanged) and one that adds or drops an import; then a new file
//    importing it is added and removed (the graph's node set changes).
// 2. Churn: one file rewritten M times (refresh() called directly, no watcher), then resident
//    memory and the index's own accounting against the same tree freshly indexed.
// --copies N copies the DIRs N times (c0..., c1..., ...), to reach a million symbols from the
// corpora at hand; --only-graph runs section 3 alone.
#ifdef INDEXER_HAVE_MIMALLOC
#include <mimalloc.h>
#else
inline void mi_collect(bool) {}
#endif
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "indexer/live_tree.h"
#include "indexer/resolve_imports.h"
#include "indexer/watch_loop.h"
#include "query/query.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

size_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * size_t(sysconf(_SC_PAGESIZE));
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5))];
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The Python file of the tree whose size is nearest `bytes`.
fs::path nearest_file(const fs::path& root, size_t bytes) {
  fs::path best;
  size_t best_diff = SIZE_MAX;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied);
       it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file() || it->path().extension() != ".py" || it->path().string().find("/.indexer/") != std::string::npos) continue;
    size_t size = it->file_size();
    size_t diff = size > bytes ? size - bytes : bytes - size;
    if (diff < best_diff) best_diff = diff, best = it->path();
  }
  return best;
}

bool found(const query::Index& index, const std::string& name) {
  query::SearchRequest req;
  req.pattern = name;
  req.limit = 1;
  auto hits = query::search(index, req);
  return !hits.empty() && index.symbol(hits[0].symbol).name == name;
}

// Copies regular files and directories, leaving out links and installed packages.
void copy_tree(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (auto it = fs::recursive_directory_iterator(from, fs::directory_options::skip_permission_denied);
       it != fs::recursive_directory_iterator(); ++it) {
    std::string name = it->path().filename().string();
    if (it->is_symlink()) continue;
    if (it->is_directory() && (name == "site-packages" || name == "dist-packages" || name == "__pycache__")) {
      it.disable_recursion_pending();
      continue;
    }
    fs::path target = to / fs::relative(it->path(), from);
    std::error_code ec;
    if (it->is_directory()) fs::create_directories(target, ec);
    else if (it->is_regular_file()) fs::copy_file(it->path(), target, ec);
  }
}

double run_ctags(const fs::path& root) {
  auto t = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    dup2(null, 1), dup2(null, 2);
    execlp("ctags", "ctags", "-R", "-f", "/tmp/indexer-live-bench.tags", root.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::remove("/tmp/indexer-live-bench.tags");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Section 3; see the file's comment.
void graph_section(indexer::LiveTree& tree, const fs::path& root, int edits) {
  auto ms_since = [](Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); };
  auto view = tree.index();
  std::vector<double> full;
  std::unique_ptr<query::ImportGraph> g;
  for (int i = 0; i < 3; ++i) {
    auto t = Clock::now();
    indexer::ImportResolver resolver(root, *view);
    g = std::make_unique<query::ImportGraph>(indexer::build_import_graph(resolver, *view));
    full.push_back(ms_since(t));
  }
  // The Python file with the most importers.
  query::ImportGraph::NodeId best = 0;
  for (query::ImportGraph::NodeId n = 0; n < g->file_count(); ++n)
    if (g->name(n).ends_with(".py") && g->importers(n).size() > g->importers(best).size()) best = n;
  std::string rel(g->name(best));
  std::string module = rel.substr(rel.rfind('/') + 1);
  module = module.substr(0, module.size() - 3);
  std::printf("\n== import graph: %zu files, %zu symbols, %zu nodes, %zu edges; edit %s (%zu importers, %zu dependents)\n",
              view->file_count(), view->symbol_count(), g->node_count(), g->edge_count(), rel.c_str(), g->importers(best).size(),
              g->dependents(best).size());
  std::printf("full resolve (a new ImportResolver + build_import_graph): p50 %.1f ms of 3 (min %.1f)\n", percentile(full, 0.5),
              percentile(full, 0));
  view.reset();
  g.reset();
  fs::path file = root / rel;
  const std::string original = slurp(file);
  // An edit inside a body (odd) or one that adds or drops an import (even).
  auto edit = [&](int i) {
    std::string text = original + "\n\ndef graph_bench_" + std::to_string(i) + "():\n    pass\n";
    if (i % 4 == 0) text = "import json\n" + text;
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
  };
  // landed: from the index taking the edit (inside refresh()) to the answer: the graph's share of
  // refresh() (Report::graph_milliseconds), then the query.
  struct Row {
    std::vector<double> refresh, answer, total, landed;
  };
  auto dependents_of = [&](const query::ImportGraph& graph) {
    auto n = graph.find_file(rel);
    return n ? graph.dependents(*n).size() : 0;
  };
  // Before: the graph resolved anew on first use after each change.
  Row before;
  size_t sink = 0;
  for (int i = 0; i < edits; ++i) {
    edit(i);
    auto t = Clock::now();
    tree.refresh({rel});
    before.refresh.push_back(ms_since(t));
    auto landed = Clock::now();
    auto v = tree.index();
    indexer::ImportResolver resolver(root, *v);
    sink += dependents_of(indexer::build_import_graph(resolver, *v));
    before.answer.push_back(ms_since(landed));
    before.total.push_back(ms_since(t));
    before.landed.push_back(before.answer.back());
  }
  mi_collect(true);
  size_t rss_before = rss_bytes();
  auto t_first = Clock::now();
  tree.graph();
  double first = ms_since(t_first);
  mi_collect(true);
  double graph_mb = (double(rss_bytes()) - double(rss_before)) / 1e6;
  // After: the live tree follows each change, in refresh().
  Row body, imports, files;
  for (int i = 0; i < edits; ++i) {
    edit(i);
    auto t = Clock::now();
    double graph_ms = tree.refresh({rel}).graph_milliseconds;
    double refreshed = ms_since(t);
    auto landed = Clock::now();
    sink += dependents_of(*tree.graph()->imports);
    Row& row = i % 2 ? body : imports;
    row.refresh.push_back(refreshed);
    row.answer.push_back(ms_since(landed));
    row.total.push_back(ms_since(t));
    row.landed.push_back(graph_ms + row.answer.back());
  }
  std::ofstream(file, std::ios::binary | std::ios::trunc) << original;
  tree.refresh({rel});
  // A file that appears (importing the edited one) and goes.
  std::string added = rel.substr(0, rel.rfind('/') + 1) + "graph_bench_added.py";
  for (int i = 0; i < std::max(2, edits / 5); ++i) {
    if (i % 2 == 0) std::ofstream(root / added, std::ios::binary | std::ios::trunc) << "import " << module << "\n";
    else fs::remove(root / added);
    auto t = Clock::now();
    double graph_ms = tree.refresh({added}).graph_milliseconds;
    files.refresh.push_back(ms_since(t));
    auto landed = Clock::now();
    sink += dependents_of(*tree.graph()->imports);
    files.answer.push_back(ms_since(landed));
    files.total.push_back(ms_since(t));
    files.landed.push_back(graph_ms + files.answer.back());
  }
  std::printf("resolving the live tree's graph on first use (with the keys it follows changes by): %.1f ms, resident +%.1f MB\n",
              first, graph_mb);
  std::printf("%-52s %9s %9s %9s %9s %15s %9s\n", "ms, p50 unless p99", "refresh", "+ answer", "edit->ans", "p99",
              "landed->answer", "p99");
  auto print = [&](const char* what, const Row& r) {
    std::printf("%-52s %9.2f %9.2f %9.2f %9.2f %15.2f %9.2f\n", what, percentile(r.refresh, 0.5), percentile(r.answer, 0.5),
                percentile(r.total, 0.5), percentile(r.total, 0.99), percentile(r.landed, 0.5), percentile(r.landed, 0.99));
  };
  print("before: full resolve on first use", before);
  print("after: followed, an edit inside a body", body);
  print("after: followed, an edit adding/dropping an import", imports);
  print("after: followed, a file importing it added/removed", files);
  std::printf("target: an answer within 5 ms of the edit landing (landed->answer); before/after landed->answer p50 = %.0fx\n",
              percentile(before.landed, 0.5) / std::max(1e-3, percentile(body.landed, 0.5)));
  if (sink == 0) std::printf("(no dependents found)\n");
}

}  // namespace

int main(int argc, char** argv) {
  int edits = 100, churn = 10000, copies = 1;
  bool only_graph = false;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--edits" && i + 1 < argc) edits = std::atoi(argv[++i]);
    else if (a == "--churn" && i + 1 < argc) churn = std::atoi(argv[++i]);
    else if (a == "--copies" && i + 1 < argc) copies = std::max(1, std::atoi(argv[++i]));
    else if (a == "--only-graph") only_graph = true;
    else dirs.push_back(a);
  }
  if (dirs.empty()) {
    std::fprintf(stderr, "usage: indexer_live_bench [--edits N] [--churn N] [--copies N] [--only-graph] DIR...\n");
    return 2;
  }
  // Per process: two benches at once (other worktrees) must not delete each other's tree.
  fs::path scratch = fs::temp_directory_path() / ("indexer-live-bench-" + std::to_string(getpid()));
  fs::remove_all(scratch);
  fs::path root = scratch / "tree";
  for (int c = 0; c < copies; ++c)
    for (size_t i = 0; i < dirs.size(); ++i)
      copy_tree(dirs[i], root / ((c ? "c" + std::to_string(c) + "-" : "c") + std::to_string(i)));
  std::string dir;
  for (const auto& d : dirs) dir += (dir.empty() ? "" : ", ") + d;

  std::string warning;
  auto t_open = Clock::now();
  auto opened = indexer::LiveTree::open(root, {}, indexer::default_snapshot_path(root), {}, warning);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().c_str());
    return 1;
  }
  std::unique_ptr<indexer::LiveTree> tree = std::move(*opened);
  auto view = tree->index();
  std::printf("tree: %s (a copy of %s): %zu files, %zu symbols, indexed in %.1f s\n\n", root.c_str(), dir.c_str(),
              view->file_count(), view->symbol_count(), std::chrono::duration<double>(Clock::now() - t_open).count());
  view.reset();
  if (only_graph) {
    graph_section(*tree, root, edits);
    tree.reset();
    fs::remove_all(scratch);
    return 0;
  }

  // The watch loop, on its own threads, as `indexer watch` runs it.
  auto loop = std::make_unique<indexer::WatchLoop>(*tree, indexer::WatchLoop::Settings{}, indexer::WatchLoop::Callbacks{});

  std::printf("== edit-to-queryable: write a file with a new function, until a search finds it (%d edits per size)\n", edits);
  std::printf("%-8s %-34s %9s %9s %9s %9s\n", "size", "file", "first ms", "p50 ms", "p99 ms", "max ms");
  std::vector<double> all, firsts;
  int serial = 0;
  for (size_t kb : {1, 10, 40, 120}) {
    fs::path file = nearest_file(root, kb * 1024);
    std::string original = slurp(file);
    std::vector<double> ms;
    for (int i = 0; i < edits; ++i) {
      std::string name = "bench_marker_" + std::to_string(++serial);
      std::string text = original + "\n\ndef " + name + "():\n    pass\n";
      auto t = Clock::now();
      std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
      while (!found(*tree->index(), name)) {
        if (Clock::now() - t > std::chrono::seconds(10)) {
          std::fprintf(stderr, "%s never became queryable\n", name.c_str());
          return 1;
        }
        std::this_thread::yield();
      }
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // an editor does not save faster
    }
    // The first edit of a file parses it whole; later ones reparse what changed (the live tree
    // keeps the trees of recently edited files), so they are reported apart.
    double first = ms.front();
    firsts.push_back(first);
    ms.erase(ms.begin());
    all.insert(all.end(), ms.begin(), ms.end());
    std::string rel = fs::relative(file, root).string();
    if (rel.size() > 34) rel = "..." + rel.substr(rel.size() - 31);
    std::printf("%-8s %-34s %9.2f %9.2f %9.2f %9.2f\n", (std::to_string(original.size() / 1024) + " KB").c_str(), rel.c_str(), first,
                percentile(ms, 0.5), percentile(ms, 0.99), percentile(ms, 1.0));
  }
  std::printf("%-8s %-34s %9.2f %9.2f %9.2f %9.2f\n", "all", "(first: the slowest first edit)", percentile(firsts, 1.0),
              percentile(all, 0.5), percentile(all, 0.99), percentile(all, 1.0));
  double ctags = run_ctags(root);
  if (ctags > 0)
    std::printf("peer: ctags -R over the tree (what a tags file needs to see one edit): %.0f ms, %.0fx our p99\n", ctags * 1e3,
                ctags * 1e3 / std::max(percentile(all, 0.99), 1e-3));
  else
    std::printf("peer: ctags not available\n");
  loop.reset();

  std::printf("\n== memory under churn: one file rewritten %d times\n", churn);
  fs::path hot = nearest_file(root, 10 * 1024);
  std::string hot_text = slurp(hot);
  std::string hot_rel = fs::relative(hot, root).generic_string();
  tree->compact_if_needed();
  mi_collect(true);
  size_t rss_before = rss_bytes();
  size_t accounted_before = tree->index()->memory().total();
  auto t_churn = Clock::now();
  for (int i = 0; i < churn; ++i) {
    std::ofstream(hot, std::ios::binary | std::ios::trunc) << hot_text << "\ndef churn_" << i << "():\n    pass\n";
    tree->refresh({hot_rel});
    if (i % 1000 == 999) tree->compact_if_needed();
  }
  double churn_s = std::chrono::duration<double>(Clock::now() - t_churn).count();
  mi_collect(true);
  size_t rss_after = rss_bytes();
  size_t accounted_after = tree->index()->memory().total();
  std::printf("%d refreshes in %.1f s (%.2f ms each)\n", churn, churn_s, churn_s * 1e3 / churn);
  std::printf("resident: %.1f MB after the first index, %.1f MB after the edits (%+.1f%%)\n", double(rss_before) / 1e6,
              double(rss_after) / 1e6, 100.0 * (double(rss_after) - double(rss_before)) / double(rss_before));
  std::printf("index accounting: %.1f MB before, %.1f MB after (%+.2f%%)\n", double(accounted_before) / 1e6,
              double(accounted_after) / 1e6,
              100.0 * (double(accounted_after) - double(accounted_before)) / double(accounted_before));

  graph_section(*tree, root, edits);  // last: from here on, refresh() also follows the graph
  tree.reset();
  fs::remove_all(scratch);
  return 0;
}
