#include "indexer/resolve_imports.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "indexer/confine.h"
#include "indexer/config_json.h"
#include "indexer/walk.h"
#include "indexer/workspaces.h"

namespace indexer {

namespace {

namespace fs = std::filesystem;
using query::ImportTarget;
using query::Language;
using Files = std::vector<uint32_t>;  // the resolver's own file ids (stable across index views)

// The keys a resolve() looked up, when its caller asks (LiveImportGraph): "d<dir>" for a file's
// existence or a directory's files, "n<base name>", "b<directory name>", "c" for C#'s
// declarations, "p" for PHP's, "g" for the set of go.mod modules (and go.work files), "w" for
// the packages known by name (Cargo, npm/yarn/pnpm workspaces and package.json files). A change to
// the tree names the keys it touches (ImportResolver::update()), and only the files that looked
// one up can resolve differently.
thread_local std::vector<std::string>* t_probes = nullptr;

void probe(char kind, std::string_view key) {
  if (!t_probes) return;
  if (!t_probes->empty() && t_probes->back().size() == key.size() + 1 && t_probes->back()[0] == kind &&
      std::string_view(t_probes->back()).substr(1) == key)
    return;  // the same key again: most lookups of one import are in one directory
  std::string k(1, kind);
  k += key;
  t_probes->push_back(std::move(k));
}

uint64_t fnv(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// ---- Paths: relative to the root, '/'-separated, "" is the root -----------------------------------

// Resolves "." and ".." lexically; nullopt when the path climbs above the root.
std::optional<std::string> normalize(std::string_view path) {
  std::vector<std::string_view> parts;
  for (size_t i = 0; i <= path.size();) {
    size_t j = std::min(path.find('/', i), path.size());
    std::string_view part = path.substr(i, j - i);
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

std::string_view dir_of(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
}

std::string_view base_of(std::string_view path) { return path.substr(path.rfind('/') + 1); }

std::string join(std::string_view dir, std::string_view rel) {
  if (dir.empty()) return std::string(rel);
  if (rel.empty()) return std::string(dir);
  return std::string(dir) + "/" + std::string(rel);
}

std::vector<std::string_view> split(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> out;
  for (size_t i = 0;;) {
    size_t j = s.find(sep, i);
    out.push_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) return out;
    i = j + sep.size();
  }
}

std::string joined(std::span<const std::string_view> parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_relative(std::string_view spec) {
  return spec == "." || spec == ".." || spec.starts_with("./") || spec.starts_with("../");
}

// The largest configuration file read: far past real ones (LLVM's compile_commands.json is about
// 30 MB), short of what a cloned repository could make us allocate (a sparse 6 GB tsconfig.json).
constexpr uint64_t kMaxConfigBytes = 256 << 20;
// Manifests (Cargo.toml, package.json, pnpm-workspace.yaml, go.work) are small; one of a workspace
// is read per member, so a lower bound keeps a hostile tree from making each one cost much.
constexpr uint64_t kMaxManifestBytes = 4 << 20;

// A configuration file of the tree, read under confine.h's rule as every file is: a
// tsconfig.json that links to /etc/passwd is not read. `why` says why not.
std::optional<std::string> read_text(const fs::path& root, const std::string& rel, std::string& why, uint64_t max = kMaxConfigBytes) {
  confine::Opened dir = confine::open_root(root.string());
  std::string text;
  int64_t mtime = 0;
  std::optional<SkipReason> skipped = dir ? detail::read_file(dir.fd.get(), rel, max, text, mtime) : SkipReason::Unreadable;
  if (!skipped) return text;
  why = *skipped == SkipReason::TooLarge ? "over " + std::to_string(max >> 20) + " MiB, not read" : "cannot read the file";
  return std::nullopt;
}

// Whether `rel` is a regular file (or a directory) of the tree, under the same rule.
bool is_beneath(const fs::path& root, const std::string& rel, bool directory) {
  confine::Opened dir = confine::open_root(root.string());
  struct stat st;
  if (!dir || confine::stat_beneath(dir.fd.get(), rel, st) != confine::Refusal::None) return false;
  return directory ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

// ---- Configuration ------------------------------------------------------------------------------

struct GoModule {
  std::string dir;
  std::string path;                   // the `module` line
  std::vector<std::string> required;  // required module paths
};

// A repository's configuration is not trusted to be small. Include directories and psr-4
// directories are found from the files an import could name (first_in()), not tried one by one;
// what is still tried in turn per import (tsconfig paths patterns and their substitutions, psr-4
// prefixes, include directories for a spec that climbs with "..") is capped, far above what a
// real project lists, with a warning naming what was left out.
constexpr size_t kMaxTsPaths = 2000, kMaxPsr4 = 10000, kMaxIncludeDirs = 10000;

// Directories in a list, each with its place (the first occurrence's), for first_in().
using DirRank = std::unordered_map<std::string, size_t>;

struct TsConfig {
  std::string base;  // baseUrl's directory, or the config's own directory when it has none
  bool has_base_url = false;
  std::vector<std::pair<std::string, std::vector<std::string>>> paths;  // longest prefix first
  std::string warning;  // what was left out
};

struct Composer {
  std::vector<std::pair<std::string, DirRank>> psr4;  // "App\\" -> dirs; longest first
  std::string warning;
};

std::string over_cap(size_t n, size_t cap, std::string_view what) {
  return std::to_string(n) + " " + std::string(what) + "; only the first " + std::to_string(cap) + " are used";
}

// go.mod: the module line and the required modules, in both the one-line and the block form.
GoModule read_go_mod(std::string_view text, std::string dir) {
  GoModule m{std::move(dir), {}, {}};
  bool in_require = false;
  for (auto raw : split(text, "\n")) {
    std::string_view line = trim(raw.substr(0, raw.find("//")));
    auto unquote = [](std::string_view s) {
      s = trim(s);
      if (s.size() >= 2 && (s.front() == '"' || s.front() == '`')) s = s.substr(1, s.size() - 2);
      return std::string(s.substr(0, s.find_first_of(" \t")));
    };
    if (in_require) {
      if (line.starts_with(")")) in_require = false;
      else if (!line.empty()) m.required.push_back(unquote(line));
    } else if (line.starts_with("module ")) {
      m.path = unquote(line.substr(7));
    } else if (line.starts_with("require")) {
      std::string_view rest = trim(line.substr(7));
      if (rest.starts_with("(")) in_require = true;
      else if (!rest.empty()) m.required.push_back(unquote(rest));
    }
  }
  return m;
}

TsConfig read_tsconfig(const detail::JsonValue& j, const std::string& dir) {
  TsConfig c{dir, false, {}, {}};
  const detail::JsonValue* opts = j.get("compilerOptions");
  if (!opts) return c;
  if (const auto* base = opts->get("baseUrl"); base && base->is_string()) {
    if (auto b = normalize(join(dir, base->text))) c.base = *b, c.has_base_url = true;
  }
  if (const auto* paths = opts->get("paths")) {
    size_t listed = 0;  // patterns and their substitutions, against kMaxTsPaths
    for (size_t i = 0; i < paths->keys.size(); ++i) {
      bool keep = ++listed <= kMaxTsPaths;
      std::vector<std::string> subs;
      for (const auto& s : paths->items[i].items)
        if (s.is_string() && ++listed <= kMaxTsPaths) subs.push_back(s.text);
      if (keep) c.paths.emplace_back(paths->keys[i], std::move(subs));
    }
    if (listed > kMaxTsPaths) c.warning = over_cap(listed, kMaxTsPaths, "compilerOptions.paths patterns and substitutions");
  }
  std::stable_sort(c.paths.begin(), c.paths.end(), [](const auto& a, const auto& b) {
    return a.first.substr(0, a.first.find('*')).size() > b.first.substr(0, b.first.find('*')).size();
  });
  return c;
}

Composer read_composer(const detail::JsonValue& j, const std::string& dir) {
  Composer c;
  // A prefix listed again (in autoload-dev, or as a duplicate key) adds its directories after the
  // ones before: one entry per prefix, so an import tries each prefix once.
  std::unordered_map<std::string, size_t> entry;
  size_t listed = 0;
  for (const char* section : {"autoload", "autoload-dev"}) {
    const auto* s = j.get(section);
    const auto* psr4 = s ? s->get("psr-4") : nullptr;
    if (!psr4) continue;
    for (size_t i = 0; i < psr4->keys.size(); ++i) {
      auto at = entry.find(psr4->keys[i]);
      if (at == entry.end()) {
        if (++listed > kMaxPsr4) continue;
        at = entry.emplace(psr4->keys[i], c.psr4.size()).first;
        c.psr4.emplace_back(psr4->keys[i], DirRank{});
      }
      DirRank& dirs = c.psr4[at->second].second;
      const auto& v = psr4->items[i];
      auto add = [&](const std::string& d) {
        if (auto n = normalize(join(dir, d))) dirs.emplace(*n, dirs.size());
      };
      if (v.is_string()) add(v.text);
      for (const auto& item : v.items)
        if (item.is_string()) add(item.text);
    }
  }
  if (listed > kMaxPsr4) c.warning = over_cap(listed, kMaxPsr4, "autoload psr-4 prefixes");
  std::stable_sort(c.psr4.begin(), c.psr4.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  return c;
}

// A shell command line split into words, with '...' and "..." quoting and backslash escapes.
std::vector<std::string> shell_words(std::string_view s) {
  std::vector<std::string> out;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < s.size()) word += s[++i];
      else word += c;
    } else if (c == '\'' || c == '"') {
      quote = c, in_word = true;
    } else if (c == '\\' && i + 1 < s.size()) {
      word += s[++i], in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) out.push_back(std::move(word)), word.clear(), in_word = false;
    } else {
      word += c, in_word = true;
    }
  }
  if (in_word) out.push_back(std::move(word));
  return out;
}

// Include directories of every compile_commands.json entry, as tree-relative paths, in first-seen
// order; directories outside the tree are left out.
std::vector<std::string> read_include_dirs(const detail::JsonValue& j, const fs::path& abs_root, const fs::path& db_dir) {
  std::vector<std::string> dirs;
  std::unordered_set<std::string> seen;  // a build of 100k entries repeats its -I on each
  for (const auto& entry : j.items) {
    std::vector<std::string> args;
    if (const auto* a = entry.get("arguments"))
      for (const auto& w : a->items) args.push_back(w.text);
    else if (const auto* c = entry.get("command"); c && c->is_string())
      args = shell_words(c->text);
    fs::path cwd = db_dir;
    if (const auto* d = entry.get("directory"); d && d->is_string()) cwd = (db_dir / d->text).lexically_normal();
    for (size_t i = 0; i < args.size(); ++i) {
      std::string dir;
      for (std::string_view flag : {"-I", "-iquote", "-isystem"}) {
        if (args[i] == flag && i + 1 < args.size()) dir = args[++i];
        else if (args[i].starts_with(flag) && args[i].size() > flag.size() && flag == "-I") dir = args[i].substr(2);
        if (!dir.empty()) break;
      }
      if (dir.empty()) continue;
      std::string rel = (cwd / dir).lexically_normal().lexically_relative(abs_root).generic_string();
      if (rel.empty() || rel.starts_with("..")) continue;
      if (rel == ".") rel.clear();
      if (rel.ends_with('/')) rel.pop_back();
      if (seen.insert(rel).second) dirs.push_back(std::move(rel));
    }
  }
  return dirs;
}

// ---- Per-language helpers -----------------------------------------------------------------------

// Collects one import's targets.
struct Out {
  std::vector<ImportTarget>& targets;
  std::string_view self;
  uint32_t line;
  bool allow_self = true;

  void file(std::string_view path) {
    if (!allow_self && path == self) return;
    targets.push_back({std::string(path), false, line});
  }
  void external(std::string name) { targets.push_back({std::move(name), true, line}); }
};

// "node:fs/promises" -> "fs", "@scope/pkg/sub" -> "@scope/pkg", "lodash/get" -> "lodash".
std::string npm_package(std::string_view spec) {
  if (spec.starts_with("node:")) spec.remove_prefix(5);
  size_t slash = spec.find('/');
  if (spec.starts_with("@") && slash != std::string_view::npos) slash = spec.find('/', slash + 1);
  return std::string(spec.substr(0, slash));
}

// Java's package: the leading segments that start in lower case ("java.util" of java.util.List).
std::string java_package(std::string_view spec) {
  auto parts = split(spec, ".");
  size_t n = 0;
  while (n < parts.size() && !parts[n].empty() && !std::isupper(static_cast<unsigned char>(parts[n][0]))) ++n;
  if (n == 0) n = 1;
  return joined(std::span(parts).first(n), ".");
}

// Rust's `use` trees: "a::{b, c::{d, self}}" -> a::b, a::c::d, a::c; "x as y" -> x.
void expand_use(std::string_view spec, std::vector<std::string>& out) {
  size_t brace = spec.find('{');
  if (brace == std::string_view::npos) {
    std::string_view path = trim(spec.substr(0, spec.find(" as ")));
    if (path.ends_with("::self")) path.remove_suffix(6);
    out.emplace_back(path);
    return;
  }
  std::string_view prefix = spec.substr(0, brace);
  int depth = 0;
  size_t start = brace + 1;
  for (size_t i = brace + 1; i < spec.size(); ++i) {
    char c = spec[i];
    if (c == '{') ++depth;
    else if ((c == ',' && depth == 0) || (c == '}' && depth == 0)) {
      std::string_view item = trim(spec.substr(start, i - start));
      if (!item.empty()) {
        if (item == "self") {
          std::string_view p = prefix;
          if (p.ends_with("::")) p.remove_suffix(2);
          out.emplace_back(p);
        } else {
          expand_use(std::string(prefix) + std::string(item), out);
        }
      }
      start = i + 1;
      if (c == '}') return;
    } else if (c == '}') --depth;
  }
}

}  // namespace

// ---- The resolver -------------------------------------------------------------------------------

struct ImportResolver::State {
  fs::path root, abs_root;
  std::string root_name;  // the root directory's own name ("boost" for /usr/include/boost)
  Options options;
  const query::Index* index;
  std::vector<std::string> warnings;

