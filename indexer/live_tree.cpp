#include "indexer/live_tree.h"

#include <sys/stat.h>
#include <unistd.h>
#include <tree_sitter/api.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "indexer/confine.h"
#include "indexer/extract.h"
#include "indexer/live_import_graph.h"
#include "indexer/parse_pool.h"
#include "indexer/walk.h"
#include "query/snapshot.h"

namespace indexer {
namespace {

using Clock = std::chrono::steady_clock;

// What was last read of a file: its size and mtime, and why it was not indexed, if it was not.
struct DiskState {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::optional<SkipReason> skipped;
};

int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool is_rules_file(std::string_view path) { return path == ".gitignore" || path.ends_with("/.gitignore"); }

// "./a//b/" -> "a/b"; nullopt for a path that leaves the tree.
std::optional<std::string> normalize(std::string_view path) {
  std::string out;
  for (size_t start = 0; start <= path.size();) {
    size_t slash = std::min(path.find('/', start), path.size());
    std::string_view part = path.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return std::nullopt;
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

// One file read and extracted for an update, or why it was not.
struct Read {
  std::string path;
  std::optional<SkipReason> skipped;
  bool unchanged = false;  // same bytes as the indexed copy: nothing to parse
  query::Language language = query::Language::Unknown;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t hash = 0;
  Extraction extraction;
};

TSPoint point_at(std::string_view text, size_t byte) {
  size_t line_start = text.rfind('\n', byte == 0 ? std::string_view::npos : byte - 1);
  line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
  return {uint32_t(std::count(text.begin(), text.begin() + long(line_start), '\n')), uint32_t(byte - line_start)};
}

// The syntax trees of the files edited last, with the text each was parsed from. An edit of one of
// them is described to tree-sitter (one changed span: the common prefix and suffix of the old and
// new text), which then reparses only what the edit touched: for a 120 KB file, a fraction of a
// full parse. Bounded in files and in bytes of text.
class TreeCache {
 public:
  TreeCache() = default;
  TreeCache(const TreeCache&) = delete;
  TreeCache& operator=(const TreeCache&) = delete;
  ~TreeCache() {
    for (auto& e : entries_) ts_tree_delete(e.tree);
  }

  // The cached tree of `path`, edited to describe `text`, now the caller's; null when none.
  TSTree* take(const std::string& path, query::Language lang, std::string_view text) {
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.path == path; });
    if (it == entries_.end()) return nullptr;
    Entry e = std::move(*it);
    entries_.erase(it);
    bytes_ -= e.text.size();
    if (e.lang != lang) {
      ts_tree_delete(e.tree);
      return nullptr;
    }
    std::string_view old = e.text;
    size_t prefix = 0, limit = std::min(old.size(), text.size());
    while (prefix < limit && old[prefix] == text[prefix]) ++prefix;
    size_t suffix = 0;
    while (suffix < limit - prefix && old[old.size() - 1 - suffix] == text[text.size() - 1 - suffix]) ++suffix;
    TSInputEdit edit{uint32_t(prefix), uint32_t(old.size() - suffix), uint32_t(text.size() - suffix),
                     point_at(old, prefix), point_at(old, old.size() - suffix), point_at(text, text.size() - suffix)};
    ts_tree_edit(e.tree, &edit);
    return e.tree;
  }

  void put(const std::string& path, query::Language lang, std::string_view text, TSTree* tree) {
    drop(path);
    entries_.push_back({path, lang, std::string(text), tree});
    bytes_ += text.size();
    while (entries_.size() > kMaxFiles || (bytes_ > kMaxBytes && entries_.size() > 1)) {
      bytes_ -= entries_.front().text.size();
      ts_tree_delete(entries_.front().tree);
      entries_.erase(entries_.begin());
    }
  }

  void drop(const std::string& path) {
    if (TSTree* t = take(path, query::Language::Unknown, {})) ts_tree_delete(t);
  }

 private:
  struct Entry {
    std::string path;
    query::Language lang;
    std::string text;
    TSTree* tree;
  };
  static constexpr size_t kMaxFiles = 16, kMaxBytes = 16 << 20;
  std::vector<Entry> entries_;  // most recently used last
  size_t bytes_ = 0;
};

}  // namespace

struct LiveTree::State {
  std::recursive_mutex writer;  // refresh, rescan and buffers take turns (refresh may rescan)
  std::mutex mu;  // guards disk and buffers against save() on another thread
  std::map<std::string, DiskState> disk;  // every file read: indexed or skipped
  std::map<std::string, std::string> buffers;
  detail::TreeIgnore ignore;
  detail::Extractor extractor;  // for the calling thread's files
  TreeCache trees;              // of the calling thread's recent files
  std::atomic<bool> dirty{false};
  std::mutex save_mu;  // one save at a time
  std::unique_ptr<LiveImportGraph> imports;  // null until graph() is first called
  bool reconfigure = false;  // the next step resolves the whole graph again (a configuration changed)

