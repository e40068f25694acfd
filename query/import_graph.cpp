#include "query/import_graph.h"

#include <algorithm>
#include <cassert>
#include <deque>

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
  g.names_ = std::move(file_names);
  g.names_.insert(g.names_.end(), std::make_move_iterator(externals.begin()), std::make_move_iterator(externals.end()));

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
  g.out_offsets_ = offsets_of(g.out_, g.names_.size(), &Edge::from);
  g.in_offsets_ = offsets_of(g.in_, g.names_.size(), &Edge::to);
  return g;
}

std::optional<NodeId> ImportGraph::find_file(std::string_view path) const { return find_in(names_, 0, file_count_, path); }

std::optional<NodeId> ImportGraph::find_external(std::string_view name) const {
  return find_in(names_, file_count_, names_.size(), name);
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
