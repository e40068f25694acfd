#include "indexer/extract.h"
#include "indexer/export_macros.h"
#include "indexer/matcher.h"
#include "indexer/pattern_roots.h"
#include "indexer/query_syntax.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <malloc.h>
#include <pcre2.h>
#include <tree_sitter/api.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>

namespace indexer::detail {
namespace {

using query::Kind;
using query::Language;

enum class Role : uint8_t { Ignore, Definition, Name, Container, Scope, Package, Import, ImportMember };

struct CaptureInfo {
  Role role = Role::Ignore;
  Kind kind = Kind::Variable;   // for Definition
  std::string import_kind;      // for Import
};

enum class Op : uint8_t { Eq, NotEq, Match, NotMatch, AnyOf, NotAnyOf };
// A #match? regex, compiled by PCRE2 with its JIT: std::regex (what this was) allocated on every
// search and cost Go's extraction a tenth of its parse time on 170k `const` specs (README, "Index
// speed by language"). Bytes, not UTF-8 (a file's text may be invalid), and `$` only at the end,
// as ECMAScript's regexes read the patterns the queries were written against.
class Regex {
 public:
  static Result<Regex> compile(const std::string& pattern) {
    int code = 0;
    PCRE2_SIZE at = 0;
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_DOLLAR_ENDONLY, &code, &at, nullptr);
    if (!re) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(code, message, sizeof message);
      return Error{reinterpret_cast<const char*>(message) + std::string(" at offset ") + std::to_string(at)};
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  // where the JIT is missing, pcre2_match interprets
    return Regex(re);
  }
  Regex() = default;
  bool search(std::string_view text) const {
    // One match block a thread, for every pattern: a boolean needs one pair of offsets.
    thread_local std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> data(pcre2_match_data_create(1, nullptr), pcre2_match_data_free);
    return pcre2_match(re_.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, data.get(), nullptr) >= 0;
  }

