// Where extraction time goes, on one thread: per language, the parse, the query cursor alone, the
// whole Extractor::run (parse + cursor + predicates + captures), IndexBuilder::add and finish;
// also a bare TSTreeCursor walk of every node, for scale.
//
//   indexer_phases [--patterns LANG] [--reps N] [--roots] [--whole-tree] [--cursor] [--dump FILE] DIR...
//
// --patterns LANG also times the cursor with one pattern enabled at a time (others disabled with
// ts_query_disable_pattern) over that language's files, and prints the patterns by cost. Sums of
// per-pattern times exceed the whole query: each run pays the cursor's walk of the tree.
// --roots prints, per language, the node types where extraction runs the query; --whole-tree
// makes extraction run it over the whole tree instead (the slower way, for comparison); --cursor
// makes it run tree-sitter's query cursor at the roots instead of our matcher (indexer/matcher.h);
// --dump FILE writes every file's symbols and imports as extracted: two dumps must be equal.
// Honours INDEXER_QUERIES_DIR like the indexer does.
#include <tree_sitter/api.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "grammars/grammars.h"
#include "indexer/extract.h"
#include "indexer/matcher.h"
#include "indexer/pattern_roots.h"
#include "indexer/query_syntax.h"
#include "query/query.h"

namespace fs = std::filesystem;
// Thread CPU time: other processes on the machine do not count (wall time here is noisy).
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
  }
};
using grammars::Language;

