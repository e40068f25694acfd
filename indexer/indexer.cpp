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

#include "indexer/extract.h"
#include "indexer/ignore.h"

namespace indexer {
namespace {

using detail::IgnoreStack;
using query::Language;

struct Candidate {
  std::string rel;
  uint64_t size;
  int64_t mtime_ns;
  Language language;  // Unknown: decide by the #! line
};

// Reads a small file fully; "" when it cannot be read. For .gitignore and friends.
std::string slurp_small(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) return out;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (1 << 20)) {
    out.resize(size_t(st.st_size));
    ssize_t n = ::read(fd, out.data(), out.size());
    out.resize(n > 0 ? size_t(n) : 0);
  }
  ::close(fd);
  return out;
}

class Walker {
 public:
  Walker(std::string root, const Options& options, Summary& summary) : root_(std::move(root)), summary_(summary) {
    // Inside a git work tree, the .gitignore files between the repository's top and the root
    // apply too, and so does the repository's info/exclude, as git applies them.
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::weakly_canonical(root_, ec);
    std::vector<std::filesystem::path> ancestors;
    for (auto dir = abs; !dir.empty(); dir = dir.parent_path()) {
      ancestors.push_back(dir);
      if (std::filesystem::exists(dir / ".git", ec) || dir == dir.parent_path()) break;
    }
    const auto& top = ancestors.back();
    bool in_repo = std::filesystem::exists(top / ".git", ec);
    if (in_repo) {
      std::string below = abs.lexically_relative(top).generic_string();  // root, seen from the top
      if (below == ".") below.clear();
      auto add = [&](const std::filesystem::path& dir, std::string text) {
        if (text.empty()) return;
        std::string rel = dir.lexically_relative(top).generic_string();
        if (rel == ".") rel.clear();
        // Rules of a directory above the root see our paths with the part in between in front.
        std::string above = below.substr(rel.empty() ? 0 : std::min(below.size(), rel.size() + 1));
        auto file = detail::parse_ignore("", text);
        file.above = above.empty() ? "" : above + "/";
        ignores_.push(std::move(file));
      };
      add(top, slurp_small((top / ".git/info/exclude").string()));
      for (size_t i = ancestors.size(); i-- > 1;) add(ancestors[i], slurp_small((ancestors[i] / ".gitignore").string()));
    }
    std::string rules;
    for (const auto& e : options.excludes) rules += e + "\n";
    excludes_.push(detail::parse_ignore("", rules));
  }

  std::vector<Candidate> run() {
    walk("");
    return std::move(found_);
  }

 private:
  void skip(SkipReason r) { ++summary_.skipped[size_t(r)]; }

  void walk(const std::string& rel_dir) {
    std::string dir_path = rel_dir.empty() ? root_ : root_ + "/" + rel_dir;
    DIR* dir = ::opendir(dir_path.c_str());
    if (!dir) {
      skip(SkipReason::Unreadable);
      return;
    }
    bool pushed = false;
    std::string gi = slurp_small(dir_path + "/.gitignore");
    if (!gi.empty()) {
      ignores_.push(detail::parse_ignore(rel_dir, gi));
      pushed = true;
    }
    std::vector<std::string> subdirs;
    int dfd = ::dirfd(dir);
    while (struct dirent* e = ::readdir(dir)) {
      std::string_view name = e->d_name;
      if (name == "." || name == ".." || name == ".git" || name == ".indexer") continue;
      std::string rel = rel_dir.empty() ? std::string(name) : rel_dir + "/" + std::string(name);
      struct stat st;
      bool have_stat = false;
      unsigned type = e->d_type;
      if (type == DT_UNKNOWN || type == DT_REG) {
        if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          skip(SkipReason::Vanished);
          continue;
        }
        have_stat = true;
        if (S_ISDIR(st.st_mode)) type = DT_DIR;
        else if (S_ISREG(st.st_mode)) type = DT_REG;
        else if (S_ISLNK(st.st_mode)) type = DT_LNK;
        else type = DT_FIFO;
      }
      if (type == DT_DIR) {
        if (!ignored(rel, true)) subdirs.push_back(std::move(rel));
        continue;
      }
      if (ignored(rel, false)) continue;
      if (type == DT_LNK) {
        skip(SkipReason::Symlink);
        continue;
      }
      if (type != DT_REG || !have_stat) {
        skip(SkipReason::Special);
        continue;
      }
      Language lang = grammars::detect_language(rel, {});
      if (lang == Language::Unknown && name.find('.') != std::string_view::npos && name.front() != '.') {
        skip(SkipReason::Unsupported);
        continue;
      }
      found_.push_back({std::move(rel), uint64_t(st.st_size), int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, lang});
    }
    ::closedir(dir);
    std::sort(subdirs.begin(), subdirs.end());
    for (const auto& s : subdirs) walk(s);
    if (pushed) ignores_.pop();
  }

  // --exclude wins over everything, even a .gitignore "!" line.
  bool ignored(const std::string& rel, bool is_dir) const {
    return excludes_.ignored(rel, is_dir) || ignores_.ignored(rel, is_dir);
  }

  std::string root_;
  Summary& summary_;
  IgnoreStack ignores_;
  IgnoreStack excludes_;
  std::vector<Candidate> found_;
};