 private:
  explicit Regex(pcre2_code* re) : re_(re, pcre2_code_free) {}
  std::shared_ptr<pcre2_code> re_;  // shared: a query's predicates are copied, the code is read-only
};

struct Predicate {
  Op op;
  uint32_t capture;
  std::optional<uint32_t> other_capture;  // #eq? @a @b
  std::vector<std::string> values;
  Regex re;
};

// A language's tags query, read and compiled. The matcher works from our reading of the text;
// tree-sitter's compiled TSQuery (ts_query_new analyses each pattern against the grammar: 0.5-0.8 s
// for C++) is made only when something needs it: the cursor for patterns the matcher leaves, an
// edited query (INDEXER_QUERIES_DIR, whose errors are tree-sitter's to report), check_queries(),
// and the whole-tree and cursor-only runs that tests and benchmarks compare against.
struct CompiledQuery {
  const grammars::LanguageSpec* spec = nullptr;
  std::string source;
  ParsedQuery parsed;
  TSQuery* query = nullptr;  // see ts_query()
  std::once_flag query_once;
  std::string query_error;   // from ts_query_new
  std::vector<CaptureInfo> captures;
  std::vector<std::vector<Predicate>> predicates;  // per pattern
  Matcher matcher;     // finds the matches of the patterns it handles (matcher.h)
  PatternRoots roots;  // where those patterns can match
  PatternRoots cursor_roots;  // where the others, left to tree-sitter's cursor, can
  PatternRoots all_roots;     // where any pattern can (for Extractor::match_with_cursor)
  std::vector<uint8_t> cursor_patterns;  // by pattern: 1 when left to the cursor
  std::vector<uint8_t> opaque;  // by symbol: 1 when no definition can be inside (pattern_roots.h)
  std::string error;
};

// Made on first use: 12 KB built by a static constructor cost every process that never extracts
// (`indexer query` through a server) four page faults. Never freed: a destructor at exit would
// drop the only pointers to tree-sitter's compiled queries (a leak to LeakSanitizer) while a
// detached thread may still be using them.
std::array<CompiledQuery*, size_t(Language::Count)> g_queries{};
std::array<std::once_flag, size_t(Language::Count)> g_query_once;

std::string_view error_kind(TSQueryError e) {
  switch (e) {
    case TSQueryErrorSyntax: return "syntax error";
    case TSQueryErrorNodeType: return "unknown node type";
    case TSQueryErrorField: return "unknown field";
    case TSQueryErrorCapture: return "unknown capture";
    case TSQueryErrorStructure: return "impossible pattern";
    case TSQueryErrorLanguage: return "incompatible language version";
    default: return "error";
  }
}

// tree-sitter's compile of cq's query; sets cq.query_error when it fails, or when tree-sitter
// reads the text otherwise than read_query() (which would make pattern or capture ids differ).
// Returns whether tree-sitter compiled the text at all.
bool compile_with_tree_sitter(const grammars::LanguageSpec& spec, CompiledQuery& cq) {
  const std::string& source = cq.source;
  uint32_t offset = 0;
  TSQueryError err = TSQueryErrorNone;
  cq.query = ts_query_new(spec.grammar(), source.data(), uint32_t(source.size()), &offset, &err);
  if (!cq.query) {
    size_t line = 1 + std::count(source.begin(), source.begin() + std::min<size_t>(offset, source.size()), '\n');
    cq.query_error = std::string(spec.name) + ".scm: " + std::string(error_kind(err)) + " at line " + std::to_string(line) +
                     " (offset " + std::to_string(offset) + ")";
    return false;
  }
  bool same = ts_query_pattern_count(cq.query) == cq.parsed.patterns.size() &&
              ts_query_capture_count(cq.query) == cq.parsed.captures.size();
  for (uint32_t i = 0; same && i < cq.parsed.captures.size(); ++i) {
    uint32_t len = 0;
    const char* name = ts_query_capture_name_for_id(cq.query, i, &len);
    same = std::string_view(name, len) == cq.parsed.captures[i];
  }
  if (!same) {
    cq.query_error = std::string(spec.name) + ".scm: tree-sitter reads " + std::to_string(ts_query_pattern_count(cq.query)) +
                     " patterns and " + std::to_string(ts_query_capture_count(cq.query)) + " captures, our reader " +
                     std::to_string(cq.parsed.patterns.size()) + " and " + std::to_string(cq.parsed.captures.size());
    ts_query_delete(cq.query);
    cq.query = nullptr;
  }
  return true;
}

// The query's predicates, in text order, into `out`; an error on a bad regex or an unknown capture.
Status collect_predicates(const Elem& e, const ParsedQuery& q, std::vector<Predicate>& out) {
  if (e.type == Elem::Predicate) {
    // "#op? @capture arg...": the others (#set! and friends) carry no condition.
    if (e.args.size() < 2 || !e.args[0].capture) return {};
    Predicate pr{};
    if (e.name == "eq?") pr.op = Op::Eq;
    else if (e.name == "not-eq?") pr.op = Op::NotEq;
    else if (e.name == "match?") pr.op = Op::Match;
    else if (e.name == "not-match?") pr.op = Op::NotMatch;
    else if (e.name == "any-of?") pr.op = Op::AnyOf;
    else if (e.name == "not-any-of?") pr.op = Op::NotAnyOf;
    else return {};
    for (size_t k = 0; k < e.args.size(); ++k) {
      const Elem::Arg& arg = e.args[k];
      if (!arg.capture) {
        pr.values.push_back(arg.text);
        continue;
      }
      int id = capture_id(q, arg.text);
      if (id < 0) {
        return Error{"unknown capture @" + arg.text + " in #" + e.name};
      }
      if (k == 0) pr.capture = uint32_t(id);
      else pr.other_capture = uint32_t(id);
    }
    if ((pr.op == Op::Match || pr.op == Op::NotMatch) && !pr.values.empty()) {
      auto re = Regex::compile(pr.values[0]);
      if (!re) return Error{"bad #match? regex \"" + pr.values[0] + "\": " + re.error()};
      pr.re = std::move(*re);
    }
    out.push_back(std::move(pr));
    return {};
  }
  for (const Elem& c : e.children)
    if (Status collected = collect_predicates(c, q, out); !collected) return collected;
  return {};
}

void compile(Language lang, CompiledQuery& cq) {
  const auto& spec = grammars::spec(lang);
  if (!spec.grammar) return;
  cq.spec = &spec;
  cq.source = query_source(spec);
  if (cq.source.empty()) {
    cq.error = std::string(spec.name) + ": no query under grammars/queries/";
    return;
  }
  cq.parsed = read_query(cq.source);
  const char* edited = std::getenv("INDEXER_QUERIES_DIR");
  if (cq.parsed.error != std::string_view::npos || (edited && *edited)) {
    // Not our reading of the syntax, or a query being edited: tree-sitter's message, if any.
    const bool compiled = compile_with_tree_sitter(spec, cq);
    if (cq.parsed.error != std::string_view::npos && compiled) {  // tree-sitter reads what ours cannot
      size_t line = 1 + std::count(cq.source.begin(), cq.source.begin() + std::min(cq.parsed.error, cq.source.size()), '\n');
      cq.query_error = std::string(spec.name) + ".scm: line " + std::to_string(line) +
                       ": tree-sitter reads this query, but indexer's query reader (indexer/query_syntax.h) cannot";
    }
    if (!cq.query_error.empty()) {
      cq.error = cq.query_error;
      return;
    }
  }
  cq.captures.resize(cq.parsed.captures.size());
  for (size_t i = 0; i < cq.parsed.captures.size(); ++i) {
    std::string_view name = cq.parsed.captures[i];
    CaptureInfo& c = cq.captures[i];
    if (name.starts_with("definition.")) {
      auto kind = query::kind_from_name(name.substr(11));
      if (!kind) {
        cq.error = std::string(spec.name) + ".scm: unknown kind in @" + std::string(name);
        return;
      }
      c.role = Role::Definition;
      c.kind = *kind;
    } else if (name == "name") c.role = Role::Name;
    else if (name == "container") c.role = Role::Container;
    else if (name == "scope") c.role = Role::Scope;
    else if (name == "package") c.role = Role::Package;
    else if (name == "import_member") c.role = Role::ImportMember;
    else if (name.starts_with("import.")) {
      c.role = Role::Import;
      c.import_kind = std::string(name.substr(7));
    } else if (!name.starts_with("_")) {
      cq.error = std::string(spec.name) + ".scm: unknown capture @" + std::string(name);
      return;
    }
  }
  cq.predicates.resize(cq.parsed.patterns.size());
  for (size_t p = 0; p < cq.parsed.patterns.size(); ++p) {
    if (Status collected = collect_predicates(cq.parsed.patterns[p].top, cq.parsed, cq.predicates[p]); !collected) {
      cq.error = std::string(spec.name) + ".scm: " + collected.error();
      return;
    }
  }
  cq.matcher = Matcher(spec.grammar(), cq.parsed);
  cq.roots = pattern_roots(spec.grammar(), cq.parsed, &cq.matcher.handled());
  for (uint8_t h : cq.matcher.handled()) cq.cursor_patterns.push_back(!h);
  cq.cursor_roots = pattern_roots(spec.grammar(), cq.parsed, &cq.cursor_patterns);
  cq.all_roots = pattern_roots(spec.grammar(), cq.parsed);
  Result<std::vector<uint8_t>> opaque = opaque_types(spec.grammar(), cq.source);
  if (!opaque) {
    cq.error = std::string(spec.name) + ".scm: " + opaque.error();
    return;
  }
  cq.opaque = std::move(*opaque);
  // The cursor runs what the matcher leaves: it needs tree-sitter's compile now.
  if (!cq.matcher.handles_all() && !cq.query && !edited) (void)compile_with_tree_sitter(spec, cq);
  if (!cq.query_error.empty()) cq.error = cq.query_error;
}

CompiledQuery& compiled(Language lang) {
  size_t i = size_t(lang);
  std::call_once(g_query_once[i], [&] {
    g_queries[i] = new CompiledQuery();
    compile(lang, *g_queries[i]);
  });
  return *g_queries[i];
}

// tree-sitter's compile of the language's query, made on first use; null when it failed
// (cq.query_error says why).
TSQuery* ts_query(const CompiledQuery& query) {
  CompiledQuery& cq = const_cast<CompiledQuery&>(query);
  std::call_once(cq.query_once, [&] {
    if (!cq.query && cq.query_error.empty() && cq.spec) (void)compile_with_tree_sitter(*cq.spec, cq);
  });
  return cq.query;
}

std::string_view node_text(TSNode n, std::string_view src) {
  uint32_t a = std::min<uint32_t>(ts_node_start_byte(n), uint32_t(src.size()));
  uint32_t b = std::min<uint32_t>(ts_node_end_byte(n), uint32_t(src.size()));
  return src.substr(a, b - a);
}

std::string_view span_text(TSNode first, TSNode last, std::string_view src) {
  uint32_t a = std::min<uint32_t>(ts_node_start_byte(first), uint32_t(src.size()));
  uint32_t b = std::min<uint32_t>(ts_node_end_byte(last), uint32_t(src.size()));
  return b > a ? src.substr(a, b - a) : std::string_view{};
}

// Drops one pair of quotes, backticks or angle brackets around a specifier: "x", 'x', `x`, <x>.
std::string_view strip_quotes(std::string_view s) {
  if (s.size() >= 2) {
    char a = s.front(), b = s.back();
    if ((a == '"' || a == '\'' || a == '`') && b == a) return s.substr(1, s.size() - 2);
    if (a == '<' && b == '>') return s.substr(1, s.size() - 2);
  }
  return s;
}

std::string_view capture_text(const TSQueryMatch& m, uint32_t capture, std::string_view src) {
  for (uint16_t i = 0; i < m.capture_count; ++i)
    if (m.captures[i].index == capture) return node_text(m.captures[i].node, src);
  return {};
}

bool predicates_hold(const CompiledQuery& cq, const TSQueryMatch& m, std::string_view src) {
  for (const Predicate& p : cq.predicates[m.pattern_index]) {
    std::string_view text = capture_text(m, p.capture, src);
    bool ok = true;
    switch (p.op) {
      case Op::Eq:
      case Op::NotEq: {
        std::string_view other;
        if (p.other_capture) other = capture_text(m, *p.other_capture, src);
        else if (!p.values.empty()) other = p.values[0];
        ok = (text == other) == (p.op == Op::Eq);
        break;
      }
      case Op::Match:
      case Op::NotMatch:
        ok = p.re.search(text) == (p.op == Op::Match);
        break;
      case Op::AnyOf:
      case Op::NotAnyOf:
        ok = (std::find(p.values.begin(), p.values.end(), text) != p.values.end()) == (p.op == Op::AnyOf);
        break;
    }
    if (!ok) return false;
  }
  return true;
}

// A definition or scope found by the query, before nesting is resolved.
struct RawDef {
  TSNode node;
  TSNode name;
  TSNode name_last;  // == name unless several @name captures
  uint32_t start, end;  // bytes of node
  uint32_t name_start, name_end;  // bytes of name .. name_last: the tie-break between matches
  uint32_t pattern;
  Kind kind;
  bool scope;
  std::string_view explicit_container;
};

bool is_member(Kind k) { return k == Kind::Field || k == Kind::Property; }

bool is_callable(Kind k) { return k == Kind::Function || k == Kind::Method || k == Kind::Constructor; }

bool is_type_like(Kind k) {
  return k == Kind::Class || k == Kind::Struct || k == Kind::Interface || k == Kind::Enum;
}

// "*pkg.List[T]" -> "pkg.List"; "ns::Vec<T>" -> "ns::Vec"; whitespace dropped.
void append_clean_container(std::string& out, std::string_view s) {
  int depth = 0;
  for (char c : s) {
    if (c == '<' || c == '[' || c == '(') ++depth;
    else if (c == '>' || c == ']' || c == ')') depth = std::max(0, depth - 1);
    else if (depth == 0 && c != '*' && c != '&' && c != ' ' && c != '\t' && c != '\n' && c != '\r') out.push_back(c);
  }
}

// One line: the definition from its start up to its body, whitespace collapsed, at most kMax bytes.
void append_signature(std::string& out, TSNode def, std::string_view src) {
  constexpr size_t kMax = 200;
  uint32_t start = ts_node_start_byte(def);
  uint32_t end = ts_node_end_byte(def);
  TSNode body = ts_node_child_by_field_name(def, "body", 4);
  if (ts_node_is_null(body)) body = ts_node_child_by_field_name(def, "accessors", 9);  // C# properties
  if (ts_node_is_null(body)) {
    TSNode value = ts_node_child_by_field_name(def, "value", 5);
    if (!ts_node_is_null(value)) body = ts_node_child_by_field_name(value, "body", 4);
  }
  bool has_body = !ts_node_is_null(body) && ts_node_start_byte(body) > start;
  uint32_t cut = has_body ? ts_node_start_byte(body) : end;
  cut = std::min<uint32_t>({cut, uint32_t(src.size()), start + 4 * uint32_t(kMax)});
  std::string_view text = start < cut ? src.substr(start, cut - start) : std::string_view{};
  if (!has_body) text = text.substr(0, text.find('\n'));
  size_t begin = out.size();
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = out.size() > begin;
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
    if (out.size() - begin >= kMax) break;
  }
  while (out.size() > begin && (out.back() == '{' || out.back() == ':' || out.back() == ' ')) out.pop_back();
  // Never end inside a UTF-8 sequence: drop a last sequence shorter than its lead byte says.
  size_t lead = out.size();
  while (lead > begin && (static_cast<unsigned char>(out[lead - 1]) & 0xC0) == 0x80) --lead;
  if (lead > begin) {
    unsigned char b = static_cast<unsigned char>(out[lead - 1]);
    size_t want = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    if (out.size() - (lead - 1) < want) out.resize(lead - 1);
  }
}

