#include "indexer/live_import_graph.h"

#include <algorithm>

namespace indexer {

LiveImportGraph::LiveImportGraph(std::filesystem::path root, std::shared_ptr<const query::Index> index)
    : root_(std::move(root)), index_(std::move(index)) {
  resolve_all();
}

LiveImportGraph::~LiveImportGraph() = default;

void LiveImportGraph::resolve_all() {
  files_.clear();
  probers_.clear();
  resolver_ = std::make_unique<ImportResolver>(root_, *index_);
  for (uint32_t f = 0; f < index_->file_count(); ++f) resolve(std::string(index_->file(f).path), f);
  last_resolved_ = index_->file_count();
  build();
}

void LiveImportGraph::forget(const std::string& path) {
  auto it = files_.find(path);
  if (it == files_.end()) return;
  for (const auto& key : it->second.probes) {
    auto p = probers_.find(key);
    p->second.erase(&it->first);
    if (p->second.empty()) probers_.erase(p);
  }
  files_.erase(it);
}

void LiveImportGraph::resolve(const std::string& path, uint32_t file) {
  auto [it, fresh] = files_.try_emplace(path);
  Entry& e = it->second;
  for (const auto& key : e.probes) {
    auto p = probers_.find(key);
    p->second.erase(&it->first);
    if (p->second.empty()) probers_.erase(p);
  }
  e.probes.clear();
  e.imports = resolver_->resolve(file, &e.probes);
  std::sort(e.probes.begin(), e.probes.end());
  e.probes.erase(std::unique(e.probes.begin(), e.probes.end()), e.probes.end());
  for (const auto& key : e.probes) probers_[key].insert(&it->first);
}

void LiveImportGraph::build() {
  std::vector<query::FileImports> all;
  all.reserve(files_.size());
  for (auto& [path, e] : files_) all.push_back(std::move(e.imports));
  graph_ = std::make_shared<const query::ImportGraph>(query::ImportGraph::build(all));
  size_t i = 0;
  for (auto& [path, e] : files_) e.imports = std::move(all[i++]);
}

void LiveImportGraph::update(std::shared_ptr<const query::Index> index, std::span<const std::string> added,
                             std::span<const std::string> removed, std::span<const std::string> changed, bool reconfigure) {
  std::shared_ptr<const query::Index> previous = std::move(index_);  // the resolver's until update() below
  index_ = std::move(index);
  if (reconfigure) return resolve_all();
  std::vector<std::string> keys = resolver_->update(*index_, added, removed, changed);
  // What to resolve again: the files added or edited, and every file that looked up a key the
  // change touches.
  std::unordered_set<std::string> todo(added.begin(), added.end());
  todo.insert(changed.begin(), changed.end());
  for (const auto& key : keys)
    if (auto p = probers_.find(key); p != probers_.end())
      for (const std::string* path : p->second) todo.insert(*path);
  for (const auto& path : removed) {
    forget(path);
    todo.erase(path);
  }
  // Resolved in path order, so that equal inputs give equal work whatever the hash order.
  std::vector<std::string> order(todo.begin(), todo.end());
  std::sort(order.begin(), order.end());
  std::vector<query::FileImports> replaced;
  std::vector<std::string> gone(removed.begin(), removed.end());
  for (const auto& path : order) {
    auto f = index_->find_file(path);
    if (!f) {
      if (files_.count(path)) gone.push_back(path);
      forget(path);
      continue;
    }
    auto old = files_.find(path);
    bool known = old != files_.end();
    query::FileImports before = known ? std::move(old->second.imports) : query::FileImports{};
    resolve(path, *f);
    const query::FileImports& now = files_.at(path).imports;
    auto same = [](const query::ImportTarget& a, const query::ImportTarget& b) {
      return a.name == b.name && a.external == b.external && a.line == b.line;
    };
    if (!known || !std::equal(before.targets.begin(), before.targets.end(), now.targets.begin(), now.targets.end(), same))
      replaced.push_back(now);
  }
  last_resolved_ = order.size();
  if (replaced.empty() && gone.empty()) return;  // no import resolves differently: the same graph
  if (auto patched = query::ImportGraph::replace_files(*graph_, replaced, gone))
    graph_ = std::make_shared<const query::ImportGraph>(std::move(*patched));
  else
    build();
}

}  // namespace indexer