  State(const std::string& root, const Options& options) : ignore(root, options), extractor(options.max_tree_bytes) {}
};

LiveTree::LiveTree(std::filesystem::path root, const Options& options, std::filesystem::path snapshot, IndexResult opened)
    : root_(std::move(root)),
      snapshot_(std::move(snapshot)),
      options_(options),
      opened_(opened.summary),
      live_(std::shared_ptr<const query::Index>(std::move(opened.index))),
      state_(std::make_unique<State>(root_.string(), options)) {
  auto view = live_.view();
  for (uint32_t f = 0; f < view->file_count(); ++f) {
    query::FileInfo info = view->file(f);
    state_->disk[std::string(info.path)] = {info.size, info.mtime_ns, std::nullopt};
  }
  for (const SkippedFile& s : opened.skipped_files) state_->disk[s.path] = {s.size, s.mtime_ns, s.reason};
}

LiveTree::~LiveTree() = default;

Result<std::unique_ptr<LiveTree>> LiveTree::open(const std::filesystem::path& root, const Options& options,
                                                 const std::filesystem::path& snapshot,
                                                 const std::function<void(const Progress&)>& progress,
                                                 std::string& warning) {
  Options shared = options;
  if (!shared.pool) shared.pool = std::make_shared<ParsePool>(options.threads);
  IndexResult r = open_tree(root, shared, snapshot, progress, warning);
  if (!r.index) return Error{r.error};
  return std::unique_ptr<LiveTree>(new LiveTree(root, shared, snapshot, std::move(r)));
}

std::unique_ptr<LiveTree> LiveTree::adopt(const std::filesystem::path& root, const Options& options,
                                          const std::filesystem::path& snapshot, IndexResult indexed) {
  return std::unique_ptr<LiveTree>(new LiveTree(root, options, snapshot, std::move(indexed)));
}

LiveTree::Report LiveTree::refresh(const std::vector<std::string>& paths) {
  const auto started = Clock::now();
  State& s = *state_;
  std::lock_guard turn(s.writer);
  std::vector<std::string> to_read, gone;
  std::unordered_set<std::string> seen;
  const std::string root = root_.string();
  // Everything the tree held at `dir` or below it.
  auto held_under = [&](const std::string& dir, auto&& f) {
    std::string prefix = dir.empty() ? "" : dir + "/";
    if (!dir.empty())
      if (auto it = s.disk.find(dir); it != s.disk.end()) f(it->first);
    for (auto it = s.disk.lower_bound(prefix); it != s.disk.end() && it->first.starts_with(prefix); ++it) f(it->first);
  };
  confine::Opened root_dir = confine::open_root(root);
  for (const std::string& raw : paths) {
    std::optional<std::string> path = normalize(raw);
    if (!path || !seen.insert(*path).second) continue;
    if (is_rules_file(*path)) {
      s.ignore.forget();
      return rescan();
    }
    // A path with a link on its way names nothing in the tree (confine.h): like a missing one,
    // it takes along what the tree held there.
    struct stat st;
    bool exists = root_dir && confine::stat_beneath(root_dir.fd.get(), *path, st) == confine::Refusal::None;
    // A configuration the import resolver reads may have changed: by its name, a directory that
    // may hold one, or a path gone that held one.
    if (s.imports && (ImportResolver::is_config_name(*path) || (exists ? S_ISDIR(st.st_mode) : s.imports->resolver().reads_config_under(*path))))
      s.reconfigure = true;
    if (exists && S_ISDIR(st.st_mode) && !(path->empty() ? false : s.ignore.ignored(*path, true))) {
      // A directory (created, moved in, or a file replaced by one): what is under it now, against
      // what the tree held there.
      Summary ignored_counts;
      std::vector<detail::Candidate> found = detail::walk_tree(root, options_, ignored_counts, *path);
      std::unordered_set<std::string_view> present;
      for (const auto& c : found) {
        present.insert(c.rel);
        auto it = s.disk.find(c.rel);
        if (it == s.disk.end() || it->second.size != c.size || it->second.mtime_ns != c.mtime_ns) to_read.push_back(c.rel);
      }
      held_under(*path, [&](const std::string& p) {
        if (!present.count(p)) gone.push_back(p);
      });
      continue;
    }
    // Anything the tree held below this path is gone: it is a file now, or nothing.
    held_under(*path, [&](const std::string& p) {
      if (p != *path) gone.push_back(p);
    });
    if (!exists || path->empty() || detail::unsupported_name(*path) || s.ignore.ignored(*path, false)) {
      if (s.disk.count(*path)) gone.push_back(*path);
    } else {
      to_read.push_back(*path);  // read_file() says why if it is a link, a FIFO, unreadable ...
    }
  }
  return apply(std::move(to_read), std::move(gone), started);
}

LiveTree::Report LiveTree::rescan() {
  const auto started = Clock::now();
  State& s = *state_;
  std::lock_guard turn(s.writer);
  s.reconfigure = true;  // configuration files are not walked: read them all again
  Summary ignored_counts;
  std::vector<detail::Candidate> found = detail::walk_tree(root_.string(), options_, ignored_counts);
  std::vector<std::string> to_read, gone;
  std::unordered_set<std::string_view> present;
  for (const auto& c : found) {
    present.insert(c.rel);
    auto it = s.disk.find(c.rel);
    if (it == s.disk.end() || it->second.size != c.size || it->second.mtime_ns != c.mtime_ns) to_read.push_back(c.rel);
  }
  for (const auto& [path, state] : s.disk)
    if (!present.count(path)) gone.push_back(path);
  Report r = apply(std::move(to_read), std::move(gone), started);
  r.rescanned = true;
  return r;
}

LiveTree::Report LiveTree::apply(std::vector<std::string> to_read, std::vector<std::string> gone, Clock::time_point started) {
  State& s = *state_;
  auto view = live_.view();
  // Buffers win over the disk until they are closed.
  auto buffered = [&](const std::string& p) { return s.buffers.count(p) != 0; };
  std::erase_if(to_read, buffered);
  std::erase_if(gone, buffered);
  std::sort(to_read.begin(), to_read.end());
  to_read.erase(std::unique(to_read.begin(), to_read.end()), to_read.end());

  // Read and extract, on the tree's parse pool when there is more than a little to do.
  std::vector<Read> reads(to_read.size());
  confine::Opened root_dir = confine::open_root(root_.string());
  const int root_fd = root_dir.fd.get();  // -1 when the root is gone: every read says Vanished
  auto read_one = [&](size_t i, detail::Extractor& extractor, std::string& buf, TreeCache* trees) {
    Read& r = reads[i];
    r.path = to_read[i];
    if ((r.skipped = detail::read_file(root_fd, r.path, options_.max_file_size, buf, r.mtime_ns))) return;
    r.size = buf.size();
    r.hash = query::content_hash(buf);
    if (std::optional<uint32_t> f = view->find_file(r.path)) {
      query::FileInfo info = view->file(*f);
      if (info.size == r.size && info.content_hash == r.hash) {
        r.unchanged = true;
        return;
      }
    }
    r.language = grammars::detect_language(r.path, {});
    if ((r.skipped = detail::check_text(r.path, buf, options_, r.language))) {
      if (trees) trees->drop(r.path);
      return;
    }
    TSTree* tree = trees ? trees->take(r.path, r.language, buf) : nullptr;
    extractor.run(r.language, buf, r.extraction, trees ? &tree : nullptr);  // copies what the symbols point at
    if (tree) trees->put(r.path, r.language, buf, tree);
    if (r.extraction.too_dense) r.skipped = SkipReason::TooDense;
  };
  // On the tree's pool, fewer of its threads for a small batch; a handful of files on this thread,
  // where the tree cache makes a re-edit cheap.
  ParsePool& pool = *options_.pool;
  unsigned threads = unsigned(std::min<size_t>(pool.size(), reads.size() / 8 + 1));
  Report report;
  if (threads <= 1) {
    std::string buf;
    if (!reads.empty()) report.parse_tids.push_back(int(::gettid()));
    for (size_t i = 0; i < reads.size(); ++i) read_one(i, s.extractor, buf, &s.trees);
  } else {
    std::atomic<size_t> next{0};
    report.parse_tids.resize(threads);
    pool.run(threads, [&](unsigned worker) {
      report.parse_tids[worker] = int(::gettid());
      detail::Extractor extractor(options_.max_tree_bytes);
      std::string buf;
      for (size_t i; (i = next.fetch_add(1)) < reads.size();) read_one(i, extractor, buf, nullptr);
    });
  }

  std::vector<query::FileInput> inputs;
  for (Read& r : reads) {
    if (r.unchanged) continue;
    if (r.skipped) {
      gone.push_back(r.path);
      continue;
    }
    query::FileInput in;
    in.path = r.path;
    in.language = r.language;
    in.size = r.size;
    in.mtime_ns = r.mtime_ns;
    in.content_hash = r.hash;
    in.parse_errors = r.extraction.parse_errors;
    in.symbols = r.extraction.symbols;
    in.imports = r.extraction.imports;
    inputs.push_back(in);
  }
  std::sort(gone.begin(), gone.end());
  gone.erase(std::unique(gone.begin(), gone.end()), gone.end());
  // What is not on disk (or not indexable) any more and was not indexed either changes nothing.
  std::erase_if(gone, [&](const std::string& p) { return !s.disk.count(p); });

  std::lock_guard lock(s.mu);
  if (!inputs.empty() || !gone.empty()) live_.update(inputs, gone);
  const auto graph_started = Clock::now();
  follow_graph(*view, inputs, gone);
  report.graph_milliseconds = std::chrono::duration<double, std::milli>(Clock::now() - graph_started).count();
  // A file skipped for the reason it was skipped before is no news.
  std::unordered_set<std::string_view> known_skips, was_indexed;
  for (const std::string& p : gone)
    if (auto it = s.disk.find(p); it != s.disk.end() && !it->second.skipped) was_indexed.insert(p);
  for (const Read& r : reads)
    if (auto it = s.disk.find(r.path); r.skipped && it != s.disk.end() && it->second.skipped == r.skipped) known_skips.insert(r.path);
  for (const std::string& p : gone) s.disk.erase(p), s.trees.drop(p);
  for (Read& r : reads) {
    if (r.skipped) {
      bool known = known_skips.count(r.path) != 0;
      // As a full run does: unreadable and vanished files are tried again next time.
      if (*r.skipped != SkipReason::Unreadable && *r.skipped != SkipReason::Vanished) {
        struct stat st;
        if (confine::stat_beneath(root_fd, r.path, st) == confine::Refusal::None)
          s.disk[r.path] = {uint64_t(st.st_size), int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, r.skipped};
      }
      if (!known) report.changes.push_back({r.path, Change::What::Skipped, *r.skipped, 0});
      continue;
    }
    s.disk[r.path] = {r.size, r.mtime_ns, std::nullopt};
    if (!r.unchanged) report.changes.push_back({r.path, Change::What::Indexed, {}, r.extraction.symbols.size()});
  }
  std::unordered_set<std::string_view> skipped_now;
  for (const Read& r : reads)
    if (r.skipped) skipped_now.insert(r.path);
  for (const std::string& p : gone)
    if (!skipped_now.count(p) && was_indexed.count(p)) report.changes.push_back({p, Change::What::Removed, {}, 0});
  std::sort(report.changes.begin(), report.changes.end(), [](const Change& a, const Change& b) { return a.path < b.path; });
  if (!report.changes.empty()) s.dirty = true;
  report.milliseconds = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return report;
}

LiveTree::Report LiveTree::set_buffer(const std::string& raw, std::string text) {
  const auto started = Clock::now();
  State& s = *state_;
  std::lock_guard turn(s.writer);
  Report report;
  std::optional<std::string> path = normalize(raw);
  if (!path || path->empty()) return report;
  {
    // A buffer is indexed under its path only where a file of the tree could be: not through a
    // link (a new file, not on disk yet, is fine).
    confine::Opened root_dir = confine::open_root(root_.string());
    struct stat st;
    confine::Refusal r = root_dir ? confine::stat_beneath(root_dir.fd.get(), *path, st) : confine::Refusal::NotFound;
    if ((r != confine::Refusal::None && r != confine::Refusal::NotFound) || (r == confine::Refusal::None && S_ISLNK(st.st_mode)))
      return report;
  }
  query::Language lang = grammars::detect_language(*path, {});
  Extraction ex;
  // Judged as a file on disk is: too large, no grammar, binary, minified, or too dense to parse.
  std::optional<SkipReason> why =
      text.size() > options_.max_file_size ? std::optional(SkipReason::TooLarge) : detail::check_text(*path, text, options_, lang);
  if (!why) {
    TSTree* tree = s.trees.take(*path, lang, text);
    s.extractor.run(lang, text, ex, &tree);
    if (tree) s.trees.put(*path, lang, text, tree);
    if (ex.too_dense) why = SkipReason::TooDense;
  }
  if (why) {
    // Not indexed: no symbols while it is open. Its text is kept, for the edits that follow.
    s.trees.drop(*path);
    std::lock_guard lock(s.mu);
    s.buffers[*path] = std::move(text);
    if (s.disk.count(*path)) {
      std::vector<std::string> gone{*path};
      auto before = live_.view();
      live_.update({}, gone);
      follow_graph(*before, {}, gone);
      s.dirty = true;
    }
    report.changes.push_back({*path, Change::What::Skipped, *why, 0});
    report.milliseconds = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    return report;
  }
  query::FileInput in;
  in.path = *path;
  in.language = lang;
  in.size = text.size();
  in.mtime_ns = 0;  // never what the disk says: the next start reads the file again
  in.content_hash = query::content_hash(text);
  in.parse_errors = ex.parse_errors;
  in.symbols = ex.symbols;
  in.imports = ex.imports;
  std::lock_guard lock(s.mu);
  auto before = live_.view();
  live_.update({&in, 1}, {});
  follow_graph(*before, {&in, 1}, {});
  s.buffers[*path] = std::move(text);
  s.disk[*path] = {in.size, 0, std::nullopt};
  s.dirty = true;
  report.changes.push_back({*path, Change::What::Indexed, {}, ex.symbols.size()});
  report.milliseconds = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return report;
}

LiveTree::Report LiveTree::close_buffer(const std::string& raw) {
  std::lock_guard turn(state_->writer);
  std::optional<std::string> path = normalize(raw);
  if (!path) return {};
  {
    std::lock_guard lock(state_->mu);
    if (!state_->buffers.erase(*path)) return {};
    // Whatever the disk holds now is news; and if it holds nothing, the buffer's symbols must go,
    // which refresh() does for a path the tree knows.
    state_->disk[*path] = {UINT64_MAX, -1, std::nullopt};
  }
  return refresh({*path});
}

std::string LiveTree::text_of(const std::string& raw) const {
  std::optional<std::string> path = normalize(raw);
  if (!path || path->empty()) return {};
  {
    std::lock_guard lock(state_->mu);
    if (auto it = state_->buffers.find(*path); it != state_->buffers.end()) return it->second;
  }
  std::string text;
  int64_t mtime = 0;
  confine::Opened root_dir = confine::open_root(root_.string());
  if (!root_dir || detail::read_file(root_dir.fd.get(), *path, options_.max_file_size, text, mtime)) return {};
  return text;
}

std::shared_ptr<const LiveTree::Graph> LiveTree::graph() {
  if (auto g = graph_.load(std::memory_order_acquire)) return g;
  std::lock_guard turn(state_->writer);
  if (auto g = graph_.load(std::memory_order_acquire)) return g;
  auto& imports = state_->imports;
  imports = std::make_unique<LiveImportGraph>(root_, live_.view());
  state_->reconfigure = false;
  auto g = std::make_shared<const Graph>(Graph{imports->index(), imports->graph(), imports->resolver().warnings()});
  graph_.store(g, std::memory_order_release);
  return g;
}

void LiveTree::follow_graph(const query::Index& before, std::span<const query::FileInput> changed, std::span<const std::string> gone) {
  State& s = *state_;
  if (!s.imports) return;
  std::vector<std::string> added, removed, edited;
  std::unordered_set<std::string_view> going;
  for (const std::string& p : gone)
    if (before.find_file(p)) removed.push_back(p), going.insert(p);
  for (const query::FileInput& in : changed) {
    if (going.count(in.path)) continue;  // a path both changed and gone is gone (LiveIndex::update)
    (before.find_file(in.path) ? edited : added).emplace_back(in.path);
  }
  if (added.empty() && removed.empty() && edited.empty() && !s.reconfigure) return;
  s.imports->update(live_.view(), added, removed, edited, s.reconfigure);
  s.reconfigure = false;
  graph_.store(std::make_shared<const Graph>(Graph{s.imports->index(), s.imports->graph(), s.imports->resolver().warnings()}), std::memory_order_release);
}

bool LiveTree::ignored_dir(const std::string& rel) {
  std::lock_guard turn(state_->writer);  // the rules' cache is filled and cleared by refresh() too
  return state_->ignore.ignored(rel, true);
}

void LiveTree::compact_if_needed() {
  if (live_.wants_compaction()) live_.compact();
}

bool LiveTree::dirty() const { return state_->dirty.load(); }

Status LiveTree::save() {
  State& s = *state_;
  std::lock_guard saving(s.save_mu);
  std::shared_ptr<const query::Index> view;
  std::vector<SkippedFile> skipped;
  int64_t started_ns;
  {
    std::lock_guard lock(s.mu);  // the view and the file states of the same moment
    view = live_.view();
    started_ns = wall_ns();
    for (const auto& [path, d] : s.disk)
      if (d.skipped) skipped.push_back({path, d.size, d.mtime_ns, *d.skipped});
    s.dirty = false;
  }
  Status saved = save_tree(*query::flatten(view), skipped, started_ns, options_, snapshot_);
  if (!saved) s.dirty = true;
  return saved;
}

}  // namespace indexer