query::Position point(TSPoint p) { return {p.row, p.column}; }

// The name's text; a Ruby symbol literal (attr_reader :sku) loses its colon.
std::string_view symbol_name(const RawDef& d, std::string_view src) {
  std::string_view name = span_text(d.name, d.name_last, src);
  if (name.size() > 1 && name[0] == ':' && name[1] != ':') name.remove_prefix(1);
  return name;
}

// An import's specifier and kind, as offsets into the Extraction's text while it grows.
struct PendingImport {
  size_t spec_off, spec_len, kind_off, kind_len;
  uint32_t line;
};

// One file's matches as they come: definitions before nesting is resolved, and imports.
struct Collected {
  std::vector<RawDef>& defs;
  std::vector<PendingImport>& imports;
  std::string& text;  // the Extraction's text: import specifiers are written as they come
  std::string_view package;
  bool dropped = false;  // tree-sitter's match limit was hit
};

// An import's captures in one match.
struct ImportParts {
  uint32_t first = UINT32_MAX, last = 0, line = 0;  // bytes spanned by the @import captures
  const std::string* kind = nullptr;
  std::string_view member;  // @import_member
};

void add_import(const ImportParts& imp, std::string_view src, Collected& c) {
  std::string_view text = src.substr(imp.first, std::min<size_t>(imp.last, src.size()) - imp.first);
  text = strip_quotes(text);
  // "from pkg import name": the specifier is "pkg.name" (".name" after a bare "from .").
  std::string_view joiner = imp.member.empty() || text.ends_with('.') ? "" : ".";
  if (text.empty() || text.find('\n') != std::string_view::npos || imp.member.find('\n') != std::string_view::npos) return;
  PendingImport pi{c.text.size(), text.size() + joiner.size() + imp.member.size(), 0, imp.kind->size(), imp.line};
  c.text.append(text);
  c.text.append(joiner);
  c.text.append(imp.member);
  pi.kind_off = c.text.size();
  c.text.append(*imp.kind);
  c.imports.push_back(pi);
}

