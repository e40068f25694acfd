// indexer_bench: index throughput, query latency and memory, next to the tools a user would pick
// instead, measured in one run on the same files. Not a test: it prints numbers and ratios.
//
//   indexer_bench [--threads N] [--repeat K] [--queries-per-size R] [--no-index] [--no-queries]
//                 [--no-fzf] [--no-ranking] [--ranking-only] [--ranking-per-style N] [--cache FILE] DIR...
//
// 1. Index: tree-sitter parse-only (the floor), our full index, and universal-ctags -R, each in a
//    child process so wall time and peak RSS are the child's own. The floor and ours run K times
//    (default 5) in alternating pairs; each line shows the median run, and the ratio is the median
//    of the pairs' ratios: on a shared machine one run can be 15% off, and its neighbour with it.
//    The fastest run of each is printed too (noise only adds time).
// 2. Query: the index of DIR... is replicated under renamed paths to reach 100k and 1M+ symbols;
//    a fixed query set runs R times at each size (in-process, top 50), next to `fzf --filter`
//    over the same qualified names, one process per query as a user would run it.
// 2b. Ranking: queries made from the corpus's names the ways people abbreviate them (six styles),
//    top-10 rate and mean reciprocal rank of the name each was made from, next to fzf --filter.
// 3. Snapshot of the 1M index: size, save time, and a warm start in a fresh process (this binary
//    exec'd with --warm-start FILE): load and first-query time, CPU, and the load's resident growth
//    next to the index's own accounting.
// 4. Memory: resident bytes per symbol of the 1M index (RSS growth while building it, after
//    mi_collect), and the index's own accounting of where they go.
// --cache FILE keeps the merged corpus as a snapshot, so repeated runs skip indexing it.
#ifdef INDEXER_HAVE_MIMALLOC
#include <mimalloc.h>
#else
inline void mi_collect(bool) {}  // without mimalloc, resident growth includes freed pages
#endif
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "indexer/indexer.h"
#include "query/fuzzy_match.h"
#include "query/query.h"
#include "query/snapshot.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

size_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * size_t(sysconf(_SC_PAGESIZE));
}

struct ChildRun {
  double seconds = 0;
  double peak_mb = 0;
  int status = -1;
  double cpu_seconds = 0;  // user + system, all threads
};

double cpu_of(const struct rusage& ru) {
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

// Runs `fn` in a forked child (or execs argv when given) and measures it from outside.
template <typename F>
ChildRun in_child(F&& fn) {
  auto t = Clock::now();
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  return {seconds_since(t), double(ru.ru_maxrss) / 1024.0, WIFEXITED(status) ? WEXITSTATUS(status) : -1, cpu_of(ru)};
}

// Runs a command the way a shell would, without fork's copy of this (large) process's page
// tables: posix_spawn uses vfork semantics, so the time is the command's own.
ChildRun run_command(const std::vector<std::string>& args, const char* stdin_path = nullptr, const char* stdout_path = "/dev/null") {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_path) posix_spawn_file_actions_addopen(&actions, 0, stdin_path, O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  auto t = Clock::now();
  pid_t pid = -1;
  int err = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return {0, 0, 127};
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  return {seconds_since(t), double(ru.ru_maxrss) / 1024.0, WIFEXITED(status) ? WEXITSTATUS(status) : -1, cpu_of(ru)};
}

bool have(const char* tool) {
  std::string cmd = std::string("command -v ") + tool + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5));
  return v[i];
}

// Real queries of each shape people type: exact names, prefixes, camel humps, substrings,
// qualified names, one- and two-letter starts.
const std::vector<std::string> kQueries = {
    "get",        "set",          "init",        "parse",      "read",       "write",      "Base",
    "vector",     "shared_ptr",   "make_shared", "gRS",        "iter",       "Iterator",   "str",
    "json",       "http",         "Request",     "handle",     "open",       "close",      "os.path",
    "to_string",  "compare",      "Node",        "fmt",        "asyncio",    "Promise",    "Array.map",
    "x",          "ab",           "mkdir",       "TypeError",  "lower_bound", "visit",     "config",
    "assertEqual", "dispatch",    "hash",        "Map",        "listener",
    // Abbreviations: letters inside words, which only the scattered tier finds (the whole
    // name list is scanned when the tiers above leave room); the last matches nothing at all.
    "Cfg",        "Ctx",          "strmRdr",     "bgcomp",     "qzxv",
};

