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
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <optional>

#include "indexer/confine.h"
#include "indexer/extract.h"
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

IndexResult index_tree(const std::filesystem::path& root_path, const Options& options,
                       const std::function<void(const Progress&)>& progress, const Previous* previous) {
  IndexResult result;
  auto started = std::chrono::steady_clock::now();
  result.started_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string root = root_path.string();
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) {
    result.error = root + ": " + std::strerror(errno);
    return result;
  }
  if (!S_ISDIR(st.st_mode)) {
    result.error = root + ": not a directory";
    return result;
  }
  if (::access(root.c_str(), R_OK | X_OK) != 0) {
    result.error = root + ": cannot read the directory: " + std::strerror(errno);
    return result;
  }
  // Every file is opened relative to this, as confine.h says.
  confine::Opened root_dir = confine::open_root(root);
  if (!root_dir) {
    result.error = root + ": " + std::strerror(root_dir.error);
    return result;
  }
  const int root_fd = root_dir.fd.get();

  Summary& summary = result.summary;
  std::vector<Candidate> files = detail::walk_tree(root, options, summary);
  // Largest first, so no core is left with one big file at the end.
  std::sort(files.begin(), files.end(), [](const Candidate& a, const Candidate& b) {
    return a.size != b.size ? a.size > b.size : a.rel < b.rel;
  });

  Progress total;
  total.files_total = files.size();
  for (const auto& f : files) total.bytes_total += f.size;

  // What the previous run saw, by path.
  std::unordered_map<std::string_view, const SkippedFile*> previous_skips;
  if (previous && previous->skipped)
    for (const SkippedFile& f : *previous->skipped) previous_skips.emplace(f.path, &f);
  const query::Index* previous_index = previous ? previous->index : nullptr;
  // A file modified this close to (or after) the previous run's start may have changed again
  // within the same mtime tick after it was read.
  const int64_t racy_after = previous ? previous->started_ns - 1000000000 : 0;

  if (previous_index && unchanged_since(root_fd, files, *previous_index, previous_skips, racy_after)) {
    result.unchanged = true;
    result.started_ns = previous->started_ns;
    summary.files_indexed = summary.files_reused = previous_index->file_count();
    summary.symbols = previous_index->symbol_count();
    for (uint32_t f = 0; f < previous_index->file_count(); ++f) summary.bytes_indexed += previous_index->file(f).size;
    for (const auto& [path, skipped] : previous_skips) ++summary.skipped[size_t(skipped->reason)];
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return result;
  }

  query::IndexBuilder builder;
  std::mutex builder_mu;
  std::mutex summary_mu;
  std::atomic<size_t> next{0}, files_done{0};
  std::atomic<uint64_t> bytes_done{0};

  auto worker = [&] {
    detail::Extractor extractor(options.max_tree_bytes);
    Extraction ex;
    std::string buf;
    Summary local;
    std::vector<SkippedFile> local_skips;
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= files.size()) break;
      const Candidate& c = files[i];
      int64_t mtime = 0;
      auto done = [&] {
        files_done.fetch_add(1, std::memory_order_relaxed);
        bytes_done.fetch_add(c.size, std::memory_order_relaxed);
      };
      auto skip = [&](SkipReason reason, uint64_t size, int64_t mtime_ns) {
        ++local.skipped[size_t(reason)];
        // Unreadable and vanished files are tried again next time: a chmod leaves the mtime alone.
        if (reason != SkipReason::Unreadable && reason != SkipReason::Vanished)
          local_skips.push_back({c.rel, size, mtime_ns, reason});
        done();
      };
      auto reuse = [&](uint32_t file, int64_t mtime_ns) {
        query::FileInfo info = previous_index->file(file);
        {
          std::lock_guard lock(builder_mu);
          builder.add_from(*previous_index, file, mtime_ns);
        }
        ++local.files_indexed;
        ++local.files_reused;
        local.bytes_indexed += info.size;
        local.symbols += info.symbol_count;
        local.imports += previous_index->file_imports(file).size();
        done();
      };
      std::optional<uint32_t> before = previous_index ? previous_index->find_file(c.rel) : std::nullopt;
      const bool racy = c.mtime_ns >= racy_after;
      if (before && !racy) {
        query::FileInfo info = previous_index->file(*before);
        if (info.size == c.size && info.mtime_ns == c.mtime_ns) {
          reuse(*before, c.mtime_ns);
          continue;
        }
      }
      if (auto it = previous_skips.find(c.rel); it != previous_skips.end() && !racy) {
        if (it->second->size == c.size && it->second->mtime_ns == c.mtime_ns) {
          skip(it->second->reason, c.size, c.mtime_ns);
          continue;
        }
      }
      if (std::optional<SkipReason> why = detail::read_file(root_fd, c.rel, options.max_file_size, buf, mtime)) {
        skip(*why, c.size, c.mtime_ns);
        continue;
      }
      std::string_view text = buf;
      const uint64_t hash = query::content_hash(text);  // XXH3: tens of GB/s, nothing next to parsing
      if (before) {
        query::FileInfo info = previous_index->file(*before);
        if (info.size == text.size() && info.content_hash == hash) {
          reuse(*before, mtime);
          continue;
        }
      }
      Language lang = c.language;
      if (std::optional<SkipReason> why = detail::check_text(c.rel, text, options, lang)) {
        skip(*why, text.size(), mtime);
        continue;
      }
      if (detail::looks_generated(text)) ++local.generated_files;
      if (options.parse_only) {
        extractor.parse(lang, text);
        ++local.files_indexed;
        local.bytes_indexed += text.size();
        done();
        continue;
      }
      // A language's query is read on first use (about a millisecond), so a run pays only for the
      // languages it meets.
      try {
        extractor.run(lang, text, ex);
      } catch (const std::exception& e) {  // out of memory on a pathological file, say
        std::lock_guard lock(summary_mu);
        if (summary.query_error.empty()) summary.query_error = c.rel + ": " + e.what();
        ++local.skipped[size_t(SkipReason::Unreadable)];
        done();
        continue;
      }
      if (!ex.error.empty()) {
        std::lock_guard lock(summary_mu);
        if (summary.query_error.empty()) summary.query_error = ex.error;
      }
      if (ex.too_dense) {
        skip(SkipReason::TooDense, text.size(), mtime);
        continue;
      }
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
        std::lock_guard lock(builder_mu);
        builder.add(in);
      }
      ++local.files_indexed;
      local.bytes_indexed += text.size();
      local.symbols += ex.symbols.size();
      local.imports += ex.imports.size();
      local.parse_error_files += ex.parse_errors;
      local.dropped_match_files += ex.dropped_matches;
      done();
      if (buf.capacity() > (8u << 20)) std::string().swap(buf);  // don't hold on to a huge buffer
    }
    std::lock_guard lock(summary_mu);
    summary.files_indexed += local.files_indexed;
    summary.files_reused += local.files_reused;
    for (auto& f : local_skips) result.skipped_files.push_back(std::move(f));
    summary.bytes_indexed += local.bytes_indexed;
    summary.symbols += local.symbols;
    summary.imports += local.imports;
    summary.parse_error_files += local.parse_error_files;
    summary.dropped_match_files += local.dropped_match_files;
    summary.generated_files += local.generated_files;
    for (size_t r = 0; r < local.skipped.size(); ++r) summary.skipped[r] += local.skipped[r];
  };

  unsigned n = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  n = unsigned(std::min<size_t>(n, std::max<size_t>(files.size(), 1)));
  std::vector<std::thread> threads;
  std::atomic<unsigned> running{n};
  std::mutex done_mu;
  std::condition_variable done_cv;
  for (unsigned t = 0; t < n; ++t)
    threads.emplace_back([&] {
      worker();
      if (running.fetch_sub(1) == 1) {
        std::lock_guard lock(done_mu);
        done_cv.notify_all();
      }
    });
  auto report = [&] {
    if (!progress) return;
    Progress p = total;
    p.files_done = files_done.load();
    p.bytes_done = bytes_done.load();
    progress(p);
  };
  {
    std::unique_lock lock(done_mu);
    while (!done_cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return running.load() == 0; })) report();
  }
  for (auto& t : threads) t.join();
  report();

  auto build_started = std::chrono::steady_clock::now();
  result.index = builder.finish();
  std::sort(result.skipped_files.begin(), result.skipped_files.end(),
            [](const SkippedFile& a, const SkippedFile& b) { return a.path < b.path; });
  summary.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - build_started).count();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace indexer