enum class ReadStatus { Ok, Skip };

// Reads `path` into `buf` if it is a regular file no larger than `max`; else counts why not.
ReadStatus read_file(const std::string& path, uint64_t max, std::string& buf, int64_t& mtime_ns, SkipReason& why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) {
    why = errno == ENOENT ? SkipReason::Vanished : errno == ELOOP ? SkipReason::Symlink : SkipReason::Unreadable;
    return ReadStatus::Skip;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    why = SkipReason::Special;
    return ReadStatus::Skip;
  }
  if (uint64_t(st.st_size) > max) {
    ::close(fd);
    why = SkipReason::TooLarge;
    return ReadStatus::Skip;
  }
  mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  buf.resize(size_t(st.st_size) + 1);
  size_t got = 0;
  for (;;) {
    if (got == buf.size()) {
      if (got > max) break;  // grew while we read
      buf.resize(buf.size() * 2);
    }
    ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      why = SkipReason::Unreadable;
      return ReadStatus::Skip;
    }
    if (n == 0) break;
    got += size_t(n);
  }
  ::close(fd);
  if (got > max) {
    why = SkipReason::TooLarge;
    return ReadStatus::Skip;
  }
  buf.resize(got);
  return ReadStatus::Ok;
}

bool looks_minified(std::string_view name, std::string_view text) {
  if (name.find(".min.") != std::string_view::npos) return true;
  if (text.size() < 4096) return false;
  size_t lines = size_t(std::count(text.begin(), text.end(), '\n')) + 1;
  return text.size() / lines > 300;
}

bool looks_generated(std::string_view text) {
  std::string_view head = text.substr(0, 2048);
  return head.find("@generated") != std::string_view::npos || head.find("DO NOT EDIT") != std::string_view::npos ||
         head.find("Code generated") != std::string_view::npos;
}

// Whether every file the walk found is one the previous run indexed or skipped, with the same
// size and mtime (or, when racy, the same content), and none of those is gone. The cheap check
// that lets an unchanged tree skip the rebuild.
bool unchanged_since(const std::string& root, const std::vector<Candidate>& files, const query::Index& previous,
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
      SkipReason why{};
      if (read_file(root + "/" + c.rel, UINT64_MAX, buf, mtime, why) != ReadStatus::Ok || query::content_hash(buf) != info.content_hash)
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

  Summary& summary = result.summary;
  std::vector<Candidate> files = Walker(root, options, summary).run();
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

  if (previous_index && unchanged_since(root, files, *previous_index, previous_skips, racy_after)) {
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
    detail::Extractor extractor;
    Extraction ex;
    std::string buf;
    Summary local;
    std::vector<SkippedFile> local_skips;
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= files.size()) break;
      const Candidate& c = files[i];
      int64_t mtime = 0;
      SkipReason why{};
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
      if (read_file(root + "/" + c.rel, options.max_file_size, buf, mtime, why) != ReadStatus::Ok) {
        skip(why, c.size, c.mtime_ns);
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
      if (std::memchr(text.data(), 0, std::min<size_t>(text.size(), 8000))) {
        skip(SkipReason::Binary, text.size(), mtime);
        continue;
      }
      Language lang = c.language;
      if (lang == Language::Unknown) lang = grammars::detect_language(c.rel, text.substr(0, text.find('\n')));
      if (lang == Language::Unknown) {
        skip(SkipReason::Unsupported, text.size(), mtime);
        continue;
      }
      if (!options.index_minified && looks_minified(c.rel, text)) {
        skip(SkipReason::Minified, text.size(), mtime);
        continue;
      }
      if (looks_generated(text)) ++local.generated_files;
      if (options.parse_only) {
        extractor.parse(lang, text);
        ++local.files_indexed;
        local.bytes_indexed += text.size();
        done();
        continue;
      }
      // Queries compile on first use (tens of milliseconds each, ~0.5 s for C++), so a run pays
      // only for the languages it meets.
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