  // Every file the resolver has seen, by its own id; a removed file's path is "".
  std::vector<std::string> paths;
  std::vector<Language> languages;
  std::unordered_map<std::string, uint32_t> id_of;
  std::vector<std::vector<std::string>> cs_declared;  // per id: the C# namespaces it adds to
  std::vector<uint64_t> declared_hash;                // per id, C# and PHP: of its (container, name)s
  std::vector<uint32_t> go_users;  // per go_modules entry: Go files it governs; 0 = not in effect
  std::vector<std::string> configs;  // configuration files found (tree-relative)
  bool include_loaded = false;
  bool go_changed = false;  // set by add_file/remove_file when a module comes into or out of effect
  bool ws_changed = false;  // set by add_file when a workspace or a named Cargo package is found

  std::unordered_map<std::string, Files> dir_files;   // files directly in a directory
  std::unordered_map<std::string, std::vector<std::string>> dirs_by_name;  // directories by last part
  std::unordered_map<std::string, Files> name_files;  // files by base name
  std::unordered_map<std::string, Files> cs_namespaces;

  std::vector<GoModule> go_modules;
  std::vector<TsConfig> ts_configs;
  std::vector<Composer> composers;
  // Cargo packages: each Rust file's nearest Cargo.toml, and the members of the workspaces above
  // them. `lib` is the library's root file ([lib] path, else src/lib.rs); `name` what `use` calls
  // it ([lib] name, else [package] name with '-' read as '_'; empty when the file has none).
  struct CargoPackage {
    std::string dir, name, lib;
    int workspace = -1;  // an index into cargo_workspaces
  };
  std::vector<CargoPackage> cargo_packages;
  std::unordered_map<std::string, int> cargo_at;  // a directory's Cargo.toml, once read: an index into cargo_packages
  std::unordered_map<std::string, std::vector<int>> crates_named;
  std::vector<std::string> cargo_workspaces;  // their directories
  // npm, yarn and pnpm workspaces: each member package by its name.
  struct NpmPackage {
    std::string dir;
    detail::NpmManifest manifest;
  };
  std::vector<NpmPackage> npm_packages;
  std::unordered_map<std::string, std::vector<int>> npm_named;       // workspace members
  std::unordered_map<std::string, std::vector<int>> tree_npm_named;  // any package.json above JS/TS files
  std::vector<std::vector<std::string>> go_works;  // each go.work's module directories (`use`)
  // Nearest configuration per directory of indexed files: an index into the vectors above, or -1.
  std::unordered_map<std::string, int> go_of, ts_of, composer_of, cargo_of, go_work_of;
  // Workspace roots looked for per directory (every ancestor of a directory of Rust, JS or TS files).
  std::unordered_set<std::string> cargo_ws_seen, npm_ws_seen;
  std::vector<std::string> include_dirs;
  DirRank include_rank;

