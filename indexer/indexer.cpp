#include "indexer/indexer.h"
#include "query/snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <optional>

#include "indexer/confine.h"
#include "indexer/extract.h"
#include "indexer/parse_pool.h"
#include "indexer/walk.h"

namespace indexer {
namespace {

using detail::Candidate;
using query::Language;

// Whether every file the walk found is one the previous run indexed or skipped, with the same
// size and mtime (or, when racy, the same content), and none of those is gone. The cheap check
// that lets an unchanged tree skip the rebuild.
bool unchanged_since(int root_fd, const std::vector<Candidate>& files, const query::Index& previous,
                     const std::unordered_map<std::string_view, const SkippedFile*>& previous_skips, int64_t racy_after) {
  if (files.size() != previous.file_count() + previous_skips.size()) return false;
  std::string buf;
  for (const Candidate& c : files) {
    const bool racy = c.mtime_ns >= racy_after;
    if (std::optional<uint32_t> id = previous.find_file(c.rel)) {
      query::FileInfo info = previous.file(*id);
      if (info.size != c.size) return false;
      if (info.mtime_ns == c.mtime_ns && !racy) continue;
      int64_t mtime = 0;
      if (detail::read_file(root_fd, c.rel, UINT64_MAX, buf, mtime) || query::content_hash(buf) != info.content_hash)
        return false;
      continue;
    }
    auto it = previous_skips.find(c.rel);
    if (it == previous_skips.end() || racy || it->second->size != c.size || it->second->mtime_ns != c.mtime_ns) return false;
  }
  return true;  // as many files as before and each matched one: none is gone
}

}  // namespace

std::string_view skip_reason_name(SkipReason reason) {
  switch (reason) {
    case SkipReason::Unsupported: return "unsupported";
    case SkipReason::Binary: return "binary";
    case SkipReason::TooLarge: return "too-large";
    case SkipReason::Minified: return "minified";
    case SkipReason::Unreadable: return "unreadable";
    case SkipReason::Vanished: return "vanished";
    case SkipReason::Symlink: return "symlink";
    case SkipReason::Special: return "special";
    case SkipReason::TooDense: return "too-dense";
    case SkipReason::Count: break;
  }
  return "?";
}

Extraction& Extraction::operator=(Extraction&& other) noexcept {
  if (this == &other) return *this;
  const char* old_base = other.text.data();
  text = std::move(other.text);
  symbols = std::move(other.symbols);
  imports = std::move(other.imports);
  parse_errors = other.parse_errors;
  dropped_matches = other.dropped_matches;
  too_dense = other.too_dense;
  tree_bytes = other.tree_bytes;
  error = std::move(other.error);
  auto rebase = [&](std::string_view& v) {
    if (!v.empty()) v = std::string_view(text.data() + (v.data() - old_base), v.size());
  };
  for (auto& s : symbols) rebase(s.name), rebase(s.container), rebase(s.signature);
  for (auto& i : imports) rebase(i.specifier), rebase(i.kind);
  return *this;
}

Extraction extract(Language language, std::string_view source) {
  Extraction out;
  detail::Extractor extractor;
  extractor.run(language, source, out);
  return out;
}

namespace {

// The root as a directory this process can read, opened for confine.h's rule.
Result<confine::Opened> open_root_dir(const std::string& root) {
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) return Error{root + ": " + std::strerror(errno)};
  if (!S_ISDIR(st.st_mode)) return Error{root + ": not a directory"};
  if (::access(root.c_str(), R_OK | X_OK) != 0) return Error{root + ": cannot read the directory: " + std::strerror(errno)};
  confine::Opened dir = confine::open_root(root);
  if (!dir) return Error{root + ": " + std::strerror(dir.error)};
  return dir;
}

// The files to index, largest first, so no thread is left with one big file at the end.
std::vector<Candidate> list_files(const std::string& root, const Options& options, Summary& summary) {
  std::vector<Candidate> files = detail::walk_tree(root, options, summary);
  std::sort(files.begin(), files.end(), [](const Candidate& a, const Candidate& b) {
    return a.size != b.size ? a.size > b.size : a.rel < b.rel;
  });
  return files;
}

// What the previous run saw, by path.
struct Before {
  const query::Index* index = nullptr;
  std::unordered_map<std::string_view, const SkippedFile*> skips;
  // A file modified this close to (or after) the previous run's start may have changed again
  // within the same mtime tick after it was read.
  int64_t racy_after = 0;

