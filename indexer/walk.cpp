#include "indexer/walk.h"

#include "indexer/confine.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace indexer::detail {
namespace {

using query::Language;

// Reads a small file fully; "" when it cannot be read. For .gitignore and friends.
std::string slurp_small(int fd) {
  std::string out;
  if (fd < 0) return out;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (1 << 20)) {
    out.resize(size_t(st.st_size));
    ssize_t n = ::read(fd, out.data(), out.size());
    out.resize(n > 0 ? size_t(n) : 0);
  }
  return out;
}

// Above the root (trusted: the user chose the root), by name.
std::string slurp_small(const std::string& path) {
  confine::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW));
  return slurp_small(fd.get());
}

// A directory's .gitignore inside the tree ("" for the root's), confined as every file is.
std::string gitignore_of(int root_fd, const std::string& dir) {
  confine::Opened f = confine::open_beneath(root_fd, dir.empty() ? ".gitignore" : dir + "/.gitignore", O_RDONLY | O_NONBLOCK);
  return slurp_small(f.fd.get());
}

// Inside a git work tree, the .gitignore files between the repository's top and the root apply
// too, and so does the repository's info/exclude, as git applies them.
std::vector<IgnoreFile> rules_above_root(const std::string& root) {
  std::vector<IgnoreFile> out;
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::weakly_canonical(root, ec);
  std::vector<std::filesystem::path> ancestors;
  for (auto dir = abs; !dir.empty(); dir = dir.parent_path()) {
    ancestors.push_back(dir);
    if (std::filesystem::exists(dir / ".git", ec) || dir == dir.parent_path()) break;
  }
  const auto& top = ancestors.back();
  if (!std::filesystem::exists(top / ".git", ec)) return out;
  std::string below = abs.lexically_relative(top).generic_string();  // root, seen from the top
  if (below == ".") below.clear();
  auto add = [&](const std::filesystem::path& dir, std::string text) {
    if (text.empty()) return;
    std::string rel = dir.lexically_relative(top).generic_string();
    if (rel == ".") rel.clear();
    // Rules of a directory above the root see our paths with the part in between in front.
    std::string above = below.substr(rel.empty() ? 0 : std::min(below.size(), rel.size() + 1));
    auto file = parse_ignore("", text);
    file.above = above.empty() ? "" : above + "/";
    out.push_back(std::move(file));
  };
  add(top, slurp_small((top / ".git/info/exclude").string()));
  for (size_t i = ancestors.size(); i-- > 1;) add(ancestors[i], slurp_small((ancestors[i] / ".gitignore").string()));
  return out;
}

// --exclude patterns, as one rule file at the root.
IgnoreFile exclude_rules(const Options& options) {
  std::string rules;
  for (const auto& e : options.excludes) rules += e + "\n";
  return parse_ignore("", rules);
}

class Walker {
 public:
  Walker(std::string root, const Options& options, Summary& summary) : root_(std::move(root)), summary_(summary) {
    for (auto& file : rules_above_root(root_)) ignores_.push(std::move(file));
    excludes_.push(exclude_rules(options));
  }

  // Walks `under` (a directory relative to the root, "" for all); the .gitignore files of the
  // directories above it apply as they would in a walk from the root.
  std::vector<Candidate> run(const std::string& under) {
    confine::Opened root = confine::open_root(root_);
    if (!root) {
      skip(SkipReason::Unreadable);
      return {};
    }
    root_fd_ = root.fd.get();
    for (size_t slash = 0; !under.empty();) {
      std::string dir = under.substr(0, slash);  // "", then each ancestor of `under`
      std::string gi = gitignore_of(root_fd_, dir);
      if (!gi.empty()) ignores_.push(parse_ignore(dir, gi));
      slash = under.find('/', slash + 1);
      if (slash == std::string::npos) break;
    }
    walk(under);
    return std::move(found_);
  }

 private:
  void skip(SkipReason r) { ++summary_.skipped[size_t(r)]; }