  State(const fs::path& r, const query::Index& ix) : root(r), index(&ix) {
    std::error_code ec;
    abs_root = fs::absolute(r, ec).lexically_normal();
    root_name = (abs_root.has_filename() ? abs_root : abs_root.parent_path()).filename().string();
  }

  bool exists(std::string_view path) const {
    probe('d', dir_of(path));
    return index->find_file(path).has_value();
  }
  std::string_view path_of(uint32_t f) const { return paths[f]; }

  const Files& files_in(const std::string& dir) const {
    static const Files none;
    probe('d', dir);
    auto it = dir_files.find(dir);
    return it == dir_files.end() ? none : it->second;
  }

  // Files whose path is `suffix` or ends in "/suffix".
  Files by_suffix(const std::string& suffix) const {
    Files out;
    probe('n', base_of(suffix));
    auto it = name_files.find(std::string(base_of(suffix)));
    if (it == name_files.end()) return out;
    for (uint32_t f : it->second) {
      std::string_view p = path_of(f);
      if (p == suffix || (p.size() > suffix.size() && p.ends_with(suffix) && p[p.size() - suffix.size() - 1] == '/')) out.push_back(f);
    }
    return out;
  }

  // The nearest `names` file at or above `dir`, loaded once by `load` into an index (-1: none).
  template <class Load>
  void find_nearest(const std::string& dir, std::unordered_map<std::string, int>& memo, std::initializer_list<const char*> names, Load load) {
    std::vector<std::string> pending;
    std::string d = dir;
    int found = -1;
    while (true) {
      if (auto it = memo.find(d); it != memo.end()) {
        found = it->second;
        break;
      }
      pending.push_back(d);
      bool hit = false;
      for (const char* name : names) {
        std::string rel = join(d, name);
        if (is_beneath(root, rel, false)) {
          configs.push_back(rel);
          found = load(rel, d);
          hit = true;
          break;
        }
      }
      if (hit || d.empty()) break;
      d = std::string(dir_of(d));
    }
    for (const auto& p : pending) memo[p] = found;
  }

  std::optional<detail::JsonValue> read_json(const std::string& rel, uint64_t max = kMaxConfigBytes) {
    std::string why;
    auto text = read_text(root, rel, why, max);
    if (!text) {
      warnings.push_back(rel + ": " + why);
      return std::nullopt;
    }
    auto parsed = detail::parse_json(*text);
    if (!parsed.value) warnings.push_back(rel + ": " + parsed.error);
    return std::move(parsed.value);
  }

  // Loads a JSON configuration file with `read` into `into`, for find_nearest.
  template <class Config, class Read>
  auto json_loader(std::vector<Config>& into, Read read) {
    return [this, &into, read](const std::string& rel, const std::string& dir) {
      auto j = read_json(rel);
      if (!j) return -1;
      into.push_back(read(*j, dir));
      if (!into.back().warning.empty()) warnings.push_back(rel + ": " + into.back().warning);
      return int(into.size() - 1);
    };
  }

  void load_configuration() {
    for (uint32_t f = 0; f < index->file_count(); ++f) add_file(f);
  }

  // Adds file `f` of the index to the tables, loading the configuration that governs it.
  void add_file(uint32_t f) {
    auto info = index->file(f);
    uint32_t id = uint32_t(paths.size());
    paths.emplace_back(info.path);
    languages.push_back(info.language);
    id_of[paths.back()] = id;
    cs_declared.emplace_back();
    declared_hash.push_back(0);
    std::string dir(dir_of(info.path));
    auto& in_dir = dir_files[dir];
    if (in_dir.empty()) dirs_by_name[std::string(base_of(dir))].push_back(dir);
    in_dir.push_back(id);
    name_files[std::string(base_of(info.path))].push_back(id);
    switch (info.language) {
      case Language::Go:
        find_nearest(dir, go_of, {"go.mod"}, [&](const std::string& rel, const std::string& d) {
          std::string why;
          auto text = read_text(root, rel, why);
          if (!text) {
            warnings.push_back(rel + ": " + why);
            return -1;
          }
          go_modules.push_back(read_go_mod(*text, d));
          go_users.push_back(0);
          return int(go_modules.size() - 1);
        });
        if (int m = go_of[dir]; m >= 0 && go_users[size_t(m)]++ == 0) go_changed = true;
        find_nearest(dir, go_work_of, {"go.work"}, [&](const std::string& rel, const std::string& d) {
          std::string why;
          auto text = read_text(root, rel, why, kMaxManifestBytes);
          if (!text) {
            warnings.push_back(rel + ": " + why);
            return -1;
          }
          std::vector<std::string> dirs;
          for (const auto& use : detail::read_go_work(*text))
            if (auto n = normalize(join(d, use))) dirs.push_back(*n);
          go_works.push_back(std::move(dirs));
          go_changed = true;
          return int(go_works.size() - 1);
        });
        break;
      case Language::JavaScript: case Language::TypeScript: case Language::Tsx:
        find_nearest(dir, ts_of, {"tsconfig.json", "jsconfig.json"}, json_loader(ts_configs, read_tsconfig));
        find_npm_workspaces(dir);
        break;
      case Language::Php:
        find_nearest(dir, composer_of, {"composer.json"}, json_loader(composers, read_composer));
        declared_hash[id] = declarations_hash(f);
        break;
      case Language::Rust:
        find_nearest(dir, cargo_of, {"Cargo.toml"}, [&](const std::string&, const std::string& d) {
          int c = load_cargo(d);
          find_cargo_workspace(d);
          return c;
        });
        break;
      case Language::C: case Language::Cpp:
        if (!include_loaded) load_include_dirs(), include_loaded = true;
        break;
      case Language::CSharp:
        add_csharp_namespaces(id, f);
        declared_hash[id] = declarations_hash(f);
        break;
      default: break;
    }
  }