// Takes one match whose predicates hold into `c`.
void collect(const CompiledQuery& cq, const TSQueryMatch& m, std::string_view src, Collected& c) {
  if (!predicates_hold(cq, m, src)) return;
  RawDef d{};
  bool have_def = false, have_name = false;
  ImportParts imp;
  for (uint16_t i = 0; i < m.capture_count; ++i) {
    const CaptureInfo& cap = cq.captures[m.captures[i].index];
    TSNode n = m.captures[i].node;
    switch (cap.role) {
      case Role::Definition:
      case Role::Scope:
        d.node = n;
        d.kind = cap.kind;
        d.scope = cap.role == Role::Scope;
        have_def = true;
        break;
      case Role::Name:
        // Several @name captures in one match name the span from the first to the last
        // ("operator +", "~Shape").
        if (!have_name) d.name = n, d.name_last = n, have_name = true;
        else if (ts_node_end_byte(n) > ts_node_end_byte(d.name_last)) d.name_last = n;
        break;
      case Role::Container:
        d.explicit_container = node_text(n, src);
        break;
      case Role::Package:
        if (c.package.empty()) c.package = node_text(n, src);
        break;
      case Role::Import:
        // Several @import captures in one match form one specifier spanning them all.
        if (imp.first == UINT32_MAX) imp.first = ts_node_start_byte(n), imp.line = ts_node_start_point(n).row;
        imp.last = std::max(imp.last, ts_node_end_byte(n));
        imp.kind = &cap.import_kind;
        break;
      case Role::ImportMember:
        imp.member = node_text(n, src);
        break;
      case Role::Ignore:
        break;
    }
  }
  if (imp.kind) add_import(imp, src, c);
  if (!have_def || !have_name) return;
  std::string_view name = symbol_name(d, src);
  if (name.empty() || name.size() > 512 || name.find('\n') != std::string_view::npos) return;
  d.start = ts_node_start_byte(d.node);
  d.end = ts_node_end_byte(d.node);
  d.name_start = ts_node_start_byte(d.name);
  d.name_end = ts_node_end_byte(d.name_last);
  d.pattern = m.pattern_index;
  c.defs.push_back(d);
}