  void walk(const std::string& rel_dir) {
    // Entered by descriptor, every component checked: a directory swapped for a link since it
    // was listed is not followed out of the tree.
    confine::Opened opened = confine::open_beneath(root_fd_, rel_dir, O_RDONLY | O_DIRECTORY);
    DIR* dir = opened ? ::fdopendir(opened.fd.get()) : nullptr;
    if (!dir) {
      skip(opened.refusal == confine::Refusal::Symlink ? SkipReason::Symlink
           : opened.refusal == confine::Refusal::NotFound ? SkipReason::Vanished : SkipReason::Unreadable);
      return;
    }
    opened.fd.release();  // closedir() closes it
    bool pushed = false;
    int dfd = ::dirfd(dir);
    std::string gi = slurp_small(confine::Fd(::openat(dfd, ".gitignore", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)).get());
    if (!gi.empty()) {
      ignores_.push(parse_ignore(rel_dir, gi));
      pushed = true;
    }
    std::vector<std::string> subdirs;
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
      if (lang == Language::Unknown && unsupported_name(rel)) {
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
  int root_fd_ = -1;  // while run() runs
  Summary& summary_;
  IgnoreStack ignores_;
  IgnoreStack excludes_;
  std::vector<Candidate> found_;
};

}  // namespace

std::optional<SkipReason> read_file(int root_fd, std::string_view rel, uint64_t max, std::string& buf, int64_t& mtime_ns) {
  if (root_fd < 0) return SkipReason::Vanished;  // the root went with it
  confine::Opened opened = confine::open_beneath(root_fd, rel, O_RDONLY | O_NONBLOCK);
  switch (opened.refusal) {
    case confine::Refusal::None: break;
    case confine::Refusal::NotFound: return SkipReason::Vanished;
    case confine::Refusal::Symlink: return SkipReason::Symlink;
    case confine::Refusal::Outside:
    case confine::Refusal::Unreadable: return SkipReason::Unreadable;
  }
  int fd = opened.fd.release();
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return SkipReason::Special;
  }
  if (uint64_t(st.st_size) > max) {
    ::close(fd);
    return SkipReason::TooLarge;
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
      return SkipReason::Unreadable;
    }
    if (n == 0) break;
    got += size_t(n);
  }
  ::close(fd);
  if (got > max) {
    return SkipReason::TooLarge;
  }
  buf.resize(got);
  return std::nullopt;
}

namespace {

bool looks_minified(std::string_view name, std::string_view text) {
  if (name.find(".min.") != std::string_view::npos) return true;
  if (text.size() < 4096) return false;
  size_t lines = size_t(std::count(text.begin(), text.end(), '\n')) + 1;
  return text.size() / lines > 300;
}

}  // namespace

bool looks_generated(std::string_view text) {
  std::string_view head = text.substr(0, 2048);
  return head.find("@generated") != std::string_view::npos || head.find("DO NOT EDIT") != std::string_view::npos ||
         head.find("Code generated") != std::string_view::npos;
}


bool unsupported_name(std::string_view rel) {
  std::string_view name = rel.substr(rel.rfind('/') + 1);
  return name.find('.') != std::string_view::npos && name.front() != '.' &&
         grammars::detect_language(rel, {}) == Language::Unknown;
}

std::optional<SkipReason> check_text(std::string_view rel, std::string_view text, const Options& options, Language& lang) {
  if (std::memchr(text.data(), 0, std::min<size_t>(text.size(), 8000))) return SkipReason::Binary;
  if (lang == Language::Unknown) lang = grammars::detect_language(rel, text.substr(0, text.find('\n')));
  if (lang == Language::Unknown) return SkipReason::Unsupported;
  if (!options.index_minified && looks_minified(rel, text)) return SkipReason::Minified;
  return std::nullopt;
}

std::vector<Candidate> walk_tree(const std::string& root, const Options& options, Summary& summary, const std::string& under) {
  return Walker(root, options, summary).run(under);
}

TreeIgnore::TreeIgnore(std::string root, const Options& options) : root_(std::move(root)), above_(rules_above_root(root_)) {
  excludes_.push(exclude_rules(options));
}

const IgnoreFile* TreeIgnore::rules_of(const std::string& dir) {
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) {
    confine::Opened root = confine::open_root(root_);
    std::string text = root ? gitignore_of(root.fd.get(), dir) : std::string();
    std::optional<IgnoreFile> file;
    if (!text.empty()) file = parse_ignore(dir, text);
    it = dirs_.emplace(dir, std::move(file)).first;
  }
  return it->second ? &*it->second : nullptr;
}

bool TreeIgnore::ignored(std::string_view rel, bool is_dir) {
  // As the walk decides: each directory on the way, then the path, against the rules of the
  // directories above it; .git and .indexer are never entered.
  IgnoreStack stack;
  for (const auto& f : above_) stack.push(f);
  if (const IgnoreFile* f = rules_of("")) stack.push(*f);
  for (size_t start = 0;;) {
    size_t slash = rel.find('/', start);
    bool last = slash == std::string_view::npos;
    std::string_view name = rel.substr(start, last ? std::string_view::npos : slash - start);
    std::string path(rel.substr(0, last ? rel.size() : slash));
    bool dir = !last || is_dir;
    if ((dir && (name == ".git" || name == ".indexer")) || excludes_.ignored(path, dir) || stack.ignored(path, dir)) return true;
    if (last) return false;
    if (const IgnoreFile* f = rules_of(path)) stack.push(*f);
    start = slash + 1;
  }
}

}  // namespace indexer::detail