namespace {

double since(Clock::time_point t) { return Clock::now() - t; }

struct File {
  std::string path;
  std::string text;
  Language lang;
};

struct Times {
  size_t files = 0, bytes = 0, matches = 0;
  double parse = 0, walk = 0, cursor = 0, run = 0, add = 0;
};

// A TSTreeCursor visit of every node, reading its symbol: the least any extraction that looks
// at every node pays (the indexer's walk also runs the query where patterns can be rooted).
size_t walk_tree(TSNode root) {
  TSTreeCursor c = ts_tree_cursor_new(root);
  size_t sum = 0;
  for (;;) {
    sum += ts_node_symbol(ts_tree_cursor_current_node(&c));
    if (ts_tree_cursor_goto_first_child(&c)) continue;
    while (!ts_tree_cursor_goto_next_sibling(&c))
      if (!ts_tree_cursor_goto_parent(&c)) {
        ts_tree_cursor_delete(&c);
        return sum;
      }
  }
}

// Every symbol and import of one file, in the order extraction gives them: to compare two builds
// or --whole-tree with the default, imports included (export shows only symbols).
void dump_extraction(std::FILE* out, const std::string& path, const indexer::Extraction& ex) {
  auto str = [](std::string_view v) { return std::string(v); };
  for (const auto& s : ex.symbols)
    std::fprintf(out, "%s\t%s\t%s\t%s\t%u:%u-%u:%u\t%u:%u\t%s\n", path.c_str(), std::string(query::kind_name(s.kind)).c_str(),
                 str(s.container).c_str(), str(s.name).c_str(), s.range.start.line, s.range.start.column, s.range.end.line,
                 s.range.end.column, s.selection.start.line, s.selection.start.column, str(s.signature).c_str());
  for (const auto& i : ex.imports)
    std::fprintf(out, "%s\timport\t%s\t%s\t%u\n", path.c_str(), str(i.kind).c_str(), str(i.specifier).c_str(), i.line);
  if (ex.dropped_matches) std::fprintf(out, "%s\tdropped matches\n", path.c_str());
}

// Where the query runs (indexer/pattern_roots.h): the root types, and per wildcard root the child
// types it needs.
void print_roots(const TSLanguage* lang, const indexer::detail::PatternRoots& r) {
  if (!r.pinned) {
    std::fprintf(stderr, "  not pinned: %s\n", r.why.c_str());
    return;
  }
  std::fprintf(stderr, "  roots:");
  for (size_t s = 0; s < r.self.size(); ++s)
    if (r.self[s]) std::fprintf(stderr, " %s", ts_language_symbol_name(lang, TSSymbol(s)));
  std::fprintf(stderr, "\n");
  for (uint64_t w : r.wildcards) {
    std::fprintf(stderr, "  wildcard root, children:");
    for (int b = 0; b < 64; ++b) {
      if (!(w >> b & 1)) continue;
      std::fprintf(stderr, " {");
      for (size_t s = 0; s < r.child_bits.size(); ++s)
        if (r.child_bits[s] >> b & 1) std::fprintf(stderr, " %s", ts_language_symbol_name(lang, TSSymbol(s)));
      std::fprintf(stderr, " }");
    }
    std::fprintf(stderr, "\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string pattern_lang;
  int reps = 1;
  bool show_roots = false, whole_tree = false, cursor_only = false;
  std::string dump_path;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--patterns" && i + 1 < argc) pattern_lang = argv[++i];
    else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (a == "--roots") show_roots = true;
    else if (a == "--whole-tree") whole_tree = true;
    else if (a == "--cursor") cursor_only = true;
    else if (a == "--dump" && i + 1 < argc) dump_path = argv[++i];
    else dirs.push_back(a);
  }
  std::vector<File> files;
  for (const auto& d : dirs) {
    for (auto it = fs::recursive_directory_iterator(d, fs::directory_options::skip_permission_denied);
         it != fs::recursive_directory_iterator(); ++it) {
      if (!it->is_regular_file() || it->is_symlink()) continue;
      std::string p = it->path().string();
      Language lang = grammars::detect_language(p, "");
      if (lang == Language::Unknown || it->file_size() > (4u << 20)) continue;
      std::ifstream in(p, std::ios::binary);
      std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      if (text.find('\0') != std::string::npos) continue;
      files.push_back({p, std::move(text), lang});
    }
  }
  std::map<Language, TSQuery*> queries;
  for (const auto& f : files) {
    if (queries.count(f.lang)) continue;
    const auto& spec = grammars::spec(f.lang);
    std::string src = indexer::detail::query_source(spec);
    uint32_t off;
    TSQueryError err;
    auto t = Clock::now();
    queries[f.lang] = ts_query_new(spec.grammar(), src.data(), uint32_t(src.size()), &off, &err);
    std::fprintf(stderr, "%s query: %.3f s to compile%s\n", std::string(spec.name).c_str(), since(t),
                 queries[f.lang] ? "" : " FAILED");
    if (queries[f.lang] && show_roots) {
      const indexer::detail::ParsedQuery parsed = indexer::detail::read_query(src);
      print_roots(spec.grammar(), indexer::detail::pattern_roots(spec.grammar(), parsed));
      // Which patterns the matcher takes (indexer/matcher.h); the others run in tree-sitter's cursor.
      indexer::detail::Matcher m(spec.grammar(), parsed);
      for (uint32_t p = 0; p < m.handled().size(); ++p)
        if (!m.handled()[p]) {
          uint32_t a = ts_query_start_byte_for_pattern(queries[f.lang], p);
          std::fprintf(stderr, "  left to the cursor: pattern %u: %.70s\n", p, src.c_str() + a);
        }
    }
  }

  TSParser* parser = ts_parser_new();
  TSQueryCursor* qc = ts_query_cursor_new();
  ts_query_cursor_set_match_limit(qc, 2048);
  indexer::detail::Extractor ex;
  ex.match_whole_tree(whole_tree);
  ex.match_with_cursor(cursor_only);
  indexer::Extraction out;
  std::FILE* dump = dump_path.empty() ? nullptr : std::fopen(dump_path.c_str(), "w");
  query::IndexBuilder builder;
  std::map<Language, Times> times;
  std::vector<TSTree*> trees(files.size(), nullptr);
  std::vector<std::pair<size_t, std::string>> per_file;
  size_t walk_checksum = 0;
  for (const auto& [lang, q] : queries) ex.run(lang, "", out);  // compiles the indexer's own query
  for (int r = 0; r < reps; ++r) {
    for (size_t i = 0; i < files.size(); ++i) {
      const File& f = files[i];
      const auto& spec = grammars::spec(f.lang);
      Times& t = times[f.lang];
      ts_parser_set_language(parser, spec.grammar());
      auto t0 = Clock::now();
      TSTree* tree = ts_parser_parse_string(parser, nullptr, f.text.data(), uint32_t(f.text.size()));
      t.parse += since(t0);
      t0 = Clock::now();
      walk_checksum += walk_tree(ts_tree_root_node(tree));
      t.walk += since(t0);
      t0 = Clock::now();
      ts_query_cursor_exec(qc, queries[f.lang], ts_tree_root_node(tree));
      TSQueryMatch m;
      size_t n = 0;
      while (ts_query_cursor_next_match(qc, &m)) ++n;
      t.cursor += since(t0);
      if (r == 0) t.matches += n, per_file.push_back({n, f.path});
      t0 = Clock::now();
      ex.run(f.lang, f.text, out);
      t.run += since(t0);
      if (r == 0 && dump) dump_extraction(dump, f.path, out);
      if (r == 0) {
        query::FileInput in;
        in.path = f.path;
        in.language = f.lang;
        in.size = f.text.size();
        in.symbols = out.symbols;
        in.imports = out.imports;
        t0 = Clock::now();
        builder.add(in);
        t.add += since(t0);
        t.files++;
        t.bytes += f.text.size();
      }
      if (!pattern_lang.empty() && spec.name == pattern_lang && r == 0) {
        trees[i] = tree;
      } else {
        t0 = Clock::now();  // freeing the tree is part of the floor: parse-only indexing pays it too
        ts_tree_delete(tree);
        t.parse += since(t0);
      }
    }
  }
  auto t0 = Clock::now();
  auto index = builder.finish();
  double finish = since(t0);
  std::printf("%-11s %6s %7s %8s %8s %8s %8s %8s %8s %8s\n", "lang", "files", "MB", "parse", "walk", "cursor", "run",
              "run-parse", "add", "matches");
  Times all;
  for (auto& [lang, t] : times) {
    std::printf("%-11s %6zu %7.1f %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f %8zu\n", std::string(grammars::spec(lang).name).c_str(),
                t.files, t.bytes / 1e6, t.parse / reps, t.walk / reps, t.cursor / reps, t.run / reps, (t.run - t.parse) / reps,
                t.add, t.matches);
    all.parse += t.parse / reps, all.run += t.run / reps, all.add += t.add;
  }
  std::printf("finish %.3f s (walk checksum %zu)\n", finish, walk_checksum);
  // What one thread spends beyond parsing, relative to parsing: the CPU side of issue 2's ratio.
  std::printf("CPU ours/parse-only: (run %.3f + add %.3f + finish %.3f) / parse %.3f = %.3fx\n", all.run, all.add, finish,
              all.parse, (all.run + all.add + finish) / all.parse);
  std::sort(per_file.rbegin(), per_file.rend());
  for (size_t i = 0; i < std::min<size_t>(5, per_file.size()); ++i)
    std::printf("  %9zu matches  %s\n", per_file[i].first, per_file[i].second.c_str());

  if (!pattern_lang.empty()) {
    Language lang = grammars::language_from_name(pattern_lang);
    TSQuery* q = queries[lang];
    const auto& spec = grammars::spec(lang);
    std::string src = indexer::detail::query_source(spec);
    uint32_t np = ts_query_pattern_count(q);
    struct Row {
      uint32_t p;
      double sec;
      size_t matches;
    };
    std::vector<Row> rows;
    auto time_query = [&](TSQuery* qq, size_t* matches) {
      double best = 1e9;
      for (int r = 0; r < std::max(reps, 1); ++r) {
        auto t = Clock::now();
        size_t n = 0;
        for (TSTree* tree : trees) {
          if (!tree) continue;
          ts_query_cursor_exec(qc, qq, ts_tree_root_node(tree));
          TSQueryMatch m;
          while (ts_query_cursor_next_match(qc, &m)) ++n;
        }
        best = std::min(best, since(t));
        *matches = n;
      }
      return best;
    };
    // Queries made of some patterns' text (ts_query_disable_pattern mishandles wildcard roots).
    auto with_only = [&](int keep, int drop, size_t* matches) {
      std::string text;
      for (uint32_t k = 0; k < np; ++k)
        if ((keep < 0 || int(k) == keep) && int(k) != drop) {
          uint32_t a = ts_query_start_byte_for_pattern(q, k), b = ts_query_end_byte_for_pattern(q, k);
          text.append(src, a, b - a).append("\n");
        }
      if (text.empty()) text = "((ERROR) @_never (#eq? @_never \"\"))";
      uint32_t off;
      TSQueryError err;
      TSQuery* qq = ts_query_new(spec.grammar(), text.data(), uint32_t(text.size()), &off, &err);
      if (!qq) {
        std::fprintf(stderr, "pattern %d/%d: query error %d at %u\n", keep, drop, int(err), off);
        return 0.0;
      }
      double s = time_query(qq, matches);
      ts_query_delete(qq);
      return s;
    };
    size_t n = 0;
    double all = time_query(q, &n);
    std::printf("all patterns: %.3f s, %zu matches\n", all, n);
    double none = with_only(int(np), -1, &n);
    std::printf("no pattern (the walk): %.3f s\n", none);
    std::printf("  pattern   line   alone-walk  all-minus-it  matches\n");
    std::vector<double> minus(np);
    for (uint32_t p = 0; p < np; ++p) {
      double s = with_only(int(p), -1, &n);
      rows.push_back({p, s - none, n});
      minus[p] = all - with_only(-1, int(p), &n);
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.sec > b.sec; });
    for (const Row& r : rows) {
      uint32_t start = ts_query_start_byte_for_pattern(q, r.p);
      size_t line = 1 + std::count(src.begin(), src.begin() + start, '\n');
      std::string head = src.substr(start, 70);
      std::replace(head.begin(), head.end(), '\n', ' ');
      std::printf("  #%-3u line %-4zu %7.3f s %7.3f s %8zu  %s\n", r.p, line, r.sec, minus[r.p], r.matches, head.c_str());
    }
  }
  for (TSTree* t : trees)
    if (t) ts_tree_delete(t);
  if (dump) std::fclose(dump);
  return 0;
}
