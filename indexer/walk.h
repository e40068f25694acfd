// Finding and reading the files of a tree: the walk (honouring .gitignore), the checks a file's
// bytes go through before parsing, and the ignore rules for a single path. Private to indexer/:
// index_tree() and the live tree (live_tree.h) share them, so a file is judged the same way
// whether a full run or the watcher meets it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "indexer/ignore.h"
#include "indexer/indexer.h"

namespace indexer::detail {

struct Candidate {
  std::string rel;
  uint64_t size;
  int64_t mtime_ns;
  query::Language language;  // Unknown: decide by the #! line
};

// The files under `under` ("" for the whole tree) that are not ignored, with skips (symlinks,
// special files, unsupported names, unreadable directories) counted in `summary`. The
// .gitignore files of `under`'s ancestors apply as in a walk from the root.
std::vector<Candidate> walk_tree(const std::string& root, const Options& options, Summary& summary,
                                 const std::string& under = "");

// A name with an extension no grammar has ("notes.txt"): not even read. Names without one
// ("Makefile", "run") may still have a #! line.
bool unsupported_name(std::string_view rel);

// Reads `rel` (relative to the root's descriptor, confine.h's rule) into `buf` if it is a regular
// file no larger than `max`; else says why not (a link anywhere on its way: Symlink).
std::optional<SkipReason> read_file(int root_fd, std::string_view rel, uint64_t max, std::string& buf, int64_t& mtime_ns);

// Why `text`, read from `rel`, is not parsed (binary, no grammar by name or #! line, minified);
// else nullopt, with its language in `lang`.
std::optional<SkipReason> check_text(std::string_view rel, std::string_view text, const Options& options,
                                     query::Language& lang);

bool looks_generated(std::string_view text);

// Whether one path of the tree is ignored, asked at any time rather than during a walk: by the
// rules above the root, --exclude, or the .gitignore of any directory on its way (which is
// ignored itself when an ancestor directory is). Each directory's .gitignore is read once and
// cached; forget() drops the cache after one changed.
class TreeIgnore {
 public:
  TreeIgnore(std::string root, const Options& options);
  bool ignored(std::string_view rel, bool is_dir);
  void forget() { dirs_.clear(); }

 private:
  const IgnoreFile* rules_of(const std::string& dir);  // null when the directory has no .gitignore

  std::string root_;
  std::vector<IgnoreFile> above_;
  IgnoreStack excludes_;
  std::unordered_map<std::string, std::optional<IgnoreFile>> dirs_;
};

}  // namespace indexer::detail