// One index holding each part's files under a path prefix: how the bench merges corpora and
// grows the corpus to a million symbols ("copy3/lib/os.py").
std::unique_ptr<query::Index> merge(const std::vector<std::pair<std::string, const query::Index*>>& parts,
                                    size_t max_symbols = SIZE_MAX) {
  query::IndexBuilder b;
  std::vector<query::SymbolInput> syms;
  std::string path;
  size_t added = 0;
  for (const auto& [prefix, index] : parts)
    for (uint32_t f = 0; f < index->file_count() && added < max_symbols; ++f) {
      auto info = index->file(f);
      auto range = index->file_symbols(f);
      syms.clear();
      for (uint32_t id = range.begin; id < range.end; ++id) {
        auto s = index->symbol(id);
        syms.push_back({s.name, s.container, s.signature, s.kind, s.range, s.selection});
      }
      path = prefix + "/" + std::string(info.path);
      query::FileInput in;
      in.path = path;
      in.language = info.language;
      in.size = info.size;
      in.symbols = syms;
      b.add(in);
      added += syms.size();
    }
  return b.finish();
}

// About `target` symbols: whole copies of the base under renamed paths, the last one partial.
std::unique_ptr<query::Index> replicate(const query::Index& base, size_t target) {
  std::vector<std::pair<std::string, const query::Index*>> parts;
  size_t copies = (target + base.symbol_count() - 1) / base.symbol_count();
  for (size_t c = 0; c < copies; ++c) parts.emplace_back("copy" + std::to_string(c), &base);
  return merge(parts, target);
}

struct Latency {
  double p50_us, p99_us;
};

Latency measure_queries(const query::Index& index, int rounds, std::string* slowest) {
  std::vector<double> us;
  std::vector<std::pair<double, std::string>> worst(kQueries.size());
  // One unmeasured round first: the index was just built, and its pages are touched cold once.
  for (const auto& q : kQueries) query::search(index, {q, 50});
  for (int r = 0; r < rounds; ++r)
    for (size_t i = 0; i < kQueries.size(); ++i) {
      query::SearchRequest req;
      req.pattern = kQueries[i];
      req.limit = 50;
      auto t = Clock::now();
      auto hits = query::search(index, req);
      double took = seconds_since(t) * 1e6;
      us.push_back(took);
      worst[i] = {std::max(worst[i].first, took), kQueries[i]};
      if (hits.size() > 50) std::abort();
    }
  if (std::getenv("INDEXER_BENCH_PER_QUERY")) {  // each query's fastest and median round, for tuning
    for (size_t i = 0; i < kQueries.size(); ++i) {
      std::vector<double> mine;
      for (size_t k = i; k < us.size(); k += kQueries.size()) mine.push_back(us[k]);
      std::printf("  %-14s min %8.1f us  median %8.1f us\n", kQueries[i].c_str(), percentile(mine, 0), percentile(mine, 0.5));
    }
  }
  std::sort(worst.rbegin(), worst.rend());
  for (size_t i = 0; i < 4 && i < worst.size(); ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s'%s' %.0f us", i ? ", " : "", worst[i].second.c_str(), worst[i].first);
    *slowest += buf;
  }
  return {percentile(us, 0.5), percentile(us, 0.99)};
}

Latency measure_fzf(const query::Index& index, const std::string& names_file) {
  {
    std::ofstream out(names_file);
    for (uint32_t i = 0; i < index.symbol_count(); ++i) {
      auto s = index.symbol(i);
      if (!s.container.empty()) out << s.container << '.';
      out << s.name << '\n';
    }
  }
  std::vector<double> us;
  for (const auto& q : kQueries) us.push_back(run_command({"fzf", "--filter=" + q}, names_file.c_str()).seconds * 1e6);
  return {percentile(us, 0.5), percentile(us, 0.99)};
}

// Ranking as people type: queries made from the corpus's own names in six styles, scored by
// whether the name they were made from is in the top 10 (and its reciprocal rank), next to fzf
// over the same distinct names. Deterministic: every k-th name that fits a style.
struct Style {
  const char* label;
  const char* example;
};
const Style kStyles[] = {{"consonant abbreviation of a word", "LoggerWithFrm"},
                         {"acronym in capitals", "TAF"},
                         {"acronym in lower case", "taf"},
                         {"prefix in lower case", "backgroundcomp"},
                         {"two words in any order", "status response"},
                         {"snake fragment", "logger_wit"}};

