#include "indexer/workspaces.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <deque>

#include "indexer/confine.h"

namespace indexer::detail {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string line_error(std::string_view text, size_t at, std::string_view what) {
  size_t line = 1 + size_t(std::count(text.begin(), text.begin() + std::ptrdiff_t(std::min(at, text.size())), '\n'));
  return "line " + std::to_string(line) + ": " + std::string(what);
}

// The TOML subset of Cargo.toml: tables, `key = value` with dotted or quoted keys, and values
// read far enough to skip them: strings (basic, literal, multi-line), arrays and inline tables
// (strings at the array's own level are kept), scalars to the end of the line.
class TomlReader {
 public:
  explicit TomlReader(std::string_view s) : s_(s) {}

  CargoManifest run() {
    CargoManifest m;
    std::string section;
    while (true) {
      skip_blank();
      if (i_ >= s_.size()) break;
      if (s_[i_] == '[') {
        size_t end = s_.find('\n', i_);
        std::string_view header = s_.substr(i_, end == std::string_view::npos ? std::string_view::npos : end - i_);
        size_t close = header.find(']');
        if (close == std::string_view::npos) return fail(m, "expected ']'");
        std::string_view name = header.substr(1, close - 1);
        if (name.starts_with("[")) name.remove_prefix(1);  // [[bin]]: an array of tables
        section = unquote_key(trim(name));
        if (section == "package") m.has_package = true;
        if (section == "workspace" || section.starts_with("workspace.")) m.has_workspace = true;
        i_ = end == std::string_view::npos ? s_.size() : end;
        continue;
      }
      size_t eq = i_;
      while (eq < s_.size() && s_[eq] != '=' && s_[eq] != '\n') ++eq;
      if (eq >= s_.size() || s_[eq] != '=') return fail(m, "expected '='");
      std::string key = unquote_key(trim(s_.substr(i_, eq - i_)));
      i_ = eq + 1;
      skip_space();
      std::string str;
      std::vector<std::string> list;
      bool is_string = false;
      if (!value(str, list, is_string)) return fail(m, error_);
      std::string full = section.empty() ? key : section + "." + key;
      if (full == "package.name" && is_string) m.package_name = str, m.has_package = true;
      else if (full == "lib.name" && is_string) m.lib_name = str;
      else if (full == "lib.path" && is_string) m.lib_path = str;
      else if (full == "workspace.members") m.members = std::move(list), m.has_workspace = true;
      else if (full == "workspace.exclude") m.exclude = std::move(list);
      skip_space();
      if (i_ < s_.size() && s_[i_] == '#') skip_line();
      if (i_ < s_.size() && s_[i_] != '\n') return fail(m, "expected the end of the line");
    }
    return m;
  }

