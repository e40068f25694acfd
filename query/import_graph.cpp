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

std::optional<ImportGraph> ImportGraph::replace_files(const ImportGraph& old, std::span<const FileImports> files,
                                                      std::span<const std::string> removed) {
  constexpr NodeId kGone = UINT32_MAX;
  const std::vector<std::string>& names = *old.names_;
  // Old nodes whose edges go: the files given and the files removed.
  std::vector<char> dropped_out(old.node_count(), 0), removed_file(old.node_count(), 0);
  std::vector<std::string> added;  // given files that are no node of `old`
  for (const auto& f : files) {
    if (auto n = old.find_file(f.path)) dropped_out[*n] = 1;
    else added.push_back(f.path);
  }
  for (const auto& p : removed)
    if (auto n = old.find_file(p)) dropped_out[*n] = removed_file[*n] = 1;
  for (const auto& f : files)
    if (auto n = old.find_file(f.path)) removed_file[*n] = 0;  // given and removed: given wins
  std::sort(added.begin(), added.end());
  added.erase(std::unique(added.begin(), added.end()), added.end());
  // Externals that keep an importer among the edges kept, and the targets of the new edges.
  std::vector<char> kept_external(old.node_count(), 0);
  for (NodeId n = NodeId(old.file_count_); n < old.node_count(); ++n)
    for (const Edge& e : old.importers(n))
      if (!dropped_out[e.from]) {
        kept_external[n] = 1;
        break;
      }
  std::vector<std::string_view> new_externals, new_files;
  for (const auto& f : files)
    for (const auto& t : f.targets) {
      if (t.external) {
        if (auto n = old.find_external(t.name)) kept_external[*n] = 1;
        else new_externals.push_back(t.name);
      } else {
        new_files.push_back(t.name);
      }
    }
  std::sort(new_externals.begin(), new_externals.end());
  new_externals.erase(std::unique(new_externals.begin(), new_externals.end()), new_externals.end());

  // The new node list and the old ids' new ones: both sorted, so the map is monotonic and edges
  // remapped through it stay in order. The names are shared when the nodes did not change.
  ImportGraph g;
  std::vector<NodeId> to_new(old.node_count(), kGone);
  bool same_nodes = added.empty() && new_externals.empty();
  for (NodeId n = 0; n < old.node_count() && same_nodes; ++n)
    same_nodes = n < old.file_count_ ? !removed_file[n] : kept_external[n];
  if (same_nodes) {
    g.names_ = old.names_;
    g.file_count_ = old.file_count_;
    for (NodeId n = 0; n < old.node_count(); ++n) to_new[n] = n;
  } else {
    auto merged = std::make_shared<std::vector<std::string>>();
    merged->reserve(old.node_count() + added.size() + new_externals.size());
    auto merge_part = [&](NodeId begin, NodeId end, const auto& extra, auto keep) {
      auto next = extra.begin();
      for (NodeId n = begin; n < end; ++n) {
        for (; next != extra.end() && std::string_view(*next) < std::string_view(names[n]); ++next) merged->emplace_back(*next);
        if (!keep(n)) continue;
        to_new[n] = NodeId(merged->size());
        merged->push_back(names[n]);
      }
      for (; next != extra.end(); ++next) merged->emplace_back(*next);
    };
    merge_part(0, NodeId(old.file_count_), added, [&](NodeId n) { return !removed_file[n]; });
    g.file_count_ = merged->size();
    merge_part(NodeId(old.file_count_), NodeId(old.node_count()), new_externals, [&](NodeId n) { return kept_external[n] != 0; });
    g.names_ = std::move(merged);
  }
  // A file target must be a file of the new graph (build() would add it as one).
  for (auto t : new_files)
    if (!g.find_file(t)) return std::nullopt;

  std::vector<Edge> fresh;
  for (const auto& f : files) {
    NodeId from = *g.find_file(f.path);
    for (const auto& t : f.targets) fresh.push_back({from, *(t.external ? g.find_external(t.name) : g.find_file(t.name)), t.line});
  }
  std::sort(fresh.begin(), fresh.end(), [](const Edge& a, const Edge& b) {
    return a.from != b.from ? a.from < b.from : a.to != b.to ? a.to < b.to : a.line < b.line;
  });
  fresh.erase(std::unique(fresh.begin(), fresh.end(), [](const Edge& a, const Edge& b) { return a.from == b.from && a.to == b.to; }),
              fresh.end());

  // Out: per old node in order, its edges remapped, with the given files' fresh edges spliced in
  // at their place (they sort by `from`, and so do the old nodes' new ids).
  g.out_.reserve(old.out_.size() + fresh.size());
  auto next_fresh = fresh.begin();
  for (NodeId n = 0; n < old.node_count(); ++n) {
    if (dropped_out[n]) continue;
    NodeId from = to_new[n];
    for (; next_fresh != fresh.end() && next_fresh->from < from; ++next_fresh) g.out_.push_back(*next_fresh);
    for (const Edge& e : old.imports(n)) {
      if (to_new[e.to] == kGone) return std::nullopt;  // an importer of a removed file that was not given
      g.out_.push_back({from, to_new[e.to], e.line});
    }
  }
  g.out_.insert(g.out_.end(), next_fresh, fresh.end());
  // In: the kept edges remapped (still by (to, from)), merged with the fresh ones.
  auto by_to = [](const Edge& a, const Edge& b) { return a.to != b.to ? a.to < b.to : a.from < b.from; };
  std::sort(fresh.begin(), fresh.end(), by_to);
  std::vector<Edge> kept_in;
  kept_in.reserve(old.in_.size());
  for (const Edge& e : old.in_)
    if (!dropped_out[e.from]) kept_in.push_back({to_new[e.from], to_new[e.to], e.line});
  g.in_.reserve(kept_in.size() + fresh.size());
  std::merge(kept_in.begin(), kept_in.end(), fresh.begin(), fresh.end(), std::back_inserter(g.in_), by_to);
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
