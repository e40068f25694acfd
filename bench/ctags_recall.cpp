// Recall of our definitions next to universal-ctags, per language: of the tags ctags writes for a
// tree, how many the index holds as a symbol of the same file, name and line.
//
//   indexer_ctags_recall [--misses N] DIR...
//
// ctags runs in each DIR (`ctags -R --excmd=number --fields=+KlZ -f -`, its default kinds). Left
// out, and counted apart: anonymous entries (`__anon...` names or scopes, `AnonymousFunction...`),
// JS/TS object-literal entries (ctags reads `const c = {a: 1}` as a class `c` with a property `a`:
// a "class" whose line has no `class` keyword, and what is scoped in it), and the tags ctags itself
// describes as naming what is defined in another file (Python's `namespace` and `unknown`, PHP's
// `alias`: the names an import brings in). PHP's anonymous classes (`AnonymousClass...`) are
// anonymous entries. A tag matches when a symbol of its file has its name and starts, or
// has its name (blanks aside: "operator ()"), on its line; tags of files the index does not hold (over its size limit, say) are
// counted apart. Misses are summed by ctags kind. With --misses N, the first N unmatched tags of each language are
// printed with their kind, to see why.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "indexer/indexer.h"

namespace fs = std::filesystem;

namespace {

struct Tag {
  std::string name, path, kind, language, scope_kind, scope;
  uint32_t line = 0;
};

std::vector<std::string> split_tabs(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  for (size_t j; (j = s.find('\t', i)) != std::string::npos; i = j + 1) out.push_back(s.substr(i, j - i));
  out.push_back(s.substr(i));
  return out;
}

// A tag's name as written in the source: ctags escapes a backslash in it (PHP's `App\\Mail`).
std::string unescape(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '\\' && i + 1 < name.size() && name[i + 1] == '\\') ++i;
    out += name[i];
  }
  return out;
}

// ctags' tags of `dir`, paths relative to it.
std::vector<Tag> run_ctags(const std::string& dir) {
  std::string out = "/tmp/indexer-ctags-recall." + std::to_string(::getpid());
  std::string cmd = "cd '" + dir + "' && ctags -R --excmd=number --fields=+KlZ "
                    "--languages=Python,JavaScript,TypeScript,Go,Rust,C,C++,Java,C#,Ruby,PHP,Sh -f '" + out + "' . 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "%s: ctags failed\n", dir.c_str());
  std::vector<Tag> tags;
  std::ifstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("!_TAG_")) continue;
    auto f = split_tabs(line);
    if (f.size() < 4) continue;
    Tag t;
    t.name = unescape(f[0]);
    t.path = f[1].starts_with("./") ? f[1].substr(2) : f[1];
    t.line = uint32_t(std::strtoul(f[2].c_str(), nullptr, 10));
    t.kind = f[3];
    for (size_t i = 4; i < f.size(); ++i) {
      if (f[i].starts_with("language:")) t.language = f[i].substr(9);
      else if (f[i].starts_with("scope:")) {
        std::string s = f[i].substr(6);
        size_t colon = s.find(':');
        t.scope_kind = s.substr(0, colon);
        t.scope = colon == std::string::npos ? "" : s.substr(colon + 1);
      }
    }
    tags.push_back(std::move(t));
  }
  std::remove(out.c_str());
  return tags;
}

// Names without blanks: ctags writes "operator ()", tree-sitter's text is "operator()".
std::string squeeze(std::string_view name) {
  std::string out;
  for (char c : name)
    if (c != ' ' && c != '\t') out += c;
  return out;
}

struct Tally {
  size_t tags = 0, matched = 0, anonymous = 0, object_literal = 0, references = 0, not_indexed = 0;
  size_t missed_in_errors = 0;  // of the misses, those in files whose tree had syntax errors
  std::vector<std::string> misses;
  std::map<std::string, size_t> missed_kinds;
};