  explicit Before(const Previous* previous) {
    if (!previous) return;
    index = previous->index;
    if (previous->skipped)
      for (const SkippedFile& f : *previous->skipped) skips.emplace(f.path, &f);
    racy_after = previous->started_ns - 1000000000;
  }
};

// The summary of a tree found as the previous run left it.
void summarize_unchanged(const Before& before, Summary& summary) {
  summary.files_indexed = summary.files_reused = before.index->file_count();
  summary.symbols = before.index->symbol_count();
  for (uint32_t f = 0; f < before.index->file_count(); ++f) summary.bytes_indexed += before.index->file(f).size;
  for (const auto& [path, skipped] : before.skips) ++summary.skipped[size_t(skipped->reason)];
}

// One run over the listed files, shared by its workers: each takes the next file, and keeps its
// counts to itself until it is done.
class TreeRun {
 public:
  TreeRun(const std::vector<Candidate>& files, const Options& options, int root_fd, const Before& before, IndexResult& result)
      : files_(files), options_(options), root_fd_(root_fd), before_(before), result_(result) {}

  void work();
  Progress progress(Progress total) const {
    total.files_done = files_done_.load();
    total.bytes_done = bytes_done_.load();
    return total;
  }
  std::unique_ptr<query::Index> finish() { return builder_.finish(); }

 private:
  // A worker's own state: what it parses with and what it has counted.
  struct Worker {
    detail::Extractor extractor;
    Extraction ex;
    std::string buf;
    Summary counts;
    std::vector<SkippedFile> skips;
  };

  void index_file(Worker& w, const Candidate& c);
  bool reuse_if_same_stat(Worker& w, const Candidate& c, std::optional<uint32_t> before, bool racy);
  bool skip_if_skipped_before(Worker& w, const Candidate& c, bool racy);
  bool extract(Worker& w, const Candidate& c, query::Language lang, std::string_view text);
  void add(Worker& w, const Candidate& c, query::Language lang, std::string_view text, int64_t mtime, uint64_t hash);
  void reuse(Worker& w, const Candidate& c, uint32_t file, int64_t mtime_ns);
  void skip(Worker& w, const Candidate& c, SkipReason reason, uint64_t size, int64_t mtime_ns);
  void note_query_error(std::string error);
  void done(const Candidate& c);
  void merge(Worker& w);

