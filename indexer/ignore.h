// .gitignore rules, evaluated while walking. Private to indexer/.
//
// Each directory's .gitignore applies below that directory; deeper files override shallower ones
// and, within a file, the last matching line wins ("!" re-includes). A pattern without a '/' (other
// than a trailing one) matches a name at any depth; with one it is anchored at its file's
// directory; a trailing '/' matches directories only. As in git, nothing below an ignored
// directory is re-included: the walk never enters it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace indexer::detail {

struct IgnoreRule {
  std::string glob;  // anchored rules: relative to the rule file's directory
  bool negate = false;
  bool dir_only = false;
  bool anchored = false;
};

struct IgnoreFile {
  std::string base;   // directory of the rule file, relative to the root, "" for the root
  std::string above;  // for a rule file above the root: the path from it to the root, with '/'
  std::vector<IgnoreRule> rules;
};

// Parses the text of a .gitignore (or exclude) file.
IgnoreFile parse_ignore(std::string base, std::string_view text);

class IgnoreStack {
 public:
  void push(IgnoreFile file) { files_.push_back(std::move(file)); }
  void pop() { files_.pop_back(); }
  size_t depth() const { return files_.size(); }
  // `path` is relative to the root.
  bool ignored(std::string_view path, bool is_dir) const;

 private:
  std::vector<IgnoreFile> files_;
};

}  // namespace indexer::detail
