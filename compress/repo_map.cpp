#include "compress/repo_map.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace compress {

namespace {

constexpr double kDamping = 0.85;
constexpr int kIterations = 30;
constexpr double kFocusShare = 0.8;  // of the teleport; the rest is spread over every file
constexpr double kFocusBoost = 10.0;
constexpr size_t kSortedFirst = 4096;  // definitions put in order before the search  // a focus file's rank in the map, over its PageRank

// What a definition is worth to a reader of the map, beside its file's rank.
double kind_weight(query::Kind k) {
  switch (k) {
    case query::Kind::Class:
    case query::Kind::Struct:
    case query::Kind::Interface:
    case query::Kind::Enum:
    case query::Kind::TypeAlias:
    case query::Kind::Module:
    case query::Kind::Namespace:
      return 1.0;
    case query::Kind::Function:
      return 0.9;
    case query::Kind::Method:
    case query::Kind::Constructor:
      return 0.7;
    case query::Kind::Constant:
    case query::Kind::Macro:
      return 0.5;
    default:
      return 0.3;
  }
}

// The map of the first `n` symbols of `order`: files by rank, each file's symbols in file order.
std::string render(const query::Index& index, const std::vector<uint32_t>& order, size_t n, const std::vector<uint32_t>& file_place,
                   size_t& files) {
  std::vector<uint32_t> shown(order.begin(), order.begin() + std::ptrdiff_t(n));
  std::vector<std::pair<uint32_t, uint32_t>> placed;  // (file's place, symbol id)
  placed.reserve(n);
  for (uint32_t id : shown) placed.emplace_back(file_place[index.symbol(id).file], id);
  std::sort(placed.begin(), placed.end());
  std::string out;
  files = 0;
  uint32_t current = UINT32_MAX;
  for (auto [place, id] : placed) {
    query::Symbol s = index.symbol(id);
    if (s.file != current) {
      current = s.file;
      ++files;
      out += s.path;
      out += ":\n";
    }
    out += s.container.empty() ? "  " : "    ";
    out += std::to_string(s.range.start.line + 1);
    out += ": ";
    if (s.signature.empty()) {
      out += query::kind_name(s.kind);
      out += ' ';
      out += s.name;
    } else {
      out += s.signature.substr(0, 200);
    }
    out += '\n';
  }
  return out;
}

// How often the focus names each file: as a path, or as the file of a symbol of that name.
std::vector<double> focus_weights(const query::Index& index, const std::vector<std::string>& focus) {
  std::vector<double> w(index.file_count(), 0.0);
  for (const auto& f : focus) {
    if (auto file = index.find_file(f)) {
      w[*file] += 1;
      continue;
    }
    for (uint32_t id : index.find_exact(f)) w[index.symbol(id).file] += 1;
  }
  return w;
}

}  // namespace

std::vector<double> file_ranks(const query::Index& index, const query::ImportGraph& graph, const std::vector<std::string>& focus) {
  const size_t n = index.file_count();
  std::vector<double> rank(n, n ? 1.0 / double(n) : 0.0);
  if (n == 0) return rank;
  // The graph's file nodes as the index's file ids.
  std::vector<uint32_t> file_of(graph.file_count(), UINT32_MAX);
  for (query::ImportGraph::NodeId v = 0; v < graph.file_count(); ++v)
    if (auto f = index.find_file(graph.name(v))) file_of[v] = *f;
  std::vector<std::vector<uint32_t>> out(n);  // imported files, by importer
  for (query::ImportGraph::NodeId v = 0; v < graph.file_count(); ++v) {
    if (file_of[v] == UINT32_MAX) continue;
    for (const auto& e : graph.imports(v))
      if (!graph.is_external(e.to) && file_of[e.to] != UINT32_MAX && file_of[e.to] != file_of[v]) out[file_of[v]].push_back(file_of[e.to]);
  }
  // Teleport: toward the focus (its files, and the files defining its names), some to every file.
  std::vector<double> teleport = focus_weights(index, focus);
  double focused = std::accumulate(teleport.begin(), teleport.end(), 0.0);
  for (size_t f = 0; f < n; ++f)
    teleport[f] = focused > 0 ? kFocusShare * teleport[f] / focused + (1 - kFocusShare) / double(n) : 1.0 / double(n);
  std::vector<double> next(n);
  for (int it = 0; it < kIterations; ++it) {
    double dangling = 0;
    for (size_t f = 0; f < n; ++f)
      if (out[f].empty()) dangling += rank[f];
    for (size_t f = 0; f < n; ++f) next[f] = (1 - kDamping + kDamping * dangling) * teleport[f];
    for (size_t f = 0; f < n; ++f)
      for (uint32_t to : out[f]) next[to] += kDamping * rank[f] / double(out[f].size());
    double moved = 0;
    for (size_t f = 0; f < n; ++f) moved += std::fabs(next[f] - rank[f]);
    rank.swap(next);
    if (moved < 1e-9) break;
  }
  return rank;
}