// Runs the query with `node` as the cursor's root, up to `max_start_depth` below it, and collects
// every match, or only those of the patterns `only` marks.
void run_query(TSQueryCursor* qc, const CompiledQuery& cq, TSNode node, uint32_t max_start_depth,
               const std::vector<uint8_t>* only, std::string_view src, Collected& c) {
  TSQuery* query = ts_query(cq);
  if (!query) return;
  ts_query_cursor_set_max_start_depth(qc, max_start_depth);
  ts_query_cursor_exec(qc, query, node);
  TSQueryMatch m;
  while (ts_query_cursor_next_match(qc, &m))
    if (!only || (*only)[m.pattern_index]) collect(cq, m, src, c);
  c.dropped = c.dropped || ts_query_cursor_did_exceed_match_limit(qc);
}

// A node on the path from the root to the walk's current node.
struct Level {
  TSNode node;
  uint64_t seen;         // child_bit of the children visited so far, for the matcher's roots
  uint64_t cursor_seen;  // and for the cursor's
};

// The matches of a query cursor run over the whole tree, at a fraction of its cost (see
// pattern_roots.h and matcher.h): a TSTreeCursor walks every node; at each node where a pattern
// can be rooted, in preorder, the matcher runs its patterns, and the query cursor (max start
// depth 0) the patterns left to it; the wildcard roots are tried at a node once all of its
// children are seen and they have what one needs (the cursor at depth 1, its wildcard patterns'
// matches only). The matches are those of a whole-tree run, in another order, with some
// definitions repeated (the caller drops repeats). The walk does not enter a node of an opaque
// type without errors inside. `levels` is scratch space kept by the caller: nothing is allocated
// per node.
// With `cursor_only`, tree-sitter's cursor runs every pattern (to compare the matcher against).
void match_at_roots(TSQueryCursor* qc, Matcher::Scratch& scratch, const CompiledQuery& cq, bool cursor_only, TSNode root,
                    std::string_view src, std::vector<Level>& levels, Collected& c) {
  static const PatternRoots kNowhere;
  const PatternRoots& roots = cursor_only ? kNowhere : cq.roots;
  const PatternRoots& cursor_roots = cursor_only ? cq.all_roots : cq.cursor_roots;
  const std::vector<uint8_t>* cursor_patterns = cursor_only ? nullptr : &cq.cursor_patterns;
  const bool cursor = cursor_only || !cq.matcher.handles_all();
  auto take = [&](const TSQueryMatch& m) { collect(cq, m, src, c); };
  // Our queries take a few steps a byte; far more is a query whose matches multiply.
  scratch.budget = (uint64_t(1) << 20) + 64 * uint64_t(src.size());
  levels.clear();
  TSTreeCursor walk = ts_tree_cursor_new(root);
  for (;;) {
    TSNode n = ts_tree_cursor_current_node(&walk);
    TSSymbol sym = ts_node_symbol(n);
    if (!levels.empty()) {
      levels.back().seen |= roots.child_bit(sym);
      levels.back().cursor_seen |= cursor_roots.child_bit(sym);
    }
    if (roots.roots_at(sym) && !cq.matcher.run(n, false, scratch, take)) c.dropped = true;
    if (cursor && cursor_roots.roots_at(sym)) run_query(qc, cq, n, 0, cursor_patterns, src, c);
    const bool opaque = sym < cq.opaque.size() && cq.opaque[sym] && !ts_node_has_error(n);
    if (!opaque && ts_tree_cursor_goto_first_child(&walk)) {
      levels.push_back({n, 0, 0});
      continue;
    }
    while (!ts_tree_cursor_goto_next_sibling(&walk)) {
      if (!ts_tree_cursor_goto_parent(&walk)) {
        ts_tree_cursor_delete(&walk);
        return;
      }
      const Level left = levels.back();
      levels.pop_back();
      if (roots.wildcard_roots_at(left.seen) && !cq.matcher.run(left.node, true, scratch, take)) c.dropped = true;
      if (cursor && cursor_roots.wildcard_roots_at(left.cursor_seen)) {
        run_query(qc, cq, left.node, 1, &cursor_roots.wildcard_pattern, src, c);
      }
    }
  }
}

}  // namespace