 private:
  CargoManifest fail(CargoManifest& m, std::string_view what) {
    m = CargoManifest{};
    m.error = line_error(s_, i_, what);
    return m;
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  void skip_line() {
    while (i_ < s_.size() && s_[i_] != '\n') ++i_;
  }
  void skip_blank() {
    while (i_ < s_.size()) {
      if (s_[i_] == '#') skip_line();
      else if (std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
      else break;
    }
  }
  // "a.b", "\"a\".b" -> a.b: quotes dropped, no escapes in the keys read here.
  static std::string unquote_key(std::string_view k) {
    std::string out;
    for (char c : k)
      if (c != '"' && c != '\'' && c != ' ' && c != '\t') out += c;
    return out;
  }
  bool string(std::string& out) {
    char q = s_[i_];
    bool triple = s_.substr(i_, 3) == std::string(3, q);
    i_ += triple ? 3 : 1;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (triple ? s_.substr(i_, 3) == std::string(3, q) : c == q) {
        i_ += triple ? 3 : 1;
        return true;
      }
      if (c == '\n' && !triple) break;
      if (c == '\\' && q == '"' && i_ + 1 < s_.size()) {
        char e = s_[++i_];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else {
        out += c;
      }
      ++i_;
    }
    error_ = "unterminated string";
    return false;
  }
  bool value(std::string& str, std::vector<std::string>& list, bool& is_string) {
    if (i_ >= s_.size()) return true;
    char c = s_[i_];
    if (c == '"' || c == '\'') return is_string = true, string(str);
    if (c != '[' && c != '{') {
      while (i_ < s_.size() && s_[i_] != '\n' && s_[i_] != '#') ++i_;
      return true;
    }
    // Arrays and inline tables by depth, not recursion: a repository's file is not trusted.
    size_t depth = 0;
    const char open = c;
    do {
      c = s_[i_];
      if (c == '"' || c == '\'') {
        std::string item;
        if (!string(item)) return false;
        if (depth == 1 && open == '[') list.push_back(std::move(item));
        continue;
      }
      if (c == '#') skip_line();
      else if (c == '[' || c == '{') ++depth, ++i_;
      else if (c == ']' || c == '}') --depth, ++i_;
      else ++i_;
    } while (depth > 0 && i_ < s_.size());
    if (depth > 0) {
      error_ = "unterminated array";
      return false;
    }
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string error_;
};

// A YAML scalar as written in a list: 'quoted' ('' is '), "quoted", or plain up to a comment.
std::optional<std::string> yaml_scalar(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::string();
  if (s[0] == '\'' || s[0] == '"') {
    char q = s[0];
    std::string out;
    for (size_t i = 1; i < s.size(); ++i) {
      if (s[i] == q) {
        if (q == '\'' && i + 1 < s.size() && s[i + 1] == '\'') {
          out += q, ++i;
          continue;
        }
        return out;
      }
      if (s[i] == '\\' && q == '"' && i + 1 < s.size()) ++i;
      out += s[i];
    }
    return std::nullopt;
  }
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) return std::string(trim(s.substr(0, i)));
  return std::string(s);
}

void conditions(const JsonValue& v, std::string_view star, bool has_star, std::vector<std::string>& out) {
  static constexpr std::string_view kPreferred[] = {"types", "import", "require", "default"};
  switch (v.type) {
    case JsonValue::Type::String: {
      std::string t = v.text;
      if (has_star)
        for (size_t at = t.find('*'); at != std::string::npos; at = t.find('*', at + star.size())) t.replace(at, 1, star);
      if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(std::move(t));
      break;
    }
    case JsonValue::Type::Array:
      for (const auto& item : v.items) conditions(item, star, has_star, out);
      break;
    case JsonValue::Type::Object:
      for (auto key : kPreferred)
        if (const auto* c = v.get(key)) conditions(*c, star, has_star, out);
      for (size_t i = 0; i < v.keys.size(); ++i)
        if (std::find(std::begin(kPreferred), std::end(kPreferred), v.keys[i]) == std::end(kPreferred))
          conditions(v.items[i], star, has_star, out);
      break;
    default: break;  // null: the subpath is not exported
  }
}

bool segment_match(std::string_view pattern, std::string_view name) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(name).c_str(), FNM_PERIOD) == 0;
}

std::vector<std::string_view> segments(std::string_view p) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i <= p.size();) {
    size_t j = std::min(p.find('/', i), p.size());
    std::string_view s = p.substr(i, j - i);
    if (!s.empty() && s != ".") out.push_back(s);
    i = j + 1;
  }
  return out;
}

std::string join(std::string_view dir, std::string_view rel) {
  if (dir.empty()) return std::string(rel);
  if (rel.empty()) return std::string(dir);
  return std::string(dir) + "/" + std::string(rel);
}

// Subdirectories of tree-relative `rel`, under confine.h's rule (links are not followed).
std::vector<std::string> subdirectories(int root_fd, const std::string& rel) {
  std::vector<std::string> out;
  confine::Opened d = confine::open_beneath(root_fd, rel, O_RDONLY | O_DIRECTORY);
  if (!d) return out;
  DIR* dir = ::fdopendir(d.fd.get());
  if (!dir) return out;
  d.fd.release();
  while (const dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name.starts_with('.') || name == "node_modules") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) out.emplace_back(name);
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

CargoManifest read_cargo_toml(std::string_view text) { return TomlReader(text).run(); }

NpmManifest read_package_json(const JsonValue& j) {
  NpmManifest m;
  if (const auto* n = j.get("name"); n && n->is_string()) m.name = n->text;
  const JsonValue* ws = j.get("workspaces");
  if (ws && ws->type == JsonValue::Type::Object) ws = ws->get("packages");  // yarn's {packages, nohoist}
  if (ws && ws->type == JsonValue::Type::Array) {
    m.has_workspaces = true;
    for (const auto& item : ws->items)
      if (item.is_string()) m.workspaces.push_back(item.text);
  }
  if (const auto* e = j.get("exports")) m.exports = *e;
  for (const char* field : {"types", "typings", "main", "module"})
    if (const auto* f = j.get(field); f && f->is_string() && !f->text.empty()) m.entries.push_back(f->text);
  return m;
}