std::vector<std::string> segments_of(std::string_view name) {
  std::vector<query::CharRole> roles(std::min(name.size(), query::FuzzyMatcher::kMaxWord));
  query::char_roles(name, roles.data(), roles.size());
  std::vector<std::string> out;
  for (size_t i = 0; i < roles.size(); ++i) {
    if (roles[i] == query::CharRole::Separator) continue;
    if (roles[i] == query::CharRole::Head || out.empty()) out.emplace_back();
    out.back() += name[i];
  }
  return out;
}

bool vowel(char c) { c = char(std::tolower(static_cast<unsigned char>(c))); return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

// The query of `style` for `name`, or "" when the name does not lend itself to it.
std::string make_query(int style, std::string_view name) {
  // Only identifiers: nobody types a query for `~basic_socket` (its class has the same words) or
  // `operator<<`.
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '$') return "";
  std::vector<std::string> seg = segments_of(name);
  auto lower = [](std::string t) { for (char& c : t) c = char(std::tolower(static_cast<unsigned char>(c))); return t; };
  for (const auto& x : seg)
    for (char c : x)
      if (!std::isalnum(static_cast<unsigned char>(c))) return "";
  switch (style) {
    case 0: {  // the longest word of 5+ letters cut to its first letter and two later consonants
      if (seg.size() < 2) return "";  // one word alone, so abbreviated, is a guess: `rdm`
      size_t best = seg.size();
      for (size_t i = 0; i < seg.size(); ++i)
        if (seg[i].size() >= 5 && (best == seg.size() || seg[i].size() > seg[best].size())) best = i;
      if (best == seg.size()) return "";
      std::string abbr(1, seg[best][0]);
      for (size_t i = 1; i < seg[best].size() && abbr.size() < 3; ++i)
        if (!vowel(seg[best][i]) && std::isalpha(static_cast<unsigned char>(seg[best][i])) && seg[best][i] != abbr.back()) abbr += seg[best][i];
      if (abbr.size() < 3) return "";
      std::string q;
      for (size_t i = 0; i < seg.size(); ++i) q += i == best ? abbr : seg[i];
      return q;
    }
    case 1: case 2: {
      if (seg.size() < 3) return "";
      std::string q;
      for (const auto& x : seg) q += char(std::toupper(static_cast<unsigned char>(x[0])));
      return style == 1 ? q : lower(q);
    }
    case 3: {
      std::string flat;
      for (const auto& x : seg) flat += lower(x);
      if (flat.size() < 10) return "";
      return flat.substr(0, std::max<size_t>(6, flat.size() * 6 / 10));
    }
    case 4: {
      if (seg.size() < 2 || seg[0].size() < 3 || seg.back().size() < 3) return "";
      return lower(seg.back()) + " " + lower(seg[0]);
    }
    case 5: {
      if (seg.size() < 2 || seg[0].size() < 3 || seg[1].size() < 3) return "";
      return lower(seg[0]) + "_" + lower(seg[1]).substr(0, 3);
    }
  }
  return "";
}