// The embedded query, or <dir>/<language>.scm when INDEXER_QUERIES_DIR names a directory: lets
// a query be edited and tried without a rebuild.
std::string query_source(const grammars::LanguageSpec& spec) {
  if (const char* dir = std::getenv("INDEXER_QUERIES_DIR"); dir && *dir) {
    std::string_view file = spec.id == Language::Tsx ? "typescript" : spec.name;
    std::ifstream in(std::string(dir) + "/" + std::string(file) + ".scm", std::ios::binary);
    if (in) return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  return std::string(spec.query);
}

Status check_queries() {
  std::string errors;
  for (const auto& spec : grammars::all_languages()) {
    if (!spec.grammar) continue;
    const CompiledQuery& cq = compiled(spec.id);
    if (!cq.error.empty()) errors += cq.error + "\n";
    else if (!ts_query(cq)) errors += cq.query_error + "\n";  // tree-sitter's check of what the matcher took
  }
  if (errors.empty()) return {};
  errors.pop_back();
  return Error{errors};
}

namespace {

// tree-sitter's heap as this thread's tree-sitter calls grew it: allocated minus freed. A parse is
// measured by how much its own thread's count grows; a tree freed on another thread only makes
// that thread's count drift, which no parse's difference sees. malloc_usable_size is what the
// allocator really holds (mimalloc's when it is the process's allocator).
thread_local int64_t t_tree_bytes = 0;

void* checked(void* p, size_t n) {
  if (!p && n) {  // as tree-sitter's own allocator does: its callers do not check
    std::fprintf(stderr, "indexer: tree-sitter could not allocate %zu bytes\n", n);
    std::abort();
  }
  if (p) t_tree_bytes += int64_t(malloc_usable_size(p));
  return p;
}
void* counted_malloc(size_t n) { return checked(std::malloc(n), n); }
void* counted_calloc(size_t n, size_t size) { return checked(std::calloc(n, size), n * size); }
void* counted_realloc(void* p, size_t n) {
  const int64_t before = p ? int64_t(malloc_usable_size(p)) : 0;
  void* q = std::realloc(p, n);
  if (q || n == 0) t_tree_bytes -= before;  // moved, or freed by realloc(p, 0)
  return checked(q, n);
}
void counted_free(void* p) {
  if (p) t_tree_bytes -= int64_t(malloc_usable_size(p));
  std::free(p);
}

struct ParseBudget {
  int64_t start, limit, peak = 0;
  bool over = false;
};

// Called by tree-sitter every hundred or so steps of a parse; true stops it.
bool over_budget(TSParseState* state) {
  auto& b = *static_cast<ParseBudget*>(state->payload);
  b.peak = std::max(b.peak, t_tree_bytes - b.start);
  return b.over = b.peak > b.limit;
}

const char* read_string(void* payload, uint32_t byte, TSPoint, uint32_t* bytes_read) {
  auto* src = static_cast<std::string_view*>(payload);
  if (byte >= src->size()) {
    *bytes_read = 0;
    return "";
  }
  *bytes_read = uint32_t(src->size() - byte);
  return src->data() + byte;
}

}  // namespace

TSTree* Extractor::parse_bounded(const TSTree* old_tree, std::string_view src, Extraction* out) {
  ParseBudget budget{t_tree_bytes, int64_t(std::min<uint64_t>(max_tree_bytes_, INT64_MAX))};
  TSInput input{&src, read_string, TSInputEncodingUTF8, nullptr};
  TSTree* tree = ts_parser_parse_with_options(parser_, old_tree, input, TSParseOptions{&budget, over_budget});
  if (tree) budget.peak = std::max(budget.peak, t_tree_bytes - budget.start);  // the finished tree
  if (out) out->tree_bytes = uint64_t(std::max<int64_t>(budget.peak, 0));
  if (!tree && budget.over) {
    ts_parser_reset(parser_);  // else the next parse would resume this one
    if (out) out->too_dense = true;
  }
  return tree;
}

struct Extractor::Cursor {
  TSQueryCursor* cursor = ts_query_cursor_new();
  std::vector<RawDef> defs;
  std::vector<Level> levels;
  Matcher::Scratch scratch;
  std::string blanked;  // the text the parser reads when export macros were blanked
  ~Cursor() { ts_query_cursor_delete(cursor); }
};

Extractor::Extractor(uint64_t max_tree_bytes) : max_tree_bytes_(max_tree_bytes) {
  static std::once_flag counting;
  std::call_once(counting, [] { ts_set_allocator(counted_malloc, counted_calloc, counted_realloc, counted_free); });
  parser_ = ts_parser_new();
  cursor_ = new Cursor;
}
Extractor::~Extractor() {
  ts_parser_delete(parser_);
  delete cursor_;
}

void Extractor::parse(Language lang, std::string_view src) {
  const auto& spec = grammars::spec(lang);
  if (!spec.grammar || src.size() > UINT32_MAX || !ts_parser_set_language(parser_, spec.grammar())) return;
  if (TSTree* tree = parse_bounded(nullptr, src, nullptr)) ts_tree_delete(tree);
}

namespace {

void clear(Extraction& out) {
  out.symbols.clear();
  out.imports.clear();
  out.text.clear();
  out.error.clear();
  out.parse_errors = false;
  out.dropped_matches = false;
  out.too_dense = false;
  out.tree_bytes = 0;
}

// Outer definitions first; for one node, the first pattern wins, and among its matches (a tree
// with errors can give one pattern several names for one node) the first-starting name, so the
// winner does not depend on the order the cursor finds matches in. The order is total up to
// the node, so a match found twice lands next to itself and is dropped by Nesting::add.
void sort_definitions(std::vector<RawDef>& defs) {
  std::sort(defs.begin(), defs.end(), [](const RawDef& a, const RawDef& b) {
    if (a.start != b.start) return a.start < b.start;
    if (a.end != b.end) return a.end > b.end;
    if (a.scope != b.scope) return a.scope;  // a scope encloses a definition on the same node
    if (a.pattern != b.pattern) return a.pattern < b.pattern;
    if (a.name_start != b.name_start) return a.name_start < b.name_start;
    if (a.name_end != b.name_end) return a.name_end < b.name_end;
    if (a.kind != b.kind) return a.kind < b.kind;
    if (a.explicit_container != b.explicit_container) return a.explicit_container < b.explicit_container;
    return std::less<const void*>()(a.node.id, b.node.id);
  });
}

// A definition as offsets into Extraction::text, which still grows.
struct Pending {
  size_t name_off, name_len, cont_off, cont_len, sig_off, sig_len;
  Kind kind;
  query::Range range, selection;
};

// Resolves nesting over the sorted definitions: each one's container chain (the enclosing
// definition's qualified name, or the file's package) and its final kind. Names, containers and
// signatures are appended to `text`.
class Nesting {
 public:
  Nesting(const grammars::LanguageSpec& spec, Language lang, std::string_view src, std::string& text, std::string_view package)
      : spec_(spec), lang_(lang), src_(src), text_(text), package_off_(text.size()) {
    if (!package.empty()) {
      append_clean_container(text_, package);
      package_len_ = text_.size() - package_off_;
    }
  }

  void add(const RawDef& d) {
    if (prev_ && prev_->start == d.start && prev_->end == d.end && prev_->scope == d.scope && ts_node_eq(prev_->node, d.node))
      return;  // same node: a later pattern, or the same match again
    prev_ = &d;
    while (!stack_.empty() && stack_.back().end <= d.start) stack_.pop_back();
    const Open* parent = parent_of(d);
    auto [cont_off, cont_len] = container_of(d, parent);
    std::string_view name = symbol_name(d, src_);
    // Qualified name of this definition, for its children.
    size_t qual_off = text_.size();
    if (cont_len) {
      text_.append(text_, cont_off, cont_len);
      text_.append(spec_.separator);
    }
    text_.append(name);
    size_t qual_len = text_.size() - qual_off;
    if (d.scope) {
      stack_.push_back({d.end, qual_off, qual_len, Kind::Class, true});
      return;
    }
    Pending p{};
    p.name_off = qual_off + qual_len - name.size();
    p.name_len = name.size();
    p.cont_off = cont_off;
    p.cont_len = cont_len;
    p.sig_off = text_.size();
    append_signature(text_, d.node, src_);
    p.sig_len = text_.size() - p.sig_off;
    p.kind = kind_of(d, parent, name);
    p.range = {point(ts_node_start_point(d.node)), point(ts_node_end_point(d.node))};
    p.selection = {point(ts_node_start_point(d.name)), point(ts_node_end_point(d.name_last))};
    pending_.push_back(p);
    stack_.push_back({d.end, qual_off, qual_len, p.kind, false});
  }

  std::vector<Pending> take() { return std::move(pending_); }

 private:
  struct Open {
    uint32_t end;
    size_t qual_off, qual_len;  // this definition's qualified name in text
    Kind kind;
    bool scope;
  };

  // A field assigned inside a method (Python's self.x in __init__) belongs to the type that holds
  // the method, and a field nested in a field (C's "int x, y;", an anonymous union's members) to
  // the type that holds that; other parents (an enum variant) keep their fields.
  const Open* parent_of(const RawDef& d) const {
    const Open* parent = stack_.empty() ? nullptr : &stack_.back();
    if (parent && is_member(d.kind) && !d.scope) {
      size_t k = stack_.size() - 1;
      while (k > 0 && !stack_[k].scope && (is_callable(stack_[k].kind) || is_member(stack_[k].kind))) --k;
      parent = &stack_[k];
    }
    return parent;
  }

  // The container chain as (offset, length) in text.
  std::pair<size_t, size_t> container_of(const RawDef& d, const Open* parent) {
    size_t cont_off = package_off_, cont_len = package_len_;
    if (parent) cont_off = parent->qual_off, cont_len = parent->qual_len;
    // The C preprocessor knows no scopes (Rust's macro_rules! do).
    if (d.kind == Kind::Macro && !d.scope && (lang_ == Language::C || lang_ == Language::Cpp)) cont_len = 0;
    // A file's own namespace statement (PHP's `namespace App\Mail;`) is the package, not inside it.
    if (d.kind == Kind::Namespace && !parent) cont_len = 0;
    if (d.explicit_container.empty()) return {cont_off, cont_len};
    size_t off = text_.size();
    if (cont_len) {
      text_.append(text_, cont_off, cont_len);
      text_.append(spec_.separator);
    }
    append_clean_container(text_, d.explicit_container);
    return {off, text_.size() - off};
  }

  Kind kind_of(const RawDef& d, const Open* parent, std::string_view name) const {
    Kind kind = d.kind;
    bool in_type = parent && (parent->scope || is_type_like(parent->kind));
    if (kind == Kind::Function && in_type && d.explicit_container.empty()) kind = Kind::Method;
    if (kind == Kind::Function && !d.explicit_container.empty()) kind = Kind::Method;
    if ((kind == Kind::Method || kind == Kind::Function) && (in_type || !d.explicit_container.empty()) &&
        std::find(spec_.constructors.begin(), spec_.constructors.end(), name) != spec_.constructors.end())
      kind = Kind::Constructor;
    return kind;
  }

  const grammars::LanguageSpec& spec_;
  const Language lang_;
  const std::string_view src_;
  std::string& text_;
  const size_t package_off_;
  size_t package_len_ = 0;
  const RawDef* prev_ = nullptr;
  std::vector<Open> stack_;
  std::vector<Pending> pending_;
};

// Once out.text no longer grows: offsets become views.
void publish(Extraction& out, const std::vector<Pending>& pending, const std::vector<PendingImport>& imports) {
  std::string_view text = out.text;
  out.symbols.reserve(pending.size());
  for (const Pending& p : pending)
    out.symbols.push_back({text.substr(p.name_off, p.name_len), text.substr(p.cont_off, p.cont_len),
                           text.substr(p.sig_off, p.sig_len), p.kind, p.range, p.selection});
  out.imports.reserve(imports.size());
  for (const PendingImport& i : imports)
    out.imports.push_back({text.substr(i.spec_off, i.spec_len), text.substr(i.kind_off, i.kind_len), i.line});
}

}  // namespace

void Extractor::run(Language lang, std::string_view src, Extraction& out, TSTree** keep) {
  clear(out);
  const auto& spec = grammars::spec(lang);
  if (!spec.grammar || src.size() > UINT32_MAX) return;
  if (!ts_parser_set_language(parser_, spec.grammar())) {
    out.error = std::string(spec.name) + ": the grammar's ABI is not supported by this tree-sitter";
    return;
  }
  TSTree* old_tree = keep ? *keep : nullptr;
  // The parser reads C and C++ with export macros blanked (export_macros.h); everything else reads
  // the real text, at the same offsets.
  std::string_view parsed = src;
  if ((lang == Language::Cpp || lang == Language::C) && blank_export_macros(src, cursor_->blanked)) parsed = cursor_->blanked;
  TSTree* tree = parse_bounded(old_tree, parsed, &out);
  if (!tree) {
    if (old_tree) ts_tree_delete(old_tree);
    if (keep) *keep = nullptr;
    return;
  }
  // The tree is handed to `keep`, or freed; the old one is replaced either way.
  auto release = [&] {
    if (keep) {
      if (old_tree) ts_tree_delete(old_tree);
      *keep = tree;
    } else {
      ts_tree_delete(tree);
    }
  };
  const CompiledQuery& cq = compiled(lang);
  if (!cq.error.empty()) {
    ts_tree_delete(tree);
    out.error = cq.error;
    return;
  }
  TSNode root = ts_tree_root_node(tree);
  out.parse_errors = ts_node_has_error(root);

  auto& defs = cursor_->defs;
  defs.clear();
  std::vector<PendingImport> imports;
  Collected collected{defs, imports, out.text, {}};
  TSQueryCursor* qc = cursor_->cursor;
  ts_query_cursor_set_match_limit(qc, 2048);
  const bool at_roots = cq.roots.pinned && cq.cursor_roots.pinned && !whole_tree_;
  if ((!at_roots || cursor_only_ || !cq.matcher.handles_all()) && !ts_query(cq)) {
    ts_tree_delete(tree);  // tree-sitter's cursor is needed, and its compile failed
    out.error = cq.query_error;
    return;
  }
  if (at_roots) match_at_roots(qc, cursor_->scratch, cq, cursor_only_, root, src, cursor_->levels, collected);
  else run_query(qc, cq, root, UINT32_MAX, nullptr, src, collected);

  sort_definitions(defs);
  Nesting nesting(spec, lang, src, out.text, collected.package);
  for (const RawDef& d : defs) nesting.add(d);
  release();
  out.dropped_matches = collected.dropped;
  publish(out, nesting.take(), imports);
}

}  // namespace indexer::detail