std::vector<std::string> read_pnpm_workspace(std::string_view text, std::string& error) {
  std::vector<std::string> out;
  bool in_list = false;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = std::min(text.find('\n', at), text.size());
    std::string_view raw = text.substr(at, end - at), line = trim(raw);
    size_t line_at = at;
    at = end + 1;
    if (line.empty() || line.starts_with('#')) continue;
    bool top = raw.front() != ' ' && raw.front() != '\t';
    if (in_list) {
      if (line.starts_with("- ") || line == "-") {
        auto item = yaml_scalar(line.substr(1));
        if (!item) return error = line_error(text, line_at, "unterminated quote"), std::vector<std::string>{};
        if (!item->empty()) out.push_back(std::move(*item));
        continue;
      }
      if (!top) return error = line_error(text, line_at, "expected a list item"), std::vector<std::string>{};
      in_list = false;
    }
    if (!top) continue;
    std::string_view key = line.substr(0, line.find(':'));
    if (key.size() == line.size() || (key != "packages" && key != "'packages'" && key != "\"packages\"")) continue;
    std::string_view rest = trim(line.substr(key.size() + 1));
    if (rest.empty() || rest.starts_with('#')) {
      in_list = true;
      continue;
    }
    if (!rest.starts_with('[')) return error = line_error(text, line_at, "packages: expected a list"), std::vector<std::string>{};
    // A flow list, which may span lines.
    size_t close = text.find(']', line_at + (rest.data() - raw.data()));
    if (close == std::string_view::npos) return error = line_error(text, line_at, "unterminated list"), std::vector<std::string>{};
    std::string_view inner = text.substr(size_t(rest.data() - text.data()) + 1);
    inner = inner.substr(0, close - size_t(rest.data() - text.data()) - 1);
    for (size_t i = 0; i <= inner.size();) {
      size_t j = std::min(inner.find(',', i), inner.size());
      auto item = yaml_scalar(inner.substr(i, j - i));
      if (!item) return error = line_error(text, line_at, "unterminated quote"), std::vector<std::string>{};
      if (!item->empty()) out.push_back(std::move(*item));
      i = j + 1;
    }
    at = std::min(text.find('\n', close), text.size()) + 1;
  }
  return out;
}

std::vector<std::string> read_go_work(std::string_view text) {
  std::vector<std::string> out;
  bool in_use = false;
  auto unquote = [](std::string_view s) {
    s = trim(s);
    if (s.size() >= 2 && (s.front() == '"' || s.front() == '`')) s = s.substr(1, s.size() - 2);
    return std::string(s.substr(0, s.find_first_of(" \t")));
  };
  for (size_t at = 0; at < text.size();) {
    size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    line = trim(line.substr(0, line.find("//")));
    at = end + 1;
    if (in_use) {
      if (line.starts_with(")")) in_use = false;
      else if (!line.empty()) out.push_back(unquote(line));
    } else if (line.starts_with("use") && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '(')) {
      std::string_view rest = trim(line.substr(3));
      if (rest.starts_with("(")) in_use = true;
      else if (!rest.empty()) out.push_back(unquote(rest));
    }
  }
  std::erase(out, std::string());
  return out;
}

