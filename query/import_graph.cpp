#include "query/import_graph.h"

#include <algorithm>
#include <cassert>
#include <deque>
#include <iterator>

namespace query {

namespace {

using NodeId = ImportGraph::NodeId;
using Edge = ImportGraph::Edge;

std::optional<NodeId> find_in(const std::vector<std::string>& names, size_t begin, size_t end, std::string_view key) {
  auto first = names.begin() + std::ptrdiff_t(begin), last = names.begin() + std::ptrdiff_t(end);
  auto it = std::lower_bound(first, last, key, [](const std::string& a, std::string_view b) { return a < b; });
  if (it == last || *it != key) return std::nullopt;
  return NodeId(it - names.begin());
}

// CSR offsets for edges already sorted by `key`.
std::vector<uint32_t> offsets_of(const std::vector<Edge>& edges, size_t nodes, NodeId Edge::*key) {
  std::vector<uint32_t> off(nodes + 1, 0);
  for (const Edge& e : edges) ++off[e.*key + 1];
  for (size_t i = 0; i < nodes; ++i) off[i + 1] += off[i];
  return off;
}

}  // namespace

ImportGraph ImportGraph::build(std::span<const FileImports> files) {
  ImportGraph g;
  std::vector<std::string> file_names, externals;
  for (const auto& f : files) {
    file_names.push_back(f.path);
    for (const auto& t : f.targets) (t.external ? externals : file_names).push_back(t.name);
  }
  for (auto* v : {&file_names, &externals}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  g.file_count_ = file_names.size();
  file_names.insert(file_names.end(), std::make_move_iterator(externals.begin()), std::make_move_iterator(externals.end()));
  g.names_ = std::make_shared<const std::vector<std::string>>(std::move(file_names));

  for (const auto& f : files) {
    NodeId from = *g.find_file(f.path);
    for (const auto& t : f.targets) {
      auto to = t.external ? g.find_external(t.name) : g.find_file(t.name);
      assert(to && "every target was added as a node above");
      g.out_.push_back({from, *to, t.line});
    }
  }
  // One edge per pair, keeping the earliest line.
  std::sort(g.out_.begin(), g.out_.end(), [](const Edge& a, const Edge& b) {
    return a.from != b.from ? a.from < b.from : a.to != b.to ? a.to < b.to : a.line < b.line;
  });
  g.out_.erase(std::unique(g.out_.begin(), g.out_.end(), [](const Edge& a, const Edge& b) { return a.from == b.from && a.to == b.to; }),
               g.out_.end());
  g.in_ = g.out_;
  std::sort(g.in_.begin(), g.in_.end(), [](const Edge& a, const Edge& b) { return a.to != b.to ? a.to < b.to : a.from < b.from; });
  g.out_offsets_ = offsets_of(g.out_, g.node_count(), &Edge::from);
  g.in_offsets_ = offsets_of(g.in_, g.node_count(), &Edge::to);
  return g;
}

std::optional<ImportGraph> ImportGraph::replace_files(const ImportGraph& old, std::span<const FileImports> files) {
  // The new edges of the files given, by (from, to), one per pair with its earliest line.
  std::vector<Edge> fresh;
  std::vector<NodeId> replaced;
  for (const auto& f : files) {
    auto from = old.find_file(f.path);
    if (!from) return std::nullopt;
    replaced.push_back(*from);
    for (const auto& t : f.targets) {
      auto to = t.external ? old.find_external(t.name) : old.find_file(t.name);
      if (!to) return std::nullopt;
      fresh.push_back({*from, *to, t.line});
    }
  }
  std::sort(replaced.begin(), replaced.end());
  replaced.erase(std::unique(replaced.begin(), replaced.end()), replaced.end());
  std::sort(fresh.begin(), fresh.end(), [](const Edge& a, const Edge& b) {
    return a.from != b.from ? a.from < b.from : a.to != b.to ? a.to < b.to : a.line < b.line;
  });
  fresh.erase(std::unique(fresh.begin(), fresh.end(), [](const Edge& a, const Edge& b) { return a.from == b.from && a.to == b.to; }),
              fresh.end());
  auto is_replaced = [&](NodeId n) { return std::binary_search(replaced.begin(), replaced.end(), n); };
  std::vector<NodeId> fresh_to;
  for (const Edge& e : fresh) fresh_to.push_back(e.to);
  std::sort(fresh_to.begin(), fresh_to.end());
  // An external that loses its last importer is no node of build()'s graph.
  for (NodeId from : replaced)
    for (const Edge& e : old.imports(from)) {
      if (!old.is_external(e.to)) continue;
      auto in = old.importers(e.to);
      bool kept = std::any_of(in.begin(), in.end(), [&](const Edge& i) { return !is_replaced(i.from); }) ||
                  std::binary_search(fresh_to.begin(), fresh_to.end(), e.to);
      if (!kept) return std::nullopt;
    }
  ImportGraph g;
  g.names_ = old.names_;
  g.file_count_ = old.file_count_;
  g.out_.reserve(old.out_.size() + fresh.size());
  auto next_fresh = fresh.begin();
  for (NodeId n = 0; n < old.node_count(); ++n) {
    if (!is_replaced(n)) {
      auto own = old.imports(n);
      g.out_.insert(g.out_.end(), own.begin(), own.end());
      continue;
    }
    for (; next_fresh != fresh.end() && next_fresh->from == n; ++next_fresh) g.out_.push_back(*next_fresh);
  }
  std::vector<Edge> fresh_in = fresh;
  auto by_to = [](const Edge& a, const Edge& b) { return a.to != b.to ? a.to < b.to : a.from < b.from; };
  std::sort(fresh_in.begin(), fresh_in.end(), by_to);
  std::vector<Edge> kept_in;
  kept_in.reserve(old.in_.size());
  for (const Edge& e : old.in_)
    if (!is_replaced(e.from)) kept_in.push_back(e);
  g.in_.reserve(kept_in.size() + fresh_in.size());
  std::merge(kept_in.begin(), kept_in.end(), fresh_in.begin(), fresh_in.end(), std::back_inserter(g.in_), by_to);
  g.out_offsets_ = offsets_of(g.out_, g.node_count(), &Edge::from);
  g.in_offsets_ = offsets_of(g.in_, g.node_count(), &Edge::to);
  return g;
}

std::optional<NodeId> ImportGraph::find_file(std::string_view path) const { return find_in(*names_, 0, file_count_, path); }

std::optional<NodeId> ImportGraph::find_external(std::string_view name) const {
  return find_in(*names_, file_count_, names_->size(), name);
}

std::span<const Edge> ImportGraph::imports(NodeId n) const {
  return {out_.data() + out_offsets_[n], out_.data() + out_offsets_[n + 1]};
}

std::span<const Edge> ImportGraph::importers(NodeId n) const {
  return {in_.data() + in_offsets_[n], in_.data() + in_offsets_[n + 1]};
}

std::vector<ImportGraph::Reached> ImportGraph::reach(NodeId start, uint32_t max_depth, bool forward) const {
  std::vector<Reached> out;
  std::vector<bool> seen(node_count(), false);
  seen[start] = true;
  // `out` is the BFS queue: the nodes of one depth are appended in id order of their parents'
  // edges, then sorted, so each level comes out by id.
  size_t level_begin = 0;
  std::vector<NodeId> frontier{start};
  for (uint32_t depth = 1; depth <= max_depth && !frontier.empty(); ++depth) {
    for (NodeId n : frontier)
      for (const Edge& e : forward ? imports(n) : importers(n)) {
        NodeId next = forward ? e.to : e.from;
        if (seen[next]) continue;
        seen[next] = true;
        out.push_back({next, depth});
      }
    std::sort(out.begin() + std::ptrdiff_t(level_begin), out.end(), [](const Reached& a, const Reached& b) { return a.node < b.node; });
    frontier.clear();
    for (size_t i = level_begin; i < out.size(); ++i) frontier.push_back(out[i].node);
    level_begin = out.size();
    if (depth == kUnlimited) break;
  }
  return out;
}

std::vector<ImportGraph::Reached> ImportGraph::dependencies(NodeId n, uint32_t max_depth) const { return reach(n, max_depth, true); }
std::vector<ImportGraph::Reached> ImportGraph::dependents(NodeId n, uint32_t max_depth) const { return reach(n, max_depth, false); }

std::vector<std::vector<NodeId>> ImportGraph::cycles() const {
  constexpr uint32_t kNone = UINT32_MAX;
  const size_t n = node_count();
  std::vector<uint32_t> index(n, kNone), low(n, 0);
  std::vector<bool> on_stack(n, false);
  std::vector<NodeId> stack;
  struct Frame {
    NodeId node;
    uint32_t next_edge;  // position in out_
  };
  std::vector<Frame> calls;
  std::vector<std::vector<NodeId>> out;
  uint32_t counter = 0;
  for (NodeId root = 0; root < file_count_; ++root) {
    if (index[root] != kNone) continue;
    auto enter = [&](NodeId v) {
      index[v] = low[v] = counter++;
      stack.push_back(v);
      on_stack[v] = true;
      calls.push_back({v, out_offsets_[v]});
    };
    enter(root);
    while (!calls.empty()) {
      Frame& f = calls.back();
      NodeId v = f.node;
      if (f.next_edge < out_offsets_[v + 1]) {
        NodeId w = out_[f.next_edge++].to;
        if (index[w] == kNone) enter(w);  // invalidates f; the loop re-reads calls.back()
        else if (on_stack[w]) low[v] = std::min(low[v], index[w]);
        continue;
      }
      calls.pop_back();
      if (!calls.empty()) low[calls.back().node] = std::min(low[calls.back().node], low[v]);
      if (low[v] != index[v]) continue;
      std::vector<NodeId> component;
      NodeId w;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[w] = false;
        component.push_back(w);
      } while (w != v);
      auto own = imports(v);
      bool self_import = component.size() == 1 && std::any_of(own.begin(), own.end(), [&](const Edge& e) { return e.to == v; });
      if (component.size() > 1 || self_import) {
        std::sort(component.begin(), component.end());
        out.push_back(std::move(component));
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.front() < b.front(); });
  return out;
}

std::optional<std::vector<NodeId>> ImportGraph::shortest_path(NodeId from, NodeId to) const {
  constexpr NodeId kNone = UINT32_MAX;
  std::vector<NodeId> parent(node_count(), kNone);
  parent[from] = from;
  std::deque<NodeId> queue{from};
  while (!queue.empty() && parent[to] == kNone) {
    NodeId n = queue.front();
    queue.pop_front();
    for (const Edge& e : imports(n)) {
      if (parent[e.to] != kNone) continue;
      parent[e.to] = n;
      queue.push_back(e.to);
    }
  }
  if (parent[to] == kNone) return std::nullopt;
  std::vector<NodeId> path{to};
  while (path.back() != from) path.push_back(parent[path.back()]);
  std::reverse(path.begin(), path.end());
  return path;
}

}  // namespace query