  const std::vector<Candidate>& files_;
  const Options& options_;
  const int root_fd_;
  const Before& before_;
  IndexResult& result_;
  query::IndexBuilder builder_;
  std::mutex builder_mu_, summary_mu_;
  std::atomic<size_t> next_{0}, files_done_{0};
  std::atomic<uint64_t> bytes_done_{0};
};

void TreeRun::work() {
  Worker w{detail::Extractor(options_.max_tree_bytes), {}, {}, {}, {}};
  for (size_t i; (i = next_.fetch_add(1)) < files_.size();) index_file(w, files_[i]);
  merge(w);
}

// Reused from the previous index when its size and mtime (or, failing those, its bytes) are what
// the previous run saw; skipped again for the same reason as then; else read, judged and parsed.
void TreeRun::index_file(Worker& w, const Candidate& c) {
  const query::Index* previous = before_.index;
  std::optional<uint32_t> before = previous ? previous->find_file(c.rel) : std::nullopt;
  const bool racy = c.mtime_ns >= before_.racy_after;
  if (reuse_if_same_stat(w, c, before, racy) || skip_if_skipped_before(w, c, racy)) return;
  int64_t mtime = 0;
  if (std::optional<SkipReason> why = detail::read_file(root_fd_, c.rel, options_.max_file_size, w.buf, mtime))
    return skip(w, c, *why, c.size, c.mtime_ns);
  std::string_view text = w.buf;
  const uint64_t hash = query::content_hash(text);  // XXH3: tens of GB/s, nothing next to parsing
  if (before) {
    query::FileInfo info = previous->file(*before);
    if (info.size == text.size() && info.content_hash == hash) return reuse(w, c, *before, mtime);
  }
  query::Language lang = c.language;
  if (std::optional<SkipReason> why = detail::check_text(c.rel, text, options_, lang))
    return skip(w, c, *why, text.size(), mtime);
  if (detail::looks_generated(text)) ++w.counts.generated_files;
  if (options_.parse_only) {
    w.extractor.parse(lang, text);
    ++w.counts.files_indexed;
    w.counts.bytes_indexed += text.size();
    return done(c);
  }
  if (!extract(w, c, lang, text)) return;
  if (w.ex.too_dense) return skip(w, c, SkipReason::TooDense, text.size(), mtime);
  add(w, c, lang, text, mtime, hash);
  if (w.buf.capacity() > (8u << 20)) std::string().swap(w.buf);  // don't hold on to a huge buffer
}

bool TreeRun::reuse_if_same_stat(Worker& w, const Candidate& c, std::optional<uint32_t> before, bool racy) {
  if (!before || racy) return false;
  query::FileInfo info = before_.index->file(*before);
  if (info.size != c.size || info.mtime_ns != c.mtime_ns) return false;
  reuse(w, c, *before, c.mtime_ns);
  return true;
}

bool TreeRun::skip_if_skipped_before(Worker& w, const Candidate& c, bool racy) {
  auto it = before_.skips.find(c.rel);
  if (it == before_.skips.end() || racy) return false;
  if (it->second->size != c.size || it->second->mtime_ns != c.mtime_ns) return false;
  skip(w, c, it->second->reason, c.size, c.mtime_ns);
  return true;
}

// Runs the language's tags query (read on first use, about a millisecond, so a run pays only for
// the languages it meets); false when the file could not be extracted at all.
bool TreeRun::extract(Worker& w, const Candidate& c, query::Language lang, std::string_view text) {
  try {
    w.extractor.run(lang, text, w.ex);
  } catch (const std::exception& e) {  // out of memory on a pathological file, say
    note_query_error(c.rel + ": " + e.what());
    ++w.counts.skipped[size_t(SkipReason::Unreadable)];
    done(c);
    return false;
  }
  if (!w.ex.error.empty()) note_query_error(w.ex.error);
  return true;
}

void TreeRun::add(Worker& w, const Candidate& c, query::Language lang, std::string_view text, int64_t mtime, uint64_t hash) {
  const Extraction& ex = w.ex;
  query::FileInput in;
  in.path = c.rel;
  in.language = lang;
  in.size = text.size();
  in.mtime_ns = mtime;
  in.content_hash = hash;
  in.parse_errors = ex.parse_errors;
  in.symbols = ex.symbols;
  in.imports = ex.imports;
  {
    std::lock_guard lock(builder_mu_);
    builder_.add(in);
  }
  Summary& counts = w.counts;
  ++counts.files_indexed;
  counts.bytes_indexed += text.size();
  counts.symbols += ex.symbols.size();
  counts.imports += ex.imports.size();
  counts.parse_error_files += ex.parse_errors;
  counts.dropped_match_files += ex.dropped_matches;
  done(c);
}

void TreeRun::reuse(Worker& w, const Candidate& c, uint32_t file, int64_t mtime_ns) {
  const query::Index& previous = *before_.index;
  query::FileInfo info = previous.file(file);
  {
    std::lock_guard lock(builder_mu_);
    builder_.add_from(previous, file, mtime_ns);
  }
  ++w.counts.files_indexed;
  ++w.counts.files_reused;
  w.counts.bytes_indexed += info.size;
  w.counts.symbols += info.symbol_count;
  w.counts.imports += previous.file_imports(file).size();
  done(c);
}

void TreeRun::skip(Worker& w, const Candidate& c, SkipReason reason, uint64_t size, int64_t mtime_ns) {
  ++w.counts.skipped[size_t(reason)];
  // Unreadable and vanished files are tried again next time: a chmod leaves the mtime alone.
  if (reason != SkipReason::Unreadable && reason != SkipReason::Vanished) w.skips.push_back({c.rel, size, mtime_ns, reason});
  done(c);
}

void TreeRun::note_query_error(std::string error) {
  std::lock_guard lock(summary_mu_);
  if (result_.summary.query_error.empty()) result_.summary.query_error = std::move(error);
}

void TreeRun::done(const Candidate& c) {
  files_done_.fetch_add(1, std::memory_order_relaxed);
  bytes_done_.fetch_add(c.size, std::memory_order_relaxed);
}

void TreeRun::merge(Worker& w) {
  std::lock_guard lock(summary_mu_);
  Summary& summary = result_.summary;
  const Summary& local = w.counts;
  summary.files_indexed += local.files_indexed;
  summary.files_reused += local.files_reused;
  for (auto& f : w.skips) result_.skipped_files.push_back(std::move(f));
  summary.bytes_indexed += local.bytes_indexed;
  summary.symbols += local.symbols;
  summary.imports += local.imports;
  summary.parse_error_files += local.parse_error_files;
  summary.dropped_match_files += local.dropped_match_files;
  summary.generated_files += local.generated_files;
  for (size_t r = 0; r < local.skipped.size(); ++r) summary.skipped[r] += local.skipped[r];
}

// Runs the workers on the options' pool, or on a pool of their own for this run, reporting
// progress from the calling thread while they do.
void run_workers(TreeRun& run, size_t file_count, const Options& options, Progress total,
                 const std::function<void(const Progress&)>& progress) {
  std::optional<ParsePool> own;
  ParsePool* pool = options.pool.get();
  if (!pool) {
    const unsigned n = ParsePool::threads_for(options.threads);
    pool = &own.emplace(unsigned(std::min<size_t>(n, std::max<size_t>(file_count, 1))));
  }
  auto report = [&] {
    if (progress) progress(run.progress(total));
  };
  pool->run(unsigned(std::min<size_t>(pool->size(), std::max<size_t>(file_count, 1))), [&](unsigned) { run.work(); },
            report);
  report();
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

IndexResult index_tree(const std::filesystem::path& root_path, const Options& options,
                       const std::function<void(const Progress&)>& progress, const Previous* previous) {
  IndexResult result;
  auto started = std::chrono::steady_clock::now();
  result.started_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string root = root_path.string();
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  Result<confine::Opened> root_dir = open_root_dir(root);  // every file is opened relative to it
  if (!root_dir) {
    result.error = root_dir.error();
    return result;
  }

  Summary& summary = result.summary;
  std::vector<Candidate> files = list_files(root, options, summary);
  Progress total;
  total.files_total = files.size();
  for (const auto& f : files) total.bytes_total += f.size;

  Before before(previous);
  if (before.index && unchanged_since(root_dir->fd.get(), files, *before.index, before.skips, before.racy_after)) {
    result.unchanged = true;
    result.started_ns = previous->started_ns;
    summarize_unchanged(before, summary);
    summary.seconds = seconds_since(started);
    return result;
  }

  TreeRun run(files, options, root_dir->fd.get(), before, result);
  run_workers(run, files.size(), options, total, progress);

  auto build_started = std::chrono::steady_clock::now();
  result.index = run.finish();
  std::sort(result.skipped_files.begin(), result.skipped_files.end(),
            [](const SkippedFile& a, const SkippedFile& b) { return a.path < b.path; });
  summary.build_seconds = seconds_since(build_started);
  summary.seconds = seconds_since(started);
  return result;
}

}  // namespace indexer