  // Takes file `path` out of the tables (its configuration stays loaded: it is the disk's).
  void remove_file(const std::string& path) {
    auto at = id_of.find(path);
    if (at == id_of.end()) return;
    uint32_t id = at->second;
    id_of.erase(at);
    std::string dir(dir_of(path));
    auto drop = [&](std::unordered_map<std::string, Files>& table, const std::string& key) {
      auto it = table.find(key);
      if (it == table.end()) return false;
      std::erase(it->second, id);
      if (!it->second.empty()) return false;
      table.erase(it);
      return true;
    };
    if (drop(dir_files, dir)) {
      auto named = dirs_by_name.find(std::string(base_of(dir)));
      std::erase(named->second, dir);
      if (named->second.empty()) dirs_by_name.erase(named);
    }
    drop(name_files, std::string(base_of(path)));
    if (languages[id] == Language::Go)
      if (int m = go_of[dir]; m >= 0 && --go_users[size_t(m)] == 0) go_changed = true;
    for (const auto& ns : cs_declared[id]) drop(cs_namespaces, ns);
    cs_declared[id].clear();
    paths[id].clear();
  }

  // Of the (container, name) of every symbol of file `f`: what C# and PHP imports resolve through.
  uint64_t declarations_hash(uint32_t f) const {
    std::vector<std::string> decls;
    auto range = index->file_symbols(f);
    for (uint32_t id = range.begin; id < range.end; ++id) {
      auto sym = index->symbol(id);
      decls.push_back(std::string(sym.container) + '\x1f' + std::string(sym.name) + '\x1f' + std::to_string(int(sym.kind)));
    }
    std::sort(decls.begin(), decls.end());
    uint64_t h = fnv("");
    for (const auto& d : decls) h = fnv(d, fnv("\n", h));
    return h;
  }

  // ---- Workspaces (indexer/workspaces.h) ----

  std::optional<std::string> read_manifest(const std::string& rel) {
    std::string why;
    auto text = read_text(root, rel, why, kMaxManifestBytes);
    if (!text) warnings.push_back(rel + ": " + why);
    return text;
  }

  // The package of directory `d`'s Cargo.toml (read once): an index into cargo_packages.
  int load_cargo(const std::string& d) {
    if (auto it = cargo_at.find(d); it != cargo_at.end()) return it->second;
    std::string rel = join(d, "Cargo.toml");
    CargoPackage p{d, "", join(d, "src/lib.rs"), -1};
    if (auto text = read_manifest(rel)) {
      detail::CargoManifest m = detail::read_cargo_toml(*text);
      if (!m.error.empty()) warnings.push_back(rel + ": " + m.error + "; read as a package of no name");
      if (!m.lib_path.empty())
        if (auto lib = normalize(join(d, m.lib_path))) p.lib = *lib;
      p.name = !m.lib_name.empty() ? m.lib_name : m.has_package ? m.package_name : "";
      std::replace(p.name.begin(), p.name.end(), '-', '_');
    }
    int at = int(cargo_packages.size());
    cargo_packages.push_back(std::move(p));
    cargo_at[d] = at;
    if (!cargo_packages.back().name.empty()) {
      crates_named[cargo_packages.back().name].push_back(at);
      ws_changed = true;
    }
    return at;
  }

  // The workspace of the package at `d`: the nearest Cargo.toml with [workspace] at or above it,
  // as Cargo looks for it; its members are loaded as packages.
  void find_cargo_workspace(const std::string& d) {
    for (std::string at = d;; at = std::string(dir_of(at))) {
      if (!cargo_ws_seen.insert(at).second) return;  // looked at from another package already
      std::string rel = join(at, "Cargo.toml");
      if (is_beneath(root, rel, false)) {
        auto text = read_manifest(rel);
        detail::CargoManifest m = text ? detail::read_cargo_toml(*text) : detail::CargoManifest{};
        if (!m.error.empty() && !cargo_at.count(at)) warnings.push_back(rel + ": " + m.error);  // else load_cargo said it
        if (m.has_workspace && m.error.empty()) {
          configs.push_back(rel);
          int ws = int(cargo_workspaces.size());
          cargo_workspaces.push_back(at);
          std::string warning;
          std::vector<std::string> members = detail::expand_members(root.string(), at, m.members, m.exclude, warning);
          if (!warning.empty()) warnings.push_back(rel + ": " + warning);
          if (m.has_package) members.push_back(at);
          for (const auto& member : members) {
            if (!is_beneath(root, join(member, "Cargo.toml"), false)) continue;
            configs.push_back(join(member, "Cargo.toml"));
            cargo_packages[size_t(load_cargo(member))].workspace = ws;
          }
          ws_changed = true;
          return;
        }
      }
      if (at.empty()) return;
    }
  }

  // npm, yarn and pnpm workspace roots at or above `dir`: a pnpm-workspace.yaml, or a package.json
  // with `workspaces`; their members are loaded by name.
  void find_npm_workspaces(const std::string& dir) {
    for (std::string at = dir;; at = std::string(dir_of(at))) {
      if (!npm_ws_seen.insert(at).second) return;
      std::vector<std::string> globs;
      bool found = false;
      std::string config = join(at, "pnpm-workspace.yaml");
      if (is_beneath(root, config, false)) {
        if (auto text = read_manifest(config)) {
          std::string error;
          globs = detail::read_pnpm_workspace(*text, error);
          if (!error.empty()) warnings.push_back(config + ": " + error);
          else found = true;
        }
      }
      if (std::string pkg = join(at, "package.json"); is_beneath(root, pkg, false)) {
        if (auto j = read_json(pkg, kMaxManifestBytes)) {
          detail::NpmManifest m = detail::read_package_json(*j);
          if (!found && m.has_workspaces) found = true, config = pkg, globs = m.workspaces;
          // A package of the tree, workspace or not; not one installed in node_modules/, which stays
          // the external package it is even when the tree holds it.
          if (!m.name.empty() && at != "node_modules" && !at.starts_with("node_modules/") && at.find("/node_modules/") == std::string::npos &&
              !at.ends_with("/node_modules")) {
            configs.push_back(pkg);
            tree_npm_named[m.name].push_back(int(npm_packages.size()));
            npm_packages.push_back({at, std::move(m)});
            ws_changed = true;
          }
        }
      }
      if (found) {
        configs.push_back(config);
        std::string warning;
        std::vector<std::string> members = detail::expand_members(root.string(), at, globs, {}, warning);
        if (!warning.empty()) warnings.push_back(config + ": " + warning);
        for (const auto& member : members) {
          std::string rel = join(member, "package.json");
          if (!is_beneath(root, rel, false)) continue;
          configs.push_back(rel);
          auto j = read_json(rel, kMaxManifestBytes);
          if (!j) continue;
          detail::NpmManifest m = detail::read_package_json(*j);
          if (m.name.empty()) continue;
          npm_named[m.name].push_back(int(npm_packages.size()));
          npm_packages.push_back({member, std::move(m)});
        }
        ws_changed = true;
      }
      if (at.empty()) return;
    }
  }

  void load_include_dirs() {
    for (const char* rel : {"compile_commands.json", "build/compile_commands.json"}) {
      if (!is_beneath(root, rel, false)) continue;
      configs.push_back(rel);
      if (auto j = read_json(rel)) {
        include_dirs = read_include_dirs(*j, abs_root, (abs_root / rel).parent_path());
        if (include_dirs.size() > kMaxIncludeDirs)
          warnings.push_back(std::string(rel) + ": " + std::to_string(include_dirs.size()) +
                             " include directories; an include that climbs with \"..\" is looked up in the first " +
                             std::to_string(kMaxIncludeDirs));
        for (size_t i = 0; i < include_dirs.size(); ++i) include_rank.emplace(include_dirs[i], i);
        return;
      }
    }
    // include/ whether or not it is there: without files in it, nothing resolves there either.
    include_dirs = {"", "include"};
    for (size_t i = 0; i < include_dirs.size(); ++i) include_rank.emplace(include_dirs[i], i);
  }