void measure_ranking(const query::Index& index, bool fzf, size_t per_style) {
  std::vector<std::string> distinct;
  {
    std::vector<std::string> all;
    for (uint32_t i = 0; i < index.symbol_count(); ++i) all.emplace_back(index.symbol(i).name);
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    distinct = std::move(all);
  }
  const bool show_misses = std::getenv("INDEXER_BENCH_MISSES") != nullptr;
  const std::string names_file = "/tmp/indexer-bench-rank-names.txt", fzf_out = "/tmp/indexer-bench-rank-fzf.txt";
  if (fzf) {
    std::ofstream out(names_file);
    for (const auto& n : distinct) out << n << '\n';
  }
  std::printf("\n== ranking: is the name a query was made from in the top 10? (%zu distinct names; fzf --filter over them)\n", distinct.size());
  std::printf("%-34s %-16s %7s %7s %7s %7s %8s %9s\n", "query style", "example", "queries", "top10", "fzf", "MRR", "fzf MRR", "ambiguous");
  double all_top = 0, all_fzf = 0, all_mrr = 0, all_fmrr = 0;
  size_t all_n = 0;
  for (int style = 0; style < 6; ++style) {
    // A query more than 10 names make alike (`boost_asi` from each of 400 BOOST_ASIO_* macros,
    // `TMC` from every Test*M*C*) cannot be answered by any order: it is left out, for fzf and for
    // us alike, and the next name is taken. How many is printed (`ambiguous`).
    std::unordered_map<std::string, size_t> makers;
    for (const auto& n : distinct)
      if (n.size() >= 6 && n.size() <= 48)
        if (std::string q = make_query(style, n); !q.empty() && q != n) ++makers[q];
    std::vector<std::pair<std::string, std::string>> cases;  // (query, name)
    size_t ambiguous = 0;
    const size_t stride = 7919;  // a prime: a spread of the name list
    for (size_t k = 0, i = 0; k < distinct.size() && cases.size() < per_style; ++k, i = (i + stride) % distinct.size()) {
      const std::string& n = distinct[i];
      if (n.size() < 6 || n.size() > 48) continue;
      std::string q = make_query(style, n);
      if (q.empty() || q == n) continue;
      if (makers[q] > 10) ++ambiguous;
      else cases.emplace_back(q, n);
    }
    double top = 0, ftop = 0, mrr = 0, fmrr = 0;
    for (const auto& [q, n] : cases) {
      // The first 10 distinct names, as fzf lists them: a name of many symbols (`handle`, a
      // method of 30 classes) fills 10 hits alone, so ask for more until 10 names are seen.
      std::vector<std::string> seen;
      for (size_t limit = 10;; limit *= 4) {
        query::SearchRequest req;
        req.pattern = q;
        req.limit = limit;
        auto hits = query::search(index, req);
        seen.clear();
        for (const auto& h : hits) {
          std::string name(index.symbol(h.symbol).name);
          if (std::find(seen.begin(), seen.end(), name) == seen.end()) seen.push_back(name);
        }
        if (seen.size() >= 10 || hits.size() < limit) break;
      }
      size_t rank = 0;
      for (size_t r = 0; r < seen.size() && r < 10; ++r)
        if (seen[r] == n) { top += 1; mrr += 1.0 / double(r + 1); rank = r + 1; break; }
      if (show_misses && rank != 1) {  // INDEXER_BENCH_MISSES=1: what ranked above, for tuning
        std::printf("  miss %-24s -> %-32s rank %zu; first:", q.c_str(), n.c_str(), rank);
        for (size_t r = 0; r < seen.size() && r < 3; ++r) std::printf(" %s", seen[r].c_str());
        std::printf("\n");
      }
      if (fzf) {
        run_command({"fzf", "--filter=" + q}, names_file.c_str(), fzf_out.c_str());
        std::ifstream in(fzf_out);
        std::string line;
        for (int r = 0; r < 10 && std::getline(in, line); ++r)
          if (line == n) { ftop += 1; fmrr += 1.0 / double(r + 1); break; }
      }
    }
    const double c = double(std::max<size_t>(cases.size(), 1));
    std::printf("%-34s %-16s %7zu %6.1f%% %6.1f%% %7.3f %8.3f %9zu\n", kStyles[style].label, kStyles[style].example, cases.size(),
                100 * top / c, fzf ? 100 * ftop / c : 0.0, mrr / c, fzf ? fmrr / c : 0.0, ambiguous);
    all_top += top, all_fzf += ftop, all_mrr += mrr, all_fmrr += fmrr, all_n += cases.size();
  }
  const double c = double(std::max<size_t>(all_n, 1));
  std::printf("%-34s %-16s %7zu %6.1f%% %6.1f%% %7.3f %8.3f\n", "all", "", all_n, 100 * all_top / c, fzf ? 100 * all_fzf / c : 0.0,
              all_mrr / c, fzf ? all_fmrr / c : 0.0);
  std::remove(names_file.c_str());
  std::remove(fzf_out.c_str());
}

}  // namespace

struct SnapshotRun {
  double save_ms = 0, mb = 0;
  ChildRun warm;
  double load_ms = 0, query_ms = 0, resident_mb = 0, cpu_ms = 0, accounted_mb = 0;  // inside the fresh process
};

