#include "grammars/grammars.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cctype>

extern "C" {
const TSLanguage* tree_sitter_python();
const TSLanguage* tree_sitter_javascript();
const TSLanguage* tree_sitter_typescript();
const TSLanguage* tree_sitter_tsx();
const TSLanguage* tree_sitter_go();
const TSLanguage* tree_sitter_rust();
const TSLanguage* tree_sitter_c();
const TSLanguage* tree_sitter_cpp();
const TSLanguage* tree_sitter_java();
const TSLanguage* tree_sitter_c_sharp();
const TSLanguage* tree_sitter_ruby();
const TSLanguage* tree_sitter_php();
const TSLanguage* tree_sitter_bash();
}

namespace grammars {
namespace {

struct EmbeddedQuery {
  std::string_view language;
  std::string_view text;
};
constexpr EmbeddedQuery kQueries[] = {
#include "embedded_queries.inc"
};

constexpr std::string_view query_for(std::string_view language) {
  for (const auto& q : kQueries)
    if (q.language == language) return q.text;
  return {};
}

constexpr std::string_view kPythonCtors[] = {"__init__", "__new__"};
constexpr std::string_view kJsCtors[] = {"constructor"};
constexpr std::string_view kRubyCtors[] = {"initialize"};
constexpr std::string_view kPhpCtors[] = {"__construct"};

const std::array<LanguageSpec, size_t(Language::Count)> kSpecs = {{
    {Language::Unknown, "unknown", nullptr, {}, ".", {}},
    {Language::Python, "python", tree_sitter_python, query_for("python"), ".", kPythonCtors},
    {Language::JavaScript, "javascript", tree_sitter_javascript, query_for("javascript"), ".", kJsCtors},
    {Language::TypeScript, "typescript", tree_sitter_typescript, query_for("typescript"), ".", kJsCtors},
    // The tsx grammar extends typescript's node types with JSX, so one query serves both.
    {Language::Tsx, "tsx", tree_sitter_tsx, query_for("typescript"), ".", kJsCtors},
    {Language::Go, "go", tree_sitter_go, query_for("go"), ".", {}},
    {Language::Rust, "rust", tree_sitter_rust, query_for("rust"), "::", {}},
    {Language::C, "c", tree_sitter_c, query_for("c"), "::", {}},
    {Language::Cpp, "cpp", tree_sitter_cpp, query_for("cpp"), "::", {}},
    {Language::Java, "java", tree_sitter_java, query_for("java"), ".", {}},
    {Language::CSharp, "csharp", tree_sitter_c_sharp, query_for("csharp"), ".", {}},
    {Language::Ruby, "ruby", tree_sitter_ruby, query_for("ruby"), "::", kRubyCtors},
    {Language::Php, "php", tree_sitter_php, query_for("php"), "\\", kPhpCtors},
    {Language::Bash, "bash", tree_sitter_bash, query_for("bash"), ".", {}},
}};

struct Alias {
  std::string_view name;
  Language language;
};
constexpr Alias kNameAliases[] = {
    {"py", Language::Python},      {"js", Language::JavaScript}, {"ts", Language::TypeScript},
    {"golang", Language::Go},      {"rs", Language::Rust},       {"c++", Language::Cpp},
    {"cxx", Language::Cpp},        {"cs", Language::CSharp},     {"c#", Language::CSharp},
    {"rb", Language::Ruby},        {"sh", Language::Bash},       {"shell", Language::Bash},
};

constexpr Alias kExtensions[] = {
    {"py", Language::Python},     {"pyi", Language::Python},    {"pyw", Language::Python},
    {"js", Language::JavaScript}, {"mjs", Language::JavaScript}, {"cjs", Language::JavaScript},
    {"jsx", Language::JavaScript}, {"ts", Language::TypeScript}, {"mts", Language::TypeScript},
    {"cts", Language::TypeScript}, {"tsx", Language::Tsx},       {"go", Language::Go},
    {"rs", Language::Rust},       {"c", Language::C},           {"h", Language::Cpp},
    {"cc", Language::Cpp},        {"cpp", Language::Cpp},       {"cxx", Language::Cpp},
    {"c++", Language::Cpp},       {"hh", Language::Cpp},        {"hpp", Language::Cpp},
    {"hxx", Language::Cpp},       {"h++", Language::Cpp},       {"ipp", Language::Cpp},
    {"inl", Language::Cpp},       {"tcc", Language::Cpp},       {"java", Language::Java},
    {"cs", Language::CSharp},     {"rb", Language::Ruby},       {"rake", Language::Ruby},
    {"gemspec", Language::Ruby},  {"php", Language::Php},       {"phtml", Language::Php},
    {"sh", Language::Bash},       {"bash", Language::Bash},     {"zsh", Language::Bash},
};

constexpr Alias kFileNames[] = {
    {"Rakefile", Language::Ruby}, {"Gemfile", Language::Ruby}, {".bashrc", Language::Bash},
    {".bash_profile", Language::Bash}, {".profile", Language::Bash}, {"PKGBUILD", Language::Bash},
};

constexpr Alias kInterpreters[] = {
    {"python", Language::Python}, {"node", Language::JavaScript}, {"nodejs", Language::JavaScript},
    {"deno", Language::TypeScript}, {"ts-node", Language::TypeScript}, {"ruby", Language::Ruby},
    {"php", Language::Php},       {"bash", Language::Bash},     {"sh", Language::Bash},
    {"zsh", Language::Bash},      {"dash", Language::Bash},     {"ksh", Language::Bash},
};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// "python3.11" -> "python": an interpreter name without its version digits.
std::string_view strip_version(std::string_view s) {
  while (!s.empty() && (std::isdigit(static_cast<unsigned char>(s.back())) || s.back() == '.')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::span<const LanguageSpec> all_languages() { return kSpecs; }

const LanguageSpec& spec(Language language) {
  assert(size_t(language) < kSpecs.size() && "language out of range");
  return kSpecs[size_t(language)];
}

Language language_from_name(std::string_view name) {
  for (const auto& s : kSpecs)
    if (s.id != Language::Unknown && iequals(s.name, name)) return s.id;
  for (const auto& a : kNameAliases)
    if (iequals(a.name, name)) return a.language;
  return Language::Unknown;
}

Language detect_language(std::string_view path, std::string_view first_line) {
  std::string_view base = path.substr(path.find_last_of('/') + 1);
  for (const auto& f : kFileNames)
    if (f.name == base) return f.language;
  if (auto dot = base.find_last_of('.'); dot != std::string_view::npos && dot > 0) {
    std::string_view ext = base.substr(dot + 1);
    for (const auto& e : kExtensions)
      if (e.name == ext) return e.language;  // case-sensitive: ".C" and ".H" stay unknown on purpose
    return Language::Unknown;
  }
  if (!first_line.starts_with("#!")) return Language::Unknown;
  // "#!/usr/bin/env -S python3 -u" or "#!/bin/bash": the interpreter is the first word that is not env or a flag.
  std::string_view rest = first_line.substr(2);
  while (!rest.empty()) {
    size_t start = rest.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    size_t end = rest.find_first_of(" \t\r");
    std::string_view word = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    std::string_view prog = word.substr(word.find_last_of('/') + 1);
    if (prog == "env" || prog.starts_with("-")) continue;
    prog = strip_version(prog);
    for (const auto& i : kInterpreters)
      if (i.name == prog) return i.language;
    return Language::Unknown;
  }
  return Language::Unknown;
}

}  // namespace grammars