  // Namespaces declared in C# file `f` (resolver id `id`): namespace symbols, and the containers of
  // types (which also covers file-scoped `namespace A.B;`, not a symbol of its own).
  void add_csharp_namespaces(uint32_t id, uint32_t f) {
    using query::Kind;
    auto range = index->file_symbols(f);
    for (uint32_t sid = range.begin; sid < range.end; ++sid) {
      auto s = index->symbol(sid);
      std::string ns;
      if (s.kind == Kind::Namespace) ns = s.container.empty() ? std::string(s.name) : std::string(s.container) + "." + std::string(s.name);
      else if (s.kind == Kind::Class || s.kind == Kind::Struct || s.kind == Kind::Interface || s.kind == Kind::Enum)
        ns = std::string(s.container);
      if (ns.empty()) continue;
      auto& files = cs_namespaces[ns];
      if (files.empty() || files.back() != id) files.push_back(id), cs_declared[id].push_back(ns);
    }
  }

  // Files declaring `name` in container `container` in `lang`, by path.
  std::vector<std::string_view> declaring(Language lang, std::string_view container, std::string_view name) const {
    probe(lang == Language::CSharp ? 'c' : 'p', "");
    std::vector<std::string_view> out;
    for (uint32_t id : index->find_exact(name)) {
      auto s = index->symbol(id);
      if (s.language != lang || s.container != container) continue;
      if (out.empty() || out.back() != s.path) out.push_back(s.path);
    }
    return out;
  }

  void emit(Out& out, std::span<const std::string_view> files) const {
    for (auto p : files) out.file(p);
  }
  void emit_ids(Out& out, const Files& files) const {
    for (uint32_t f : files) out.file(path_of(f));
  }

  void emit(Out& out, const Files& files) const {
    for (uint32_t f : files) out.file(path_of(f));
  }

  // ---- JavaScript / TypeScript ----