RepoMap repo_map(const query::Index& index, const query::ImportGraph& graph, const RepoMapOptions& options) {
  RepoMap out;
  // PageRank, and the focus's own files ahead of it (as aider weighs mentioned names): what the
  // caller asked about comes first, what it depends on next.
  std::vector<double> rank = file_ranks(index, graph, options.focus);
  std::vector<double> focus = focus_weights(index, options.focus);
  for (size_t f = 0; f < rank.size(); ++f)
    if (focus[f] > 0) rank[f] = rank[f] * kFocusBoost + 1.0;
  const size_t m = index.symbol_count();
  std::vector<float> score(m);
  for (uint32_t id = 0; id < m; ++id) {
    query::Symbol s = index.symbol(id);
    score[id] = float(rank[s.file] * kind_weight(s.kind) * (s.container.empty() ? 1.0 : 0.5));
  }
  // Best first; ties by id, which is path then position. A map shows hundreds of definitions, not
  // the index's every one: only the best few thousand are put in order, unless more fit.
  std::vector<uint32_t> order(m);
  std::iota(order.begin(), order.end(), 0u);
  auto better = [&](uint32_t a, uint32_t b) { return score[a] != score[b] ? score[a] > score[b] : a < b; };
  size_t sorted = std::min<size_t>(m, kSortedFirst);
  std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(sorted), order.end(), better);
  // Files in the map by rank, ties by path (file ids are in path order).
  std::vector<uint32_t> by_rank(index.file_count());
  std::iota(by_rank.begin(), by_rank.end(), 0u);
  std::sort(by_rank.begin(), by_rank.end(), [&](uint32_t a, uint32_t b) { return rank[a] != rank[b] ? rank[a] > rank[b] : a < b; });
  std::vector<uint32_t> place(index.file_count());
  for (uint32_t p = 0; p < by_rank.size(); ++p) place[by_rank[p]] = p;

  auto fits = [&](size_t n, std::string& text, size_t& files) {
    text = render(index, order, n, place, files);
    return options.count(text) <= options.budget;
  };
  if (sorted < m) {
    size_t files_unused = 0;
    std::string text_unused;
    if (fits(sorted, text_unused, files_unused)) std::sort(order.begin(), order.end(), better);  // more fit: all in order
  }
  // The most symbols that fit: doubling, then bisection between the last that fit and the first that did not.
  size_t good = 0, bad = m + 1;
  std::string text;
  size_t files = 0;
  for (size_t n = 1; n <= m; n *= 2) {
    if (!fits(n, text, files)) {
      bad = n;
      break;
    }
    good = n;
    if (n == m) break;
    if (n * 2 > m) {
      if (fits(m, text, files)) good = m;
      else bad = m;
      break;
    }
  }
  while (bad - good > 1 && good < m) {
    size_t mid = good + (bad - good) / 2;
    if (fits(mid, text, files)) good = mid;
    else bad = mid;
  }
  out.text = render(index, order, good, place, out.files);
  out.tokens = options.count(out.text);
  out.symbols = good;
  return out;
}

}  // namespace compress
