// compress/diff beside its peers, in one run: GNU `diff -u`, `git diff --no-index --histogram`,
// dtl alone (indexer_dtl_diff), and ours both in process and as `indexer diff`, on generated pairs
// of several shapes. Every program reads the two files and writes its diff to a file; each is
// timed as the best of --runs (wall) and its CPU time (user + system, of that best run). Ratios
// are each row's time over `indexer diff`'s (the same work: read, diff, write), wall and CPU: on
// a shared machine wall time is mostly waiting for a core. "changed" counts the -/+ lines each
// wrote (fewer is closer to minimal).
//
// Usage: indexer_diff_bench [--runs N] [--mb M] [--dir DIR]
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bench/stats.h"
#include "compress/diff.h"

namespace fs = std::filesystem;

namespace {

struct Timing {
  double wall_ms = 1e300, cpu_ms = 0;
  int status = -1;
  size_t changed = 0;  // the -/+ lines of its diff: how close to minimal
};

// The -/+ lines of a unified diff, its "--- "/"+++ " headers aside (git's own header lines too).
size_t changed_lines(const std::string& u) {
  size_t n = 0;
  for (size_t start = 0; start < u.size();) {
    size_t end = std::min(u.find('\n', start), u.size());
    std::string_view l(u.data() + start, end - start);
    if ((l.starts_with('-') && !l.starts_with("--- ")) || (l.starts_with('+') && !l.starts_with("+++ "))) ++n;
    start = end + 1;
  }
  return n;
}

double cpu_now_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

std::string slurp(const fs::path& p);

Timing run_process(const std::vector<std::string>& argv, int runs, const fs::path& out) {
  Timing best;
  for (int r = 0; r < runs; ++r) {
    auto t0 = bench::Clock::now();
    pid_t pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY), file = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(file, 1), dup2(null, 2);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    double wall = bench::ms_since(t0);
    double cpu = double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 + double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
    if (wall < best.wall_ms) best = {wall, cpu, WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0};
  }
  best.changed = changed_lines(slurp(out));
  return best;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// Code-like lines: indented words, a number so most lines are unique, and the frequent "}" and
// blank lines real code has. `vocabulary` > 0 draws whole lines from that many instead.
std::string code_line(std::mt19937& rng, size_t vocabulary) {
  static const char* words[] = {"int", "return", "if", "for", "while", "x", "y", "value", "count", "(", ")", "{", "=", "+", ";", "->", "auto", "const"};
  if (vocabulary) return "line " + std::to_string(rng() % vocabulary);
  unsigned r = rng() % 100;
  if (r < 8) return "}";
  if (r < 15) return "";
  std::string s(4 * (rng() % 4), ' ');
  for (unsigned w = 0, n = 2 + rng() % 9; w < n; ++w) s += std::string(words[rng() % std::size(words)]) + " ";
  return s + "// " + std::to_string(rng() % 1000000);
}

struct Shape {
  const char* name;
  double edited;    // fraction of lines edited (replaced, deleted or inserted)
  size_t moves;     // blocks of 50 lines moved elsewhere
  size_t vocabulary;
  double mb;
  bool swap_pairs = false;  // every pair of lines swapped (histogram alone goes quadratic)
};

void make_pair(const Shape& s, const fs::path& a, const fs::path& b, double mb) {
  std::mt19937 rng(42);
  std::vector<std::string> lines;
  size_t bytes = 0;
  while (double(bytes) < mb * 1e6) lines.push_back(code_line(rng, s.vocabulary)), bytes += lines.back().size() + 1;
  std::vector<std::string> changed = lines;
  for (size_t e = 0, n = size_t(double(lines.size()) * s.edited); e < n; ++e) {
    size_t at = rng() % changed.size();
    switch (rng() % 3) {
      case 0: changed[at] += " edited"; break;
      case 1: changed.erase(changed.begin() + long(at)); break;
      default: changed.insert(changed.begin() + long(at), "inserted " + std::to_string(rng()));
    }
  }
  if (s.swap_pairs)
    for (size_t i = 0; i + 1 < changed.size(); i += 2) std::swap(changed[i], changed[i + 1]);
  for (size_t m = 0; m < s.moves; ++m) {
    size_t at = rng() % (changed.size() - 50);
    std::vector<std::string> block(changed.begin() + long(at), changed.begin() + long(at + 50));
    changed.erase(changed.begin() + long(at), changed.begin() + long(at + 50));
    size_t to = rng() % changed.size();
    changed.insert(changed.begin() + long(to), block.begin(), block.end());
  }
  auto write = [](const fs::path& p, const std::vector<std::string>& ls) {
    std::ofstream f(p, std::ios::binary);
    for (const auto& l : ls) f << l << '\n';
  };
  write(a, lines), write(b, changed);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  double mb = 5;
  fs::path dir = fs::temp_directory_path() / "indexer-diff-bench";
  fs::path self = fs::canonical("/proc/self/exe").parent_path();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--mb" && i + 1 < argc) mb = std::atof(argv[++i]);
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else return std::fprintf(stderr, "usage: indexer_diff_bench [--runs N] [--mb M] [--dir DIR]\n"), 2;
  }
  fs::create_directories(dir);
  std::string indexer = (self / "indexer").string(), dtl = (self / "indexer_dtl_diff").string();
  const Shape shapes[] = {
      {"1% of lines edited", 0.01, 0, 0, mb},
      {"10% of lines edited", 0.10, 0, 0, mb},
      {"1% edited, 40 blocks of 50 lines moved", 0.01, 40, 0, mb},
      {"1% edited, lines from 4 distinct (no anchor: dtl's part)", 0.01, 0, 4, mb / 5},
      {"every pair of lines swapped (patience's part)", 0, 0, 0, mb / 10, true},
  };
  std::printf("best of %d runs; wall ms (cpu ms: user + system); ratios to `indexer diff`, wall (cpu)\n", runs);
  for (const Shape& s : shapes) {
    fs::path a = dir / "old.txt", b = dir / "new.txt";
    make_pair(s, a, b, s.mb);
    std::string old_text = slurp(a), new_text = slurp(b);
    Timing ours;
    compress::Diff d;
    for (int r = 0; r < runs; ++r) {
      double c0 = cpu_now_ms();
      auto t0 = bench::Clock::now();
      auto result = compress::diff_text(old_text, new_text);
      double wall = bench::ms_since(t0), cpu = cpu_now_ms() - c0;
      d = std::get<compress::Diff>(std::move(result));
      if (wall < ours.wall_ms) ours = {wall, cpu, 1, size_t(d.added) + d.removed};
    }
    std::printf("\n%s: %.1f MB, %zu hunks, +%u -%u%s\n", s.name, double(old_text.size()) / 1e6, d.hunks.size(), d.added, d.removed,
                d.coarse ? " (coarse: the budget ran out)" : "");
    Timing process = run_process({indexer, "diff", a, b}, runs, dir / "out");
    auto row = [&](const char* name, const Timing& t) {
      std::printf("  %-34s %8.1f ms (%6.1f)  %5.2fx (%5.2fx)  changed %zu\n", name, t.wall_ms, t.cpu_ms, t.wall_ms / process.wall_ms,
                  t.cpu_ms / process.cpu_ms, t.changed);
    };
    row("ours, in process (no file reads)", ours);
    row("ours, indexer diff", process);
    row("GNU diff -u", run_process({"diff", "-u", a, b}, runs, dir / "out"));
    row("git diff --no-index --histogram", run_process({"git", "diff", "--no-index", "--histogram", "--no-color", a, b}, runs, dir / "out"));
    row("dtl alone (indexer_dtl_diff)", run_process({dtl, a, b}, runs, dir / "out"));
    std::fflush(stdout);
  }
  fs::remove_all(dir);
  return 0;
}