std::vector<std::string> export_targets(const JsonValue& exports, std::string_view sub) {
  std::vector<std::string> out;
  if (exports.type != JsonValue::Type::Object) {
    if (sub == ".") conditions(exports, {}, false, out);
    return out;
  }
  bool subpaths = std::any_of(exports.keys.begin(), exports.keys.end(), [](const std::string& k) { return k.starts_with('.'); });
  if (!subpaths) {
    if (sub == ".") conditions(exports, {}, false, out);
    return out;
  }
  if (const auto* exact = exports.get(sub)) {
    conditions(*exact, {}, false, out);
    return out;
  }
  // Patterns ("./*", "./utils/*.js") and folder mappings ("./dir/"): the longest prefix wins.
  // Node's order: the longer prefix before the '*', then the longer key.
  const JsonValue* best = nullptr;
  size_t best_prefix = 0, best_key = 0;
  std::string_view star;
  bool folder = false;
  for (size_t i = 0; i < exports.keys.size(); ++i) {
    std::string_view k = exports.keys[i];
    size_t at = k.find('*');
    if (at == std::string_view::npos) {
      if (k.ends_with('/') && sub.starts_with(k) && std::pair(k.size(), k.size()) > std::pair(best_prefix, best_key))
        best = &exports.items[i], best_prefix = best_key = k.size(), star = sub.substr(k.size()), folder = true;
      continue;
    }
    std::string_view pre = k.substr(0, at), post = k.substr(at + 1);
    if (sub.size() >= pre.size() + post.size() && sub.starts_with(pre) && sub.ends_with(post) &&
        std::pair(pre.size(), k.size()) > std::pair(best_prefix, best_key))
      best = &exports.items[i], best_prefix = pre.size(), best_key = k.size(),
      star = sub.substr(pre.size(), sub.size() - pre.size() - post.size()), folder = false;
  }
  if (!best) return out;
  if (folder) {
    std::vector<std::string> dirs;
    conditions(*best, {}, false, dirs);
    for (auto& d : dirs) out.push_back(d + std::string(star));
  } else {
    conditions(*best, star, true, out);
  }
  return out;
}

bool dir_glob_match(std::string_view pattern, std::string_view path) {
  auto p = segments(pattern), s = segments(path);
  size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == "**") {
      star_p = pi++, star_s = si;
    } else if (pi < p.size() && segment_match(p[pi], s[si])) {
      ++pi, ++si;
    } else if (star_p != SIZE_MAX) {
      pi = star_p + 1, si = ++star_s;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == "**") ++pi;
  return pi == p.size();
}

std::vector<std::string> expand_members(const std::string& root, const std::string& base, const std::vector<std::string>& includes,
                                        const std::vector<std::string>& excludes, std::string& warning) {
  std::vector<std::string> positive, negative(excludes.begin(), excludes.end());
  for (const auto& p : includes)
    (p.starts_with('!') ? negative : positive).push_back(p.starts_with('!') ? p.substr(1) : p);
  auto excluded = [&](const std::string& rel) {
    for (const auto& n : negative) {
      std::string_view clean = n;
      while (clean.starts_with("./")) clean.remove_prefix(2);
      while (clean.ends_with('/')) clean.remove_suffix(1);
      if (dir_glob_match(clean, rel) || (rel.starts_with(clean) && rel.size() > clean.size() && rel[clean.size()] == '/')) return true;
    }
    return false;
  };
  confine::Opened root_dir = confine::open_root(root);
  if (!root_dir) return {};
  std::vector<std::string> out;
  size_t listed = 0;
  for (const auto& pattern : positive) {
    auto segs = segments(pattern);
    if (pattern.starts_with('/') || std::find(segs.begin(), segs.end(), "..") != segs.end()) continue;
    std::string clean;
    for (auto s : segs) clean = join(clean, s);
    // The literal head is walked to directly; only the globbed tail is listed.
    size_t head = 0;
    std::string start;
    while (head < segs.size() && segs[head].find_first_of("*?[") == std::string_view::npos) start = join(start, segs[head++]);
    if (head == segs.size()) {
      struct stat st;
      if (confine::stat_beneath(root_dir.fd.get(), join(base, start), st) == confine::Refusal::None && S_ISDIR(st.st_mode) && !excluded(start))
        out.push_back(join(base, start));
      continue;
    }
    bool deep = std::find(segs.begin() + std::ptrdiff_t(head), segs.end(), "**") != segs.end();
    size_t max_depth = deep ? 16 : segs.size() - head;
    std::deque<std::pair<std::string, size_t>> todo{{start, 0}};
    while (!todo.empty()) {
      auto [rel, depth] = std::move(todo.front());
      todo.pop_front();
      if (depth > 0 && dir_glob_match(clean, rel) && !excluded(rel)) out.push_back(join(base, rel));
      if (depth == max_depth) continue;
      for (auto& name : subdirectories(root_dir.fd.get(), join(base, rel))) {
        if (++listed > kMaxListed) {
          warning = "over " + std::to_string(kMaxListed) + " directories listed for the workspace's members; the rest are left out";
          todo.clear();
          break;
        }
        todo.emplace_back(join(rel, name), depth + 1);
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace indexer::detail