std::string top_kinds(const std::map<std::string, size_t>& kinds) {
  std::vector<std::pair<size_t, std::string>> v;
  for (const auto& [k, n] : kinds) v.emplace_back(n, k);
  std::sort(v.rbegin(), v.rend());
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(v.size(), 8); ++i) out += " " + v[i].second + " " + std::to_string(v[i].first);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  size_t show = 0;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--misses" && i + 1 < argc) show = std::stoul(argv[++i]);
    else dirs.push_back(a);
  }
  if (dirs.empty()) {
    std::fprintf(stderr, "usage: indexer_ctags_recall [--misses N] DIR...\n");
    return 2;
  }
  std::map<std::string, Tally> total;
  std::printf("== definitions next to universal-ctags: recall by file, name and line\n");
  for (const auto& dir : dirs) {
    auto r = indexer::index_tree(dir, {});
    if (!r.index) return 1;
    const query::Index& index = *r.index;
    std::vector<Tag> tags = run_ctags(dir);
    // Lines of a file, read when a JS/TS "class" must be told from an object literal.
    std::unordered_map<std::string, std::vector<std::string>> lines;
    auto line_of = [&](const std::string& path, uint32_t line) -> const std::string& {
      static const std::string none;
      auto [it, fresh] = lines.try_emplace(path);
      if (fresh) {
        std::ifstream in(fs::path(dir) / path);
        for (std::string l; std::getline(in, l);) it->second.push_back(std::move(l));
      }
      return line >= 1 && line <= it->second.size() ? it->second[line - 1] : none;
    };
    // JS/TS "classes" that are object literals, by file and qualified name.
    std::unordered_set<std::string> literal;
    for (const auto& t : tags)
      if ((t.language == "JavaScript" || t.language == "TypeScript") && t.kind == "class" &&
          line_of(t.path, t.line).find("class") == std::string::npos)
        literal.insert(t.path + '\x1f' + (t.scope.empty() ? t.name : t.scope + "." + t.name));
    std::unordered_map<uint32_t, std::unordered_set<std::string>> ours;  // file -> "name\x1fline"
    std::map<std::string, Tally> here;
    for (const auto& t : tags) {
      Tally& tally = here[t.language];
      if (t.name.starts_with("__anon") || t.scope.find("__anon") != std::string::npos || t.name.starts_with("AnonymousFunction") ||
          t.scope.find("AnonymousFunction") != std::string::npos || t.name.starts_with("AnonymousClass")) {
        ++tally.anonymous;
        continue;
      }
      if (literal.count(t.path + '\x1f' + (t.scope.empty() ? t.name : t.scope + "." + t.name)) ||
          (!t.scope.empty() && literal.count(t.path + '\x1f' + t.scope))) {
        ++tally.object_literal;
        continue;
      }
      if ((t.language == "Python" && (t.kind == "namespace" || t.kind == "unknown")) || (t.language == "PHP" && t.kind == "alias")) {
        ++tally.references;
        continue;
      }
      auto file = index.find_file(t.path);
      if (!file) {  // not indexed (over the size limit, an unsupported extension, ignored): no symbol to compare
        ++tally.not_indexed;
        continue;
      }
      ++tally.tags;
      bool hit = false;
      {
        auto [it, fresh] = ours.try_emplace(*file);
        if (fresh) {
          auto range = index.file_symbols(*file);
          for (uint32_t id = range.begin; id < range.end; ++id) {
            auto s = index.symbol(id);
            for (uint32_t l : {s.range.start.line, s.selection.start.line}) it->second.insert(squeeze(s.name) + '\x1f' + std::to_string(l + 1));
          }
        }
        hit = it->second.count(squeeze(t.name) + '\x1f' + std::to_string(t.line)) > 0;
      }
      if (hit) {
        ++tally.matched;
        continue;
      }
      ++tally.missed_kinds[t.kind];
      tally.missed_in_errors += index.file(*file).parse_errors;
      if (tally.misses.size() < show) tally.misses.push_back(t.path + ":" + std::to_string(t.line) + " " + t.kind + " " + t.name);
    }
    std::printf("%s\n", dir.c_str());
    for (const auto& [lang, t] : here) {
      std::printf("  %-11s %8zu tags %8zu matched   recall %.4f   (left out: %zu anonymous, %zu object-literal, %zu import names, %zu in files not indexed)\n",
                  lang.c_str(), t.tags, t.matched, t.tags ? double(t.matched) / double(t.tags) : 1.0, t.anonymous, t.object_literal,
                  t.references, t.not_indexed);
      if (!t.missed_kinds.empty())
        std::printf("      missed by kind:%s; %zu of the misses in files with syntax errors\n", top_kinds(t.missed_kinds).c_str(),
                    t.missed_in_errors);
      for (const auto& m : t.misses) std::printf("      miss: %s\n", m.c_str());
      Tally& all = total[lang];
      all.tags += t.tags, all.matched += t.matched, all.anonymous += t.anonymous, all.object_literal += t.object_literal,
          all.references += t.references, all.not_indexed += t.not_indexed;
      for (const auto& [k, n] : t.missed_kinds) all.missed_kinds[k] += n;
      all.missed_in_errors += t.missed_in_errors;
    }
  }
  std::printf("all\n");
  for (const auto& [lang, t] : total) {
    std::printf("  %-11s %8zu tags %8zu matched   recall %.4f\n", lang.c_str(), t.tags, t.matched, t.tags ? double(t.matched) / double(t.tags) : 1.0);
    if (!t.missed_kinds.empty())
      std::printf("      missed by kind:%s; %zu of the misses in files with syntax errors\n", top_kinds(t.missed_kinds).c_str(), t.missed_in_errors);
  }
  return 0;
}
