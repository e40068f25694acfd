#include "indexer/ignore.h"

#include "query/query.h"

namespace indexer::detail {

IgnoreFile parse_ignore(std::string base, std::string_view text) {
  IgnoreFile file{std::move(base), {}};
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // Trailing spaces are dropped unless escaped with a backslash (an odd run of them).
    auto escaped_at = [&](size_t end) {  // is line[end] preceded by an odd number of backslashes?
      size_t n = 0;
      while (n < end && line[end - 1 - n] == '\\') ++n;
      return n % 2 == 1;
    };
    while (!line.empty() && line.back() == ' ' && !escaped_at(line.size() - 1)) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (escaped_at(line.size())) continue;  // ends in a lone backslash: git ignores the line
    IgnoreRule rule;
    if (line.front() == '!') {
      rule.negate = true;
      line.remove_prefix(1);
    } else if (line.starts_with("\\!") || line.starts_with("\\#")) {
      line.remove_prefix(1);
    }
    if (!line.empty() && line.back() == '/') {
      rule.dir_only = true;
      line.remove_suffix(1);
    }
    if (line.empty()) continue;
    rule.anchored = line.find('/') != std::string_view::npos;
    if (line.front() == '/') line.remove_prefix(1);
    rule.glob = std::string(line);
    file.rules.push_back(std::move(rule));
  }
  return file;
}

bool IgnoreStack::ignored(std::string_view path, bool is_dir) const {
  std::string_view name = path.substr(path.find_last_of('/') + 1);
  std::string prefixed;
  for (size_t f = files_.size(); f-- > 0;) {
    const IgnoreFile& file = files_[f];
    std::string_view rel = path;
    if (!file.above.empty()) {
      prefixed = file.above;
      prefixed += path;
      rel = prefixed;
    }
    if (!file.base.empty()) {
      if (!(rel.size() > file.base.size() && rel.starts_with(file.base) && rel[file.base.size()] == '/')) continue;
      rel.remove_prefix(file.base.size() + 1);
    }
    for (size_t r = file.rules.size(); r-- > 0;) {
      const IgnoreRule& rule = file.rules[r];
      if (rule.dir_only && !is_dir) continue;
      bool hit = rule.anchored ? query::glob_match(rule.glob, rel) : query::glob_match(rule.glob, name);
      if (hit) return !rule.negate;
    }
  }
  return false;
}

}  // namespace indexer::detail