// `indexer_bench --warm-start FILE`: what a fresh process pays to answer from a snapshot. Prints
// load ms, first-query ms and the resident growth of the load (after returning freed pages).
int warm_start(const char* path) {
#ifdef INDEXER_HAVE_MIMALLOC
  mi_option_enable(mi_option_large_os_pages);  // as the CLI does
#endif
  size_t before = rss_bytes();
  auto t = Clock::now();
  query::Result<query::Snapshot> loaded = query::load_snapshot(path);
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.error().c_str());
    return 1;
  }
  double load_ms = seconds_since(t) * 1e3;
  t = Clock::now();
  query::SearchRequest req;
  req.pattern = "getResponse";
  bool found = !query::search(*loaded->index, req).empty();
  double query_ms = seconds_since(t) * 1e3;
  mi_collect(true);
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& t) { return double(t.tv_sec) * 1e3 + double(t.tv_usec) / 1e3; };
  std::printf("%.1f %.2f %.1f %.1f %.1f\n", load_ms, query_ms, double(rss_bytes() - before) / 1e6, ms(ru.ru_utime) + ms(ru.ru_stime),
              double(loaded->index->memory().total()) / 1e6);
  return found ? 0 : 2;
}

// Saves the index, then times a fresh process (this binary, exec'd) that loads it and answers
// one query: exec, load, query and exit, as `indexer query` would pay them.
SnapshotRun measure_snapshot(const query::Index& index) {
  SnapshotRun out;
  const char* path = "/tmp/indexer-bench.snapshot";
  const char* report = "/tmp/indexer-bench-warm.txt";
  auto t = Clock::now();
  if (query::Status saved = query::save_snapshot(index, "", path); !saved) {
    std::fprintf(stderr, "snapshot: %s\n", saved.error().c_str());
    return out;
  }
  out.save_ms = seconds_since(t) * 1e3;
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  out.mb = double(f.tellg()) / 1e6;
  out.warm = run_command({"/proc/self/exe", "--warm-start", path}, nullptr, report);
  std::ifstream(report) >> out.load_ms >> out.query_ms >> out.resident_mb >> out.cpu_ms >> out.accounted_mb;
  std::remove(report);
  std::remove(path);
  return out;
}

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--warm-start") return warm_start(argv[2]);
  unsigned threads = 0;
  int rounds = 20, repeat = 5;
  bool index_section = true, fzf_section = true, query_section = true, ranking_section = true, ranking_only = false;
  size_t ranking_per_style = 130;
  std::vector<std::string> dirs;
  std::string cache;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = unsigned(std::stoul(argv[++i]));
    else if (a == "--queries-per-size" && i + 1 < argc) rounds = std::stoi(argv[++i]);
    else if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, std::stoi(argv[++i]));
    else if (a == "--no-index") index_section = false;  // only queries and memory
    else if (a == "--no-fzf") fzf_section = false;
    else if (a == "--no-queries") query_section = false;  // only the index section
    else if (a == "--no-ranking") ranking_section = false;
    else if (a == "--ranking-only") ranking_only = true, index_section = false;  // the ranking evaluation alone
    else if (a == "--ranking-per-style" && i + 1 < argc) ranking_per_style = size_t(std::stoul(argv[++i]));
    else if (a == "--cache" && i + 1 < argc) cache = argv[++i];  // the merged corpus, as a snapshot
    else dirs.push_back(a);
  }
  if (dirs.empty()) {
    std::fprintf(stderr, "usage: indexer_bench [--threads N] [--repeat K] [--queries-per-size R] [--no-index] [--no-queries] [--no-fzf] [--no-ranking] [--ranking-only] [--ranking-per-style N] [--cache FILE] DIR...\n");
    return 2;
  }
  indexer::Options opt;
  opt.threads = threads;

  if (index_section) {
  std::printf("== index (each in its own process; page cache warm)\n");
  std::printf("%-34s %9s %9s %9s %10s %9s %9s\n", "", "files", "MB", "seconds", "MB/s", "peak MB", "CPU s");
  // Warm the page cache so the first contender does not pay for the disk.
  for (const auto& d : dirs) indexer::index_tree(d, [&] { auto o = opt; o.parse_only = true; return o; }());

  auto index_all = [&](bool parse_only, size_t* files, double* mb) {
    auto o = opt;
    o.parse_only = parse_only;
    int pipefd[2];
    if (pipe(pipefd) != 0) std::abort();
    ChildRun run = in_child([&] {
      size_t f = 0;
      uint64_t b = 0;
      for (const auto& d : dirs) {
        auto r = indexer::index_tree(d, o);
        f += r.summary.files_indexed;
        b += r.summary.bytes_indexed;
      }
      uint64_t v[2] = {f, b};
      return write(pipefd[1], v, sizeof v) == sizeof v ? 0 : 1;
    });
    uint64_t v[2] = {0, 0};
    if (read(pipefd[0], v, sizeof v) != sizeof v) std::abort();
    close(pipefd[0]);
    close(pipefd[1]);
    *files = v[0];
    *mb = double(v[1]) / 1e6;
    return run;
  };
  size_t files = 0;
  double mb = 0;
  std::vector<ChildRun> floors, ourss;
  std::vector<double> wall_ratios, cpu_ratios;
  for (int k = 0; k < repeat; ++k) {
    floors.push_back(index_all(true, &files, &mb));
    ourss.push_back(index_all(false, &files, &mb));
    wall_ratios.push_back(ourss.back().seconds / floors.back().seconds);
    cpu_ratios.push_back(ourss.back().cpu_seconds / floors.back().cpu_seconds);
  }
  auto median_run = [](std::vector<ChildRun> runs) {
    std::sort(runs.begin(), runs.end(), [](const ChildRun& a, const ChildRun& b) { return a.seconds < b.seconds; });
    return runs[runs.size() / 2];
  };
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  ChildRun floor = median_run(floors), ours = median_run(ourss);
  std::printf("%-34s %9zu %9.1f %9.2f %10.1f %9.0f %9.2f\n", "tree-sitter parse only (floor)", files, mb, floor.seconds, mb / floor.seconds, floor.peak_mb, floor.cpu_seconds);
  std::printf("%-34s %9zu %9.1f %9.2f %10.1f %9.0f %9.2f\n", "indexer (parse+extract+index)", files, mb, ours.seconds, mb / ours.seconds, ours.peak_mb, ours.cpu_seconds);
  ChildRun ctags{};
  if (have("ctags")) {
    // A real tags file: with -f /dev/null ctags stops early (it cannot truncate it) and looks fast.
    const std::string tags = "/tmp/indexer-bench.tags";
    std::vector<std::string> cmd = {"ctags", "-R", "-f", tags, "--languages=Python,JavaScript,TypeScript,Go,Rust,C,C++,Java,C#,Ruby,PHP,Sh"};
    cmd.insert(cmd.end(), dirs.begin(), dirs.end());
    ctags = run_command(cmd);
    size_t tag_lines = 0;
    {
      std::ifstream in(tags);
      for (std::string line; std::getline(in, line);) tag_lines += !line.starts_with("!_TAG_");
    }
    std::remove(tags.c_str());
    if (ctags.status != 0) std::printf("universal-ctags failed (exit %d); its time is not comparable\n", ctags.status);
    std::printf("%-34s %9s %9s %9.2f %10s %9.0f %9.2f  (%zu tags)\n", "universal-ctags -R (1 thread)", "", "", ctags.seconds, "",
                ctags.peak_mb, ctags.cpu_seconds, tag_lines);
  }
  std::printf("ratios: indexer / parse-only = %.2fx wall, %.2fx CPU (median of %d pairs; wall", median(wall_ratios), median(cpu_ratios), repeat);
  for (double r : wall_ratios) std::printf(" %.2f", r);
  std::printf(")");
  if (ctags.seconds > 0) std::printf("; ctags / indexer = %.2fx wall, %.2fx peak memory", ctags.seconds / ours.seconds, ctags.peak_mb / ours.peak_mb);
  std::printf("; files/s %.0f\n", double(files) / ours.seconds);
  // Other work on the host only ever adds time, so the fastest run of each is the least disturbed.
  auto fastest = [](const std::vector<ChildRun>& runs, double ChildRun::*field) {
    double best = runs[0].*field;
    for (const ChildRun& r : runs) best = std::min(best, r.*field);
    return best;
  };
  std::printf("fastest of %d: parse-only %.2f s, indexer %.2f s = %.2fx wall; CPU %.2f / %.2f s = %.2fx\n\n", repeat,
              fastest(floors, &ChildRun::seconds), fastest(ourss, &ChildRun::seconds),
              fastest(ourss, &ChildRun::seconds) / fastest(floors, &ChildRun::seconds), fastest(ourss, &ChildRun::cpu_seconds),
              fastest(floors, &ChildRun::cpu_seconds), fastest(ourss, &ChildRun::cpu_seconds) / fastest(floors, &ChildRun::cpu_seconds));
  }

  if (!query_section && !ranking_only) return 0;

  // The base index, in this process; with --cache FILE, loaded from a snapshot of it when FILE is
  // one of this format, else indexed and saved there (for repeated runs over the same corpora).
  std::unique_ptr<query::Index> base;
  if (!cache.empty()) {
    query::Result<query::Snapshot> loaded = query::load_snapshot(cache);
    if (loaded) base = std::move(loaded->index);
  }
  if (!base) {
    std::vector<std::unique_ptr<query::Index>> indexes;
    std::vector<std::pair<std::string, const query::Index*>> parts;
    for (const auto& d : dirs) {
      auto r = indexer::index_tree(d, opt);
      if (!r.index) {
        std::fprintf(stderr, "%s: %s\n", d.c_str(), r.error.c_str());
        return 1;
      }
      indexes.push_back(std::move(r.index));
      parts.emplace_back("c" + std::to_string(parts.size()), indexes.back().get());
    }
    base = merge(parts);
    if (!cache.empty()) (void)query::save_snapshot(*base, "", cache);
  }
  std::printf("corpus: %zu files, %zu symbols, %zu distinct names\n\n", base->file_count(), base->symbol_count(), base->name_count());
  if (ranking_section) {
    measure_ranking(*base, fzf_section && have("fzf"), ranking_per_style);
    if (ranking_only) return 0;
    std::printf("\n");
  }

  std::printf("== query latency, in-process, top 50, %zu queries x %d rounds; fzf --filter: one process per query\n", kQueries.size(), rounds);
  std::printf("%-12s %10s %10s %12s %12s %12s\n", "symbols", "p50 us", "p99 us", "fzf p50 us", "fzf p99 us", "fzf/ours p50");
  const bool fzf = fzf_section && have("fzf");
  size_t bytes_per_symbol_rss = 0;
  query::MemoryStats mem_1m{};
  size_t symbols_1m = 0;
  SnapshotRun snapshot;
  for (size_t target : {size_t(100000), size_t(1000000)}) {
    mi_collect(true);
    size_t before = rss_bytes();
    auto index = replicate(*base, target);
    mi_collect(true);
    size_t after = rss_bytes();
    if (target == 1000000) {
      bytes_per_symbol_rss = (after - before) / index->symbol_count();
      mem_1m = index->memory();
      symbols_1m = index->symbol_count();
      snapshot = measure_snapshot(*index);
    }
    std::string slowest;
    Latency l = measure_queries(*index, rounds, &slowest);
    Latency f{0, 0};
    if (fzf) f = measure_fzf(*index, "/tmp/indexer-bench-names.txt");
    std::printf("%-12zu %10.1f %10.1f %12.0f %12.0f %12.0fx\n", index->symbol_count(), l.p50_us, l.p99_us, f.p50_us, f.p99_us,
                l.p50_us > 0 ? f.p50_us / l.p50_us : 0.0);
    std::printf("%-12s slowest: %s\n", "", slowest.c_str());
  }
  std::remove("/tmp/indexer-bench-names.txt");

  std::printf("\n== snapshot of the %zu-symbol index (ctags re-run on the corpus: see the index section)\n", symbols_1m);
  std::printf("save %.0f ms, %.1f MB on disk\n", snapshot.save_ms, snapshot.mb);
  std::printf("warm start in a fresh process: %.0f ms wall (exec, load %.0f ms, first query %.1f ms, exit); the process used\n"
              "%.0f ms of CPU (what a busy machine stretches); resident growth of the load %.0f MB = %.0f bytes/symbol, of which\n"
              "the index accounts for %.0f MB\n",
              snapshot.warm.seconds * 1e3, snapshot.load_ms, snapshot.query_ms, snapshot.cpu_ms, snapshot.resident_mb,
              snapshot.resident_mb * 1e6 / double(std::max<size_t>(symbols_1m, 1)), snapshot.accounted_mb);
  std::printf("\n== memory at %zu symbols\n", symbols_1m);
  std::printf("resident growth while building: %zu bytes/symbol\n", bytes_per_symbol_rss);
  auto per = [&](size_t b) { return double(b) / double(symbols_1m); };
  std::printf("accounted: records %.1f, names %.1f, postings %.1f, strings %.1f (= %.1f without signatures), signatures %.1f bytes/symbol\n",
              per(mem_1m.records), per(mem_1m.names), per(mem_1m.postings), per(mem_1m.strings),
              per(mem_1m.total() - mem_1m.signatures), per(mem_1m.signatures));
  return 0;
}