  std::optional<std::string> js_file(const std::string& p, bool js_first) const {
    static constexpr std::string_view kTs[] = {".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs"};
    static constexpr std::string_view kJs[] = {".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".d.ts"};
    static constexpr std::pair<std::string_view, std::string_view> kWrittenAsJs[] = {
        {".js", ".ts"}, {".js", ".tsx"}, {".jsx", ".tsx"}, {".mjs", ".mts"}, {".cjs", ".cts"}};
    if (exists(p)) return p;
    for (auto [written, real] : kWrittenAsJs)
      if (p.ends_with(written)) {
        std::string alt = p.substr(0, p.size() - written.size()) + std::string(real);
        if (exists(alt)) return alt;
      }
    for (const std::string& stem : {p, join(p, "index")})
      for (auto ext : js_first ? std::span(kJs) : std::span(kTs))
        if (exists(stem + std::string(ext))) return stem + std::string(ext);
    return std::nullopt;
  }

  void resolve_js(Out& out, std::string_view dir, std::string_view spec, bool js_first) const {
    if (is_relative(spec)) {
      auto p = normalize(join(dir, spec));
      if (!p) return out.external(std::string(spec));
      if (auto f = js_file(*p, js_first)) return out.file(*f);
      return out.external(*p);
    }
    if (spec.starts_with("/")) return out.external(std::string(spec));
    if (auto it = ts_of.find(std::string(dir)); it != ts_of.end() && it->second >= 0) {
      const TsConfig& c = ts_configs[size_t(it->second)];
      for (const auto& [pattern, subs] : c.paths) {
        size_t star = pattern.find('*');
        std::string star_text;
        if (star == std::string::npos) {
          if (spec != pattern) continue;
        } else {
          std::string_view pre = std::string_view(pattern).substr(0, star), post = std::string_view(pattern).substr(star + 1);
          if (spec.size() < pre.size() + post.size() || !spec.starts_with(pre) || !spec.ends_with(post)) continue;
          star_text = std::string(spec.substr(pre.size(), spec.size() - pre.size() - post.size()));
        }
        for (std::string sub : subs) {
          if (size_t s = sub.find('*'); s != std::string::npos) sub.replace(s, 1, star_text);
          if (auto p = normalize(join(c.base, sub)))
            if (auto f = js_file(*p, js_first)) return out.file(*f);
        }
        break;  // the best-matching pattern decides, as in TypeScript
      }
      if (c.has_base_url)
        if (auto p = normalize(join(c.base, spec)))
          if (auto f = js_file(*p, js_first)) return out.file(*f);
    }
    if (auto f = workspace_package_file(spec, js_first)) return out.file(*f);
    out.external(npm_package(spec));
  }

  // A bare import of a workspace package ("@scope/pkg", "@scope/pkg/sub"): its entry file, or the
  // subpath's.
  std::optional<std::string> workspace_package_file(std::string_view spec, bool js_first) const {
    if (spec.starts_with("node:") || !options.workspaces) return std::nullopt;
    probe('w', "");
    std::string name = npm_package(spec);
    std::vector<int> candidates;
    for (const auto* table : {&npm_named, &tree_npm_named})
      if (auto it = table->find(name); it != table->end()) candidates.insert(candidates.end(), it->second.begin(), it->second.end());
    std::string_view sub = spec.substr(name.size());  // "" or "/utils"
    for (int i : candidates) {
      const NpmPackage& p = npm_packages[size_t(i)];
      if (p.manifest.exports)
        for (const auto& t : detail::export_targets(*p.manifest.exports, sub.empty() ? "." : "." + std::string(sub)))
          if (auto f = package_file(p.dir, t, js_first)) return f;
      if (sub.empty()) {
        for (const auto& e : p.manifest.entries)
          if (auto f = package_file(p.dir, e, js_first)) return f;
        if (auto f = js_file(join(p.dir, "src/index"), js_first)) return f;
        if (auto f = js_file(join(p.dir, "index"), js_first)) return f;
      } else {
        for (std::string_view base : {"", "src/"})
          if (auto f = package_file(p.dir, std::string(base) + std::string(sub.substr(1)), js_first)) return f;
      }
    }
    return std::nullopt;
  }

  // The file a package's `target` ("./lib/node/main.js") names: as written, by js_file()'s rules,
  // without its declaration or JS extension, then with the build directory it names (dist, lib,
  // out, build, and esm or cjs below it) read as src/: a workspace holds the sources, not the build.
  std::optional<std::string> package_file(const std::string& dir, std::string_view target, bool js_first) const {
    auto p = normalize(join(dir, target));
    if (!p || (!dir.empty() && *p != dir && !p->starts_with(dir + "/"))) return std::nullopt;  // out of the package
    auto file_like = [&](const std::string& q) -> std::optional<std::string> {
      if (auto f = js_file(q, js_first)) return f;
      for (std::string_view ext : {".d.ts", ".d.mts", ".d.cts", ".js", ".mjs", ".cjs", ".jsx"})
        if (q.ends_with(ext)) return js_file(q.substr(0, q.size() - ext.size()), js_first);
      return std::nullopt;
    };
    if (auto f = file_like(*p)) return f;
    std::string_view rel = std::string_view(*p).substr(dir.empty() ? 0 : std::min(p->size(), dir.size() + 1));
    auto segs = split(rel, "/");
    static constexpr std::string_view kBuild[] = {"dist", "lib", "out", "build", "esm", "cjs"};
    auto is_build = [&](std::string_view seg) { return std::find(std::begin(kBuild), std::end(kBuild), seg) != std::end(kBuild); };
    if (segs.size() < 2 || !is_build(segs[0])) return std::nullopt;
    for (size_t drop : {size_t(1), size_t(2)}) {
      if (drop == 2 && (segs.size() < 3 || !is_build(segs[1]))) break;
      if (auto f = file_like(join(join(dir, "src"), joined(std::span(segs).subspan(drop), "/")))) return f;
    }
    return std::nullopt;
  }

  // ---- Python ----

  std::optional<std::string> py_module(const std::string& p) const {
    for (const char* suffix : {".py", "/__init__.py", ".pyi", "/__init__.pyi"})
      if (exists(p + suffix)) return p + suffix;
    return std::nullopt;
  }

  void resolve_python(Out& out, std::string_view dir, std::string_view spec, std::string_view kind) const {
    out.allow_self = false;
    bool member = kind == "from_name";
    size_t dots = spec.find_first_not_of('.');
    if (dots == std::string_view::npos) dots = spec.size();
    std::string module_path;
    for (auto part : split(spec.substr(dots), ".")) module_path = join(module_path, part);
    if (dots > 0) {
      std::string base(dir);
      for (size_t i = 1; i < dots; ++i) {
        if (base.empty()) return out.external(std::string(spec));  // above the root
        base = std::string(dir_of(base));
      }
      if (module_path.empty()) {
        if (exists(join(base, "__init__.py"))) out.file(join(base, "__init__.py"));
        return;  // a namespace package has no file
      }
      if (auto f = py_module(join(base, module_path))) return out.file(*f);
      if (!member) out.external(join(base, module_path));
      return;
    }
    std::vector<std::string> roots{"", "src"};
    if (!dir.empty() && dir != "src" && !exists(join(dir, "__init__.py"))) roots.emplace_back(dir);
    for (const auto& r : roots)
      if (auto f = py_module(join(r, module_path))) return out.file(*f);
    if (!member) out.external(std::string(spec.substr(0, spec.find('.'))));
  }

  // ---- Go ----

  void resolve_go(Out& out, std::string_view dir, std::string_view spec) const {
    out.allow_self = false;
    probe('g', "");
    const GoModule* best = nullptr;
    // The modules the importer's go.work uses win over others of the same path.
    const std::vector<std::string>* work = nullptr;
    if (auto it = go_work_of.find(std::string(dir)); options.workspaces && it != go_work_of.end() && it->second >= 0) work = &go_works[size_t(it->second)];
    auto used = [&](const GoModule& m) { return work && std::find(work->begin(), work->end(), m.dir) != work->end(); };
    // Modules in effect: those governing a Go file of the tree. Of two with the same path, the
    // one the go.work uses, else the one whose directory sorts first, whichever was read first.
    for (size_t i = 0; i < go_modules.size(); ++i) {
      const GoModule& m = go_modules[i];
      if (go_users[i] && !m.path.empty() && (spec == m.path || (spec.starts_with(m.path) && spec[m.path.size()] == '/')) &&
          (!best || m.path.size() > best->path.size() ||
           (m.path.size() == best->path.size() && std::pair(!used(m), m.dir) < std::pair(!used(*best), best->dir))))
        best = &m;
    }
    auto package = [&](const std::string& pkg_dir) {
      bool any = false;
      for (uint32_t f : files_in(pkg_dir)) {
        std::string_view p = path_of(f);
        if (p.ends_with(".go") && !p.ends_with("_test.go")) out.file(p), any = true;
      }
      return any;
    };
    if (best && package(join(best->dir, spec.substr(std::min(spec.size(), best->path.size() + 1))))) return;
    // Go's own source: GOROOT/src/go.mod is `module std`, and a path with no dot in its first
    // segment is a standard package there ("fmt" is src/fmt); then the importer's module's
    // vendor/ directory, as the go command reads it (src/vendor/golang.org/x/net, cmd/vendor/...).
    if (options.go_std_vendor) {
      if (spec.substr(0, spec.find('/')).find('.') == std::string_view::npos)
        for (size_t i = 0; i < go_modules.size(); ++i)
          if (go_users[i] && go_modules[i].path == "std" && package(join(go_modules[i].dir, spec))) return;
      if (auto it = go_of.find(std::string(dir)); it != go_of.end() && it->second >= 0)
        if (package(join(join(go_modules[size_t(it->second)].dir, "vendor"), spec))) return;
    }
    std::string_view module;
    for (size_t i = 0; i < go_modules.size(); ++i)
      for (const auto& r : go_modules[i].required)
        if (go_users[i] && ((spec == r || (spec.starts_with(r) && spec[r.size()] == '/')) && r.size() > module.size())) module = r;
    if (!module.empty()) return out.external(std::string(module));
    auto parts = split(spec, "/");
    if (parts[0].find('.') != std::string_view::npos && parts.size() > 3) return out.external(joined(std::span(parts).first(3), "/"));
    out.external(std::string(spec));
  }

  // ---- Rust ----

  struct Crate {
    std::string src;   // the directory module paths start from
    std::string root;  // lib.rs or main.rs; empty when there is none
  };

  Crate crate_of(std::string_view dir) const {
    if (auto it = cargo_of.find(std::string(dir)); it != cargo_of.end() && it->second >= 0) {
      const CargoPackage& p = cargo_packages[size_t(it->second)];
      if (exists(p.lib)) return {std::string(dir_of(p.lib)), p.lib};
      std::string src = join(p.dir, "src");
      for (const char* r : {"lib.rs", "main.rs"})
        if (exists(join(src, r))) return {src, join(src, r)};
    }
    for (std::string d(dir);; d = std::string(dir_of(d))) {
      for (const char* r : {"lib.rs", "main.rs"})
        if (exists(join(d, r))) return {d, join(d, r)};
      if (d.empty()) return {std::string(dir), ""};
    }
  }

  // The library crate `name` (a Cargo package's, '-' read as '_') as seen from a file of package
  // `from` (-1: none): that package itself (its tests, benches and examples use its name), else a
  // member of its workspace, else any package of the tree (a path dependency, which is not read:
  // a fuzz/ crate outside the workspace using its parent); the first whose library is a file.
  std::optional<Crate> crate_named(std::string_view name, int from) const {
    probe('w', "");
    auto it = crates_named.find(std::string(name));
    if (it == crates_named.end() || !options.workspaces) return std::nullopt;
    int ws = from >= 0 ? cargo_packages[size_t(from)].workspace : -1;
    for (int rank : {0, 1, 2})
      for (int p : it->second) {
        const CargoPackage& c = cargo_packages[size_t(p)];
        if ((rank == 0 && p != from) || (rank == 1 && (ws < 0 || c.workspace != ws || p == from)) ||
            (rank == 2 && (p == from || (ws >= 0 && c.workspace == ws))))
          continue;
        if (exists(c.lib)) return Crate{std::string(dir_of(c.lib)), c.lib};
      }
    return std::nullopt;
  }

  // The file of module `parts` below the crate's src; the crate root for none.
  std::optional<std::string> rust_module_file(const Crate& c, std::span<const std::string> parts) const {
    if (parts.empty()) return c.root.empty() ? std::nullopt : std::optional(c.root);
    std::string p = c.src;
    for (const auto& s : parts) p = join(p, s);
    for (const char* suffix : {".rs", "/mod.rs"})
      if (exists(p + suffix)) return p + suffix;
    return std::nullopt;
  }

  // The module path of a file: src/a/b.rs and src/a/b/mod.rs are a::b; the crate root is empty.
  std::vector<std::string> rust_module_of(const Crate& c, std::string_view file) const {
    std::vector<std::string> parts;
    if (file == c.root) return parts;
    std::string_view rel = file;
    if (!c.src.empty()) {
      if (!rel.starts_with(c.src + "/")) return parts;
      rel.remove_prefix(c.src.size() + 1);
    }
    if (rel.ends_with(".rs")) rel.remove_suffix(3);
    for (auto p : split(rel, "/")) parts.emplace_back(p);
    if (!parts.empty() && parts.back() == "mod") parts.pop_back();
    return parts;
  }

  void resolve_rust(Out& out, std::string_view file, std::string_view spec, std::string_view kind) const {
    out.allow_self = false;
    std::string_view dir = dir_of(file), base = base_of(file);
    auto package = cargo_of.find(std::string(dir));
    int from = package == cargo_of.end() ? -1 : package->second;
    if (kind == "extern") {
      if (auto other = crate_named(spec.substr(0, spec.find(' ')), from)) return out.file(other->root);
      return out.external(std::string(spec));
    }
    Crate crate = crate_of(dir);
    if (kind == "mod") {
      bool owns_dir = base == "mod.rs" || base == "lib.rs" || base == "main.rs" || file == crate.root;
      std::string parent = owns_dir ? std::string(dir) : std::string(file.substr(0, file.size() - 3));
      for (const char* suffix : {".rs", "/mod.rs"})
        if (exists(join(parent, spec) + suffix)) return out.file(join(parent, spec) + suffix);
      return out.external(join(parent, spec));
    }
    std::vector<std::string> paths;
    expand_use(spec, paths);
    std::vector<std::string> current = rust_module_of(crate, file);
    for (const auto& path : paths) {
      std::vector<std::string> segs;
      for (auto s : split(path, "::"))
        if (!s.empty()) segs.emplace_back(s);
      if (segs.empty()) continue;
      std::vector<std::string> module;
      size_t i = 0;
      const Crate* in = &crate;
      std::optional<Crate> other;
      if (segs[0] == "crate") {
        i = 1;
      } else if (segs[0] == "self" || segs[0] == "super") {
        module = current;
        if (segs[0] == "self") i = 1;
        bool above = false;
        for (; i < segs.size() && segs[i] == "super"; ++i) {
          if (module.empty()) above = true;
          else module.pop_back();
        }
        if (above) continue;
      } else {
        std::vector<std::string> child = current;
        child.push_back(segs[0]);
        if (rust_module_file(crate, child)) {
          module = current;
        } else if ((other = crate_named(segs[0], from))) {
          in = &*other, i = 1;  // a package of the tree, by its name: a workspace member, or this one's
        } else {
          out.external(segs[0]);
          continue;
        }
      }
      // The deepest prefix of the rest that is a module file; the others are items.
      std::vector<std::string> rest(segs.begin() + std::ptrdiff_t(i), segs.end());
      for (size_t k = rest.size() + 1; k-- > 0;) {
        std::vector<std::string> parts = module;
        parts.insert(parts.end(), rest.begin(), rest.begin() + std::ptrdiff_t(k));
        if (auto f = rust_module_file(*in, parts)) {
          out.file(*f);
          break;
        }
      }
    }
  }

  // ---- C / C++ ----

  void resolve_c(Out& out, std::string_view dir, std::string_view spec, std::string_view kind) const {
    if (kind == "include")
      if (auto p = normalize(join(dir, spec)); p && exists(*p)) return out.file(*p);
    if (auto f = in_include_dirs(spec)) return out.file(*f);
    // The tree may itself be the N/ of an include directory (/usr/include/boost indexed alone, a
    // header-only library's include/N): <N/x.hpp> is then x.hpp of the root.
    if (options.root_as_include_dir && !root_name.empty() && spec.size() > root_name.size() + 1 && spec.starts_with(root_name) && spec[root_name.size()] == '/')
      if (auto rest = normalize(spec.substr(root_name.size() + 1)); rest && !rest->empty() && exists(*rest)) return out.file(*rest);
    out.external(std::string(spec));
  }

  // The file `spec` names in the first include directory that has it.
  std::optional<std::string> in_include_dirs(std::string_view spec) const {
    if (auto rel = normalize(spec); rel && !rel->empty()) return first_in(include_rank, *rel);
    // "../x.h": tried in each directory in turn, as many as kMaxIncludeDirs.
    for (size_t i = 0; i < std::min(include_dirs.size(), kMaxIncludeDirs); ++i)
      if (auto p = normalize(join(include_dirs[i], spec)); p && exists(*p)) return p;
    return std::nullopt;
  }

  // The path dir/rel of an indexed file, for the first `dir` in `dirs`. The directory is found
  // from the files named like `rel`, so the cost does not grow with the list; `rel` is relative
  // and normal (a path of the index never holds "." or ".." either).
  std::optional<std::string> first_in(const DirRank& dirs, std::string_view rel) const {
    probe('n', base_of(rel));
    auto named = name_files.find(std::string(base_of(rel)));
    if (named == name_files.end()) return std::nullopt;
    size_t best = SIZE_MAX;
    std::string_view found;
    for (uint32_t f : named->second) {
      std::string_view p = path_of(f), dir;
      if (p.size() > rel.size() && p.ends_with(rel) && p[p.size() - rel.size() - 1] == '/') dir = p.substr(0, p.size() - rel.size() - 1);
      else if (p != rel) continue;
      if (auto r = dirs.find(std::string(dir)); r != dirs.end() && r->second < best) best = r->second, found = p;
    }
    if (best == SIZE_MAX) return std::nullopt;
    return std::string(found);
  }

  // ---- Java ----

  void resolve_java(Out& out, std::string_view spec, std::string_view kind) const {
    out.allow_self = false;
    auto parts = split(spec, ".");
    if (kind == "wildcard") {
      std::string pkg = joined(parts, "/");
      bool any = false;
      probe('b', parts.back());
      if (auto it = dirs_by_name.find(std::string(parts.back())); it != dirs_by_name.end())
        for (const auto& dir : it->second) {
          if (dir != pkg && !dir.ends_with("/" + pkg)) continue;
          for (uint32_t f : files_in(dir))
            if (path_of(f).ends_with(".java")) out.file(path_of(f)), any = true;
        }
      if (!any) out.external(std::string(spec));
      return;
    }
    size_t n = kind == "static" ? parts.size() - 1 : parts.size();
    for (size_t k = n; k >= 2; --k) {
      Files files = by_suffix(joined(std::span(parts).first(k), "/") + ".java");
      if (!files.empty()) return emit_ids(out, files);
    }
    out.external(java_package(spec));
  }

  // ---- C# ----

  void resolve_csharp(Out& out, std::string_view spec, std::string_view kind) const {
    out.allow_self = false;
    size_t dot = spec.rfind('.');
    if (kind != "using" && dot != std::string_view::npos) {
      auto types = declaring(Language::CSharp, spec.substr(0, dot), spec.substr(dot + 1));
      if (!types.empty()) return emit(out, types);
    }
    probe('c', "");
    if (auto it = cs_namespaces.find(std::string(spec)); it != cs_namespaces.end()) return emit_ids(out, it->second);
    out.external(std::string(kind == "static" && dot != std::string_view::npos ? spec.substr(0, dot) : spec));
  }

  // ---- Ruby, PHP, Bash: paths ----

  void resolve_ruby(Out& out, std::string_view dir, std::string_view spec, std::string_view kind) const {
    auto with_rb = [](std::string p) { return p.ends_with(".rb") ? p : p + ".rb"; };
    if (kind == "require_relative") {
      auto p = normalize(join(dir, spec));
      if (!p) return out.external(std::string(spec));
      if (exists(with_rb(*p))) return out.file(with_rb(*p));
      return out.external(*p);
    }
    for (const char* base : {"lib", ""})
      if (auto p = normalize(join(base, spec)); p && exists(with_rb(*p))) return out.file(with_rb(*p));
    out.external(std::string(spec.substr(0, spec.find('/'))));
  }

  // A path beside the file, then from the root.
  bool resolve_path(Out& out, std::string_view dir, std::string_view spec) const {
    for (std::string_view base : {dir, std::string_view{}})
      if (auto p = normalize(join(base, spec)); p && exists(*p)) {
        out.file(*p);
        return true;
      }
    return false;
  }

  void resolve_php(Out& out, std::string_view file, std::string_view spec, std::string_view kind) const {
    std::string_view dir = dir_of(file);
    if (kind != "use") {
      if (!resolve_path(out, dir, spec)) out.external(normalize(join(dir, spec)).value_or(std::string(spec)));
      return;
    }
    out.allow_self = false;
    if (spec.starts_with("\\")) spec.remove_prefix(1);
    auto parts = split(spec, "\\");
    if (auto it = composer_of.find(std::string(dir)); it != composer_of.end() && it->second >= 0)
      for (const auto& [prefix, dirs] : composers[size_t(it->second)].psr4) {
        if (!spec.starts_with(prefix)) continue;
        std::string rest;
        for (auto p : split(spec.substr(prefix.size()), "\\")) rest = join(rest, p);
        if (rest.empty()) {  // "use App\\;": a file beside the directory, dir.php
          const std::string* first = nullptr;
          for (const auto& [d, rank] : dirs)
            if (exists(d + ".php") && (!first || rank < dirs.at(*first))) first = &d;
          if (first) return out.file(*first + ".php");
        } else if (auto f = first_in(dirs, rest + ".php")) {
          return out.file(*f);
        }
      }
    for (size_t k = parts.size(); k >= 2; --k) {
      Files files = by_suffix(joined(std::span(parts).last(k), "/") + ".php");
      if (!files.empty()) return emit_ids(out, files);
    }
    size_t sep = spec.rfind('\\');
    std::string_view ns = sep == std::string_view::npos ? std::string_view{} : spec.substr(0, sep);
    auto decl = declaring(Language::Php, ns, spec.substr(sep + 1));
    if (!decl.empty()) return emit(out, decl);
    out.external(std::string(ns.empty() ? spec : ns));
  }

  void resolve_bash(Out& out, std::string_view dir, std::string_view spec) const {
    std::string_view path = spec;
    if (path.starts_with("$")) {
      size_t slash = path.find('/');
      // "$DIR/x.sh", "${DIR}/x.sh" and "$(dirname "$0")/x.sh": the script's own directory.
      if (slash == std::string_view::npos) return out.external(std::string(spec));
      path = path.substr(slash + 1);
      if (auto p = normalize(join(dir, path)); p && exists(*p)) return out.file(*p);
      return out.external(std::string(spec));
    }
    if (!resolve_path(out, dir, path)) out.external(std::string(spec));
  }
};

ImportResolver::ImportResolver(const fs::path& root, const query::Index& index, Options options)
    : state_(std::make_unique<State>(root, index)) {
  state_->options = options;
  state_->load_configuration();
}

ImportResolver::~ImportResolver() = default;

const std::vector<std::string>& ImportResolver::warnings() const { return state_->warnings; }

query::FileImports ImportResolver::resolve(uint32_t file, std::vector<std::string>* probes) const {
  const State& s = *state_;
  t_probes = probes;
  struct Reset {
    ~Reset() { t_probes = nullptr; }
  } reset;
  auto info = s.index->file(file);
  query::FileImports result{std::string(info.path), {}};
  std::string_view dir = dir_of(info.path);
  for (const auto& imp : s.index->file_imports(file)) {
    Out out{result.targets, info.path, imp.line};
    std::string_view spec = imp.specifier, kind = imp.kind;
    switch (info.language) {
      case Language::JavaScript: s.resolve_js(out, dir, spec, true); break;
      case Language::TypeScript: case Language::Tsx: s.resolve_js(out, dir, spec, false); break;
      case Language::Python: s.resolve_python(out, dir, spec, kind); break;
      case Language::Go: s.resolve_go(out, dir, spec); break;
      case Language::Rust: s.resolve_rust(out, info.path, spec, kind); break;
      case Language::C: case Language::Cpp: s.resolve_c(out, dir, spec, kind); break;
      case Language::Java: s.resolve_java(out, spec, kind); break;
      case Language::CSharp: s.resolve_csharp(out, spec, kind); break;
      case Language::Ruby: s.resolve_ruby(out, dir, spec, kind); break;
      case Language::Php: s.resolve_php(out, info.path, spec, kind); break;
      case Language::Bash: s.resolve_bash(out, dir, spec); break;
      default: break;
    }
  }
  return result;
}

std::vector<std::string> ImportResolver::update(const query::Index& index, std::span<const std::string> added,
                                               std::span<const std::string> removed, std::span<const std::string> changed) {
  State& s = *state_;
  s.index = &index;
  s.go_changed = false;
  s.ws_changed = false;
  std::vector<std::string> keys;
  auto path_keys = [&](const std::string& p) {
    std::string_view dir = dir_of(p);
    for (auto [kind, key] : {std::pair{'d', dir}, {'n', base_of(p)}, {'b', base_of(dir)}}) {
      std::string k(1, kind);
      k.append(key);
      keys.push_back(std::move(k));
    }
  };
  auto declarations = [&](Language l) {
    if (l == Language::CSharp) keys.emplace_back("c");
    if (l == Language::Php) keys.emplace_back("p");
  };
  for (const auto& p : removed) {
    auto at = s.id_of.find(p);
    if (at == s.id_of.end()) continue;
    declarations(s.languages[at->second]);
    path_keys(p);
    s.remove_file(p);
  }
  for (const auto& p : added) {
    auto f = index.find_file(p);
    if (!f || s.id_of.count(p)) continue;
    s.add_file(*f);
    declarations(index.file(*f).language);
    path_keys(p);
  }
  for (const auto& p : changed) {
    auto at = s.id_of.find(p);
    auto f = index.find_file(p);
    if (at == s.id_of.end() || !f) continue;
    uint32_t id = at->second;
    Language l = s.languages[id];
    if (l != Language::CSharp && l != Language::Php) continue;
    uint64_t h = s.declarations_hash(*f);
    if (h == s.declared_hash[id]) continue;  // an edit inside bodies: no import resolves differently
    s.declared_hash[id] = h;
    if (l == Language::CSharp) {
      for (const auto& ns : s.cs_declared[id]) {
        auto it = s.cs_namespaces.find(ns);
        std::erase(it->second, id);
        if (it->second.empty()) s.cs_namespaces.erase(it);
      }
      s.cs_declared[id].clear();
      s.add_csharp_namespaces(id, *f);
    }
    declarations(l);
  }
  if (s.go_changed) keys.emplace_back("g");
  if (s.ws_changed) keys.emplace_back("w");
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

bool ImportResolver::reads_config_under(std::string_view path) const {
  return std::any_of(state_->configs.begin(), state_->configs.end(), [&](const std::string& c) {
    return path.empty() || c == path || (c.size() > path.size() && c.starts_with(path) && c[path.size()] == '/');
  });
}

bool ImportResolver::is_config_name(std::string_view path) {
  std::string_view base = base_of(path);
  for (std::string_view name : {"go.mod", "go.work", "tsconfig.json", "jsconfig.json", "Cargo.toml", "package.json",
                                "pnpm-workspace.yaml", "composer.json", "compile_commands.json"})
    if (base == name) return true;
  return false;
}

query::ImportGraph build_import_graph(const ImportResolver& resolver, const query::Index& index) {
  std::vector<query::FileImports> files;
  files.reserve(index.file_count());
  for (uint32_t f = 0; f < index.file_count(); ++f) files.push_back(resolver.resolve(f));
  return query::ImportGraph::build(files);
}

}  // namespace indexer
