// check_command and analyze_command (preflight.h): what a command line would run, found in its
// bash syntax tree rather than by substring, and judged against the policy's command rules.
//
// Every `command` node anywhere in the tree is a command bash may run: in pipelines, lists,
// subshells, function bodies, `$(...)` and backticks (also inside strings and heredocs), process
// substitutions and redirections. Each one's words are unquoted where that is static text; then
// wrappers are peeled (sudo, env, xargs, nice, timeout, find -exec ...) and the strings shells and
// eval run (`sh -c STR`, `eval STR`, `trap STR`, `env -S STR`) are parsed in turn, nested up to
// kMaxShellDepth. A word that is an expansion cannot be judged: what it runs is Unknown.
// Cost: one parse of the line (and of each nested string), one pass over its nodes, all bounded.
#include <tree_sitter/api.h>

#include <time.h>

#include <algorithm>
#include <optional>
#include <set>

#include "sandbox/preflight.h"

extern "C" const TSLanguage* tree_sitter_bash();

namespace sandbox {

namespace {

using Kind = Invocation::Kind;

struct Word {
  std::string text;  // unquoted when static; as written when dynamic
  bool dynamic = false;
};

// Each child with its field name, through a cursor: ts_node_child(n, i) walks from the first child,
// which makes a loop over a command of 30,000 arguments quadratic.
template <class F>
void for_each_child(TSNode n, F&& f) {
  TSTreeCursor c = ts_tree_cursor_new(n);
  if (ts_tree_cursor_goto_first_child(&c)) do
      f(ts_tree_cursor_current_node(&c), ts_tree_cursor_current_field_name(&c));
    while (ts_tree_cursor_goto_next_sibling(&c));
  ts_tree_cursor_delete(&c);
}

// A dynamic word is kept for the reason only: its start. Nested substitutions are words inside
// words, and copying each whole would be quadratic.
std::string shown(std::string_view t) { return t.size() <= 80 ? std::string(t) : std::string(t.substr(0, 80)) + "..."; }

std::string_view text_of(TSNode n, std::string_view src) {
  uint32_t a = ts_node_start_byte(n), b = ts_node_end_byte(n);
  if (a > src.size() || b > src.size() || b < a) return {};
  return src.substr(a, b - a);
}

// Backslash escapes outside quotes: `\x` is x, a backslash-newline vanishes.
std::string unescape_word(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      ++i;
      if (s[i] == '\n') continue;
    }
    out += s[i];
  }
  return out;
}

// Inside double quotes a backslash escapes only $ ` " \ and newline.
std::string unescape_double(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && std::string_view("$`\"\\\n").find(s[i + 1]) != std::string_view::npos) {
      ++i;
      if (s[i] == '\n') continue;
    }
    out += s[i];
  }
  return out;
}

bool is_privileged(std::string_view n) { return n == "su" || n == "sudoedit"; }  // the rest are wrappers
bool is_shell(std::string_view n) {
  for (std::string_view s : {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "yash", "rbash"})
    if (n == s) return true;
  return false;
}
// Builtins that run no other program; allowed in every mode (a whitelist need not list `cd`).
bool is_plain_builtin(std::string_view n) {
  for (std::string_view s : {"cd", "pwd", "echo", "printf", "true", "false", "test", "[", ":", "export", "unset", "set", "shift",
                             "read", "local", "declare", "typeset", "readonly", "exit", "return", "break", "continue", "wait",
                             "pushd", "popd", "dirs", "umask", "type", "hash", "getopts", "let", "shopt", "ulimit", "alias", "unalias"})
    if (n == s) return true;
  return false;
}

// A wrapper's options: which short letters and long names take a value, how many words come
// between the options and the command (timeout's duration, flock's lock file), and whether
// NAME=VALUE words are skipped (env). `script`/`script_long` name the option whose value is itself
// a command line (env -S, flock -c); `joined`: the words after the options are one (watch runs
// them with sh -c). `privileged`: the wrapper runs its command as another user.
struct WrapperSpec {
  std::string_view name;
  std::string_view value_short;
  std::initializer_list<std::string_view> value_long;
  int positional = 0;
  bool assignments = false;
  char script = 0;
  std::string_view script_long = {};
  bool joined = false;
  bool privileged = false;
};
const WrapperSpec kWrappers[] = {
    {"env", "uCS", {"--unset", "--chdir", "--split-string"}, 0, true, 'S', "--split-string"},
    {"nice", "n", {"--adjustment"}},
    {"nohup", "", {}},
    {"timeout", "sk", {"--signal", "--kill-after"}, 1},
    {"time", "fo", {"--format", "--output"}},
    {"stdbuf", "ioe", {"--input", "--output", "--error"}},
    {"exec", "a", {}},
    {"command", "", {}},
    {"builtin", "", {}},
    {"coproc", "", {}},
    {"xargs", "adEILnPs", {"--arg-file", "--delimiter", "--eof", "--replace", "--max-lines", "--max-args", "--max-procs", "--max-chars"}},
    {"setsid", "", {}},
    {"ionice", "cnp", {"--class", "--classdata", "--pid"}},
    {"taskset", "", {}, 1},
    {"chrt", "", {}, 1},
    {"busybox", "", {}},
    {"unbuffer", "", {}},
    {"strace", "abeEIoOpPsSuUX", {"--output", "--signal", "--trace", "--user", "--string-limit"}},
    {"ltrace", "aAeEnopsSuxX", {"--output", "--user"}},
    {"valgrind", "", {}},  // its options are --opt=value
    {"fakeroot", "lsi", {"--lib", "--faked"}},
    {"prlimit", "p", {"--pid"}},
    {"flock", "wEc", {"--wait", "--timeout", "--conflict-exit-code", "--command"}, 1, false, 'c', "--command"},
    {"watch", "nd", {"--interval", "--differences"}, 0, false, 0, {}, true},
    {"sudo", "ugpCDhRTUrt", {"--user", "--group", "--prompt", "--close-from", "--chdir", "--host", "--chroot", "--command-timeout", "--other-user", "--role", "--type"}, 0, false, 0, {}, false, true},
    {"doas", "uC", {}, 0, false, 0, {}, false, true},
    {"pkexec", "", {"--user"}, 0, false, 0, {}, false, true},
    {"run0", "u", {"--user", "--unit", "--property", "--description", "--slice", "--chdir", "--setenv", "--nice"}, 0, false, 0, {}, false, true},
    {"runuser", "ugG", {"--user", "--group", "--supp-group"}, 0, false, 'c', "--command", false, true},
    {"setpriv", "", {"--reuid", "--regid", "--groups", "--inh-caps", "--ambient-caps", "--bounding-set", "--securebits", "--selinux-label", "--apparmor-profile"}, 0, false, 0, {}, false, true},
    {"chroot", "", {"--userspec", "--groups"}, 1, false, 0, {}, false, true},
};

const WrapperSpec* wrapper_spec(std::string_view name) {
  for (const auto& w : kWrappers)
    if (w.name == name) return &w;
  return nullptr;
}

std::string_view basename_of(std::string_view n) {
  size_t slash = n.rfind('/');
  return slash == std::string_view::npos ? n : n.substr(slash + 1);
}

bool valid_utf8(std::string_view s, size_t& bad) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size() || (len == 2 && c < 0xc2) || (len == 4 && c > 0xf4)) return bad = i, false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return bad = i, false;
    if (len == 3) {
      unsigned char d = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xe0 && d < 0xa0) || (c == 0xed && d >= 0xa0)) return bad = i, false;
    }
    if (len == 4) {
      unsigned char d = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xf0 && d < 0x90) || (c == 0xf4 && d >= 0x90)) return bad = i, false;
    }
    i += len;
  }
  return true;
}

class Analyzer {
 public:
  explicit Analyzer(CommandAnalysis& out) : out_(out), parser_(ts_parser_new()) { ts_parser_set_language(parser_, tree_sitter_bash()); }
  ~Analyzer() { ts_parser_delete(parser_); }
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  // Parses `src` (owned by the caller for the whole call) and records what it runs.
  void script(std::string_view src, int depth) {
    if (!out_.error.empty()) return;
    if (depth > kMaxShellDepth) return fail("shells nested deeper than " + std::to_string(kMaxShellDepth) + " levels");
    if (src.find('\0') != std::string_view::npos)
      return fail("a NUL byte at offset " + std::to_string(src.find('\0')) + " (a command line cannot hold one)");
    size_t bad = 0;
    if (!valid_utf8(src, bad)) return fail("invalid UTF-8 at byte " + std::to_string(bad));
    // tree-sitter's error recovery is superlinear on some broken input (`a=(` repeated: 0.7 s for
    // 8 KB, minutes for 128 KB), and what it costs between two progress callbacks is not counted
    // in operations, so the budget is this thread's CPU time, checked at each callback.
    TSInput input{&src,
                  [](void* payload, uint32_t offset, TSPoint, uint32_t* read) -> const char* {
                    auto* text = static_cast<std::string_view*>(payload);
                    *read = offset < text->size() ? uint32_t(text->size() - offset) : 0;
                    return *read ? text->data() + offset : "";
                  },
                  TSInputEncodingUTF8, nullptr};
    TSParseOptions options{this, [](TSParseState* state) { return static_cast<Analyzer*>(state->payload)->over_budget(); }};
    TSTree* tree = ts_parser_parse_with_options(parser_, nullptr, input, options);
    if (!tree)
      return fail("too costly to parse (over " + std::to_string(kMaxParseMicros / 1000) + " ms of CPU; bash syntax this broken is not judged)");
    TSNode root = ts_tree_root_node(tree);
    if (ts_node_has_error(root)) {
      fail(syntax_error(root, src));
    } else {
      std::set<std::string> functions;
      walk(root, src, depth, functions);
    }
    ts_tree_delete(tree);
  }

 private:
  void fail(std::string why) {
    if (out_.error.empty()) out_.error = std::move(why);
  }
  void record(std::string name, Kind kind) {
    if (name.size() > 200) name = name.substr(0, 200) + "...";
    out_.commands.push_back({std::move(name), kind});
  }

  // The first ERROR or MISSING node, as a person would want it said.
  std::string syntax_error(TSNode root, std::string_view src) {
    TSTreeCursor c = ts_tree_cursor_new(root);
    std::string why = "not valid bash";
    for (size_t visited = 0; visited < kMaxCommandNodes; ++visited) {
      TSNode n = ts_tree_cursor_current_node(&c);
      if (ts_node_is_missing(n)) {
        why = "not valid bash: '" + std::string(ts_node_type(n)) + "' missing at byte " + std::to_string(ts_node_start_byte(n));
        break;
      }
      if (ts_node_is_error(n)) {
        std::string_view t = text_of(n, src).substr(0, 20);
        why = "not valid bash at byte " + std::to_string(ts_node_start_byte(n)) + " ('" + std::string(t) +
              "'; an unterminated quote, bracket or heredoc?)";
        break;
      }
      if (ts_node_has_error(n) && ts_tree_cursor_goto_first_child(&c)) continue;
      while (!ts_tree_cursor_goto_next_sibling(&c))
        if (!ts_tree_cursor_goto_parent(&c)) goto done;
    }
  done:
    ts_tree_cursor_delete(&c);
    return why;
  }

  // Every node, depth first without recursion (deeply nested input is fuzzed).
  void walk(TSNode root, std::string_view src, int depth, std::set<std::string>& functions) {
    TSTreeCursor c = ts_tree_cursor_new(root);
    while (out_.error.empty()) {
      if (++nodes_ > kMaxCommandNodes) {
        fail("more than " + std::to_string(kMaxCommandNodes) + " syntax nodes");
        break;
      }
      TSNode n = ts_tree_cursor_current_node(&c);
      std::string_view type = ts_node_type(n);
      if (type == "function_definition") {
        TSNode name = ts_node_child_by_field_name(n, "name", 4);
        if (!ts_node_is_null(name)) functions.insert(std::string(text_of(name, src)));
      } else if (type == "redirected_statement") {
        redirected(n, src);
      } else if (type == "command") {
        command(n, src, depth, functions);
      }
      if (ts_tree_cursor_goto_first_child(&c)) continue;
      bool more = true;
      while (more && !ts_tree_cursor_goto_next_sibling(&c)) more = ts_tree_cursor_goto_parent(&c);
      if (!more) break;
    }
    ts_tree_cursor_delete(&c);
  }

  Word word(TSNode n, std::string_view src) {
    std::string_view type = ts_node_type(n), t = text_of(n, src);
    if (type == "word" || type == "number") return {unescape_word(t), false};
    if (type == "raw_string") return {std::string(t.substr(1, t.size() >= 2 ? t.size() - 2 : 0)), false};
    if (type == "string" || type == "translated_string") {
      bool plain = true;
      for_each_child(n, [&](TSNode c, const char*) {
        plain = plain && (!ts_node_is_named(c) || std::string_view(ts_node_type(c)) == "string_content");
      });
      size_t open = t.find('"');
      if (!plain || open == std::string_view::npos || t.size() < open + 2) return {shown(t), true};
      return {unescape_double(t.substr(open + 1, t.size() - open - 2)), false};
    }
    if (type == "ansi_c_string") {  // $'\x73udo' decodes to anything: static only without escapes
      if (t.find('\\') != std::string_view::npos || t.size() < 3) return {shown(t), true};
      return {std::string(t.substr(2, t.size() - 3)), false};
    }
    if (type == "concatenation") {
      Word w;
      for_each_child(n, [&](TSNode c, const char*) {
        if (w.dynamic) return;
        Word part = word(c, src);
        w.dynamic = part.dynamic;
        w.text += part.text;
      });
      if (w.dynamic) w.text = shown(t);
      return w;
    }
    return {shown(t), true};  // expansions, substitutions, brace expressions, globs
  }

  void command(TSNode n, std::string_view src, int depth, const std::set<std::string>& functions) {
    std::vector<Word> words;
    std::optional<Word> input;  // what a shell without -c reads: a here-string, or the heredoc
    for_each_child(n, [&](TSNode c, const char* field) {
      std::string_view f = field ? field : "";
      if (f == "name") {
        if (ts_node_named_child_count(c) == 1) c = ts_node_named_child(c, 0);
        words.insert(words.begin(), word(c, src));
      } else if (f == "argument") {
        words.push_back(word(c, src));
      } else if (std::string_view(ts_node_type(c)) == "herestring_redirect" && ts_node_named_child_count(c) > 0) {
        input = word(ts_node_named_child(c, ts_node_named_child_count(c) - 1), src);
      }
    });
    if (words.empty() || ts_node_is_null(ts_node_child_by_field_name(n, "name", 4))) return;  // assignments, redirections
    if (heredoc_for_.id && heredoc_for_.id == n.id) input = heredoc_;
    run(words, 0, depth, functions, input ? &*input : nullptr);
  }

  // A redirected statement's heredoc, for the command that is its body (visited next).
  void redirected(TSNode n, std::string_view src) {
    TSNode body{};
    bool found = false;
    for_each_child(n, [&](TSNode c, const char* field) {
      std::string_view f = field ? field : "";
      if (f == "body" && std::string_view(ts_node_type(c)) == "command") body = c;
      if (std::string_view(ts_node_type(c)) != "heredoc_redirect") return;
      for_each_child(c, [&](TSNode b, const char*) {
        if (std::string_view(ts_node_type(b)) != "heredoc_body") return;
        heredoc_ = Word{std::string(text_of(b, src)), false};  // expansions in it judged as written
        found = true;
      });
    });
    heredoc_for_ = found ? body : TSNode{};
  }

  // What words[i...] runs, wrappers peeled one after the other.
  void run(const std::vector<Word>& words, size_t i, int depth, const std::set<std::string>& functions, const Word* input = nullptr) {
    if (depth > kMaxShellDepth) return fail("commands nested deeper than " + std::to_string(kMaxShellDepth) + " levels");
    while (i < words.size() && out_.error.empty()) {
      const Word& w = words[i];
      if (w.dynamic) return record(w.text, Kind::Unknown);
      if (w.text.empty()) return record("''", Kind::Unknown);
      if (w.text.find_first_of("*?[") != std::string::npos && w.text != "[") return record(w.text, Kind::Unknown);
      std::string_view base = basename_of(w.text);
      if (functions.count(w.text)) return record(w.text, Kind::Function);
      if (base == "su") {  // su [options] [user] [-c CMD]: a login shell unless -c
        record(w.text, Kind::Privileged);
        for (size_t j = i + 1; j < words.size(); ++j) {
          if (words[j].text.starts_with("--command=")) return nested({words[j].text.substr(10), words[j].dynamic}, depth);
          if ((words[j].text == "-c" || words[j].text == "--command") && j + 1 < words.size()) return nested(words[j + 1], depth);
        }
        return;
      }
      if (const WrapperSpec* spec = wrapper_spec(base)) {
        record(w.text, spec->privileged ? Kind::Privileged : Kind::Wrapper);
        size_t j = i + 1;
        while (j < words.size()) {
          const Word& a = words[j];
          if (a.dynamic) break;
          std::string_view s = a.text;
          if (s == "--") {
            ++j;
            break;
          }
          if (spec->assignments && s.find('=') != std::string_view::npos && s[0] != '-' && s[0] != '=') {
            ++j;
            continue;
          }
          if (s.starts_with("--")) {
            size_t eq = s.find('=');
            std::string_view opt = s.substr(0, eq);
            if (!spec->script_long.empty() && opt == spec->script_long) {
              if (eq != std::string_view::npos) return nested({std::string(s.substr(eq + 1)), false}, depth);
              return j + 1 < words.size() ? nested(words[j + 1], depth) : void();
            }
            bool takes = std::find(spec->value_long.begin(), spec->value_long.end(), opt) != spec->value_long.end();
            j += takes && eq == std::string_view::npos ? 2 : 1;
            continue;
          }
          if (s.size() > 1 && s[0] == '-') {
            size_t skip = 1;
            for (size_t k = 1; k < s.size(); ++k) {
              if (spec->value_short.find(s[k]) == std::string_view::npos) continue;
              if (spec->script && s[k] == spec->script) {
                if (k + 1 < s.size()) return nested({std::string(s.substr(k + 1)), false}, depth);
                return j + 1 < words.size() ? nested(words[j + 1], depth) : void();
              }
              if (k + 1 == s.size()) skip = 2;  // the value is the next word
              break;
            }
            j += skip;
            continue;
          }
          break;
        }
        i = std::min(j + size_t(spec->positional), words.size());
        // flock LOCK -c CMD: the script option may follow the positional word
        if (spec->script && i + 1 < words.size() &&
            (words[i].text == std::string{'-', spec->script} || (!spec->script_long.empty() && words[i].text == spec->script_long)))
          return nested(words[i + 1], depth);
        if (spec->joined && i < words.size()) {
          std::string joined;
          for (size_t k = i; k < words.size(); ++k) {
            if (words[k].dynamic) return record(words[k].text, Kind::Unknown);
            joined += (k > i ? " " : "") + words[k].text;
          }
          return nested({joined, false}, depth);
        }
        continue;
      }
      if (is_privileged(base)) return record(w.text, Kind::Privileged);
      if (is_shell(base)) {
        // sh [options] -c STRING [name [args]]: the first word after the options is the script.
        bool has_c = false;
        size_t j = i + 1;
        for (; j < words.size() && !words[j].dynamic; ++j) {
          std::string_view s = words[j].text;
          if (s == "-o" || s == "+o" || s == "-O" || s == "+O" || s == "--rcfile" || s == "--init-file") {
            ++j;
            continue;
          }
          if (s == "--") {
            ++j;
            break;
          }
          if (s.starts_with("--")) {
            has_c = has_c || s == "--command";
            continue;
          }
          if (s.size() > 1 && (s[0] == '-' || s[0] == '+')) {
            has_c = has_c || (s[0] == '-' && s.find('c') != std::string_view::npos);
            continue;
          }
          break;
        }
        if (!has_c && input && j >= words.size()) {  // sh <<EOF ... EOF, bash <<< 'cmd'
          record(w.text, Kind::Wrapper);
          return nested(*input, depth);
        }
        if (!has_c) return record(w.text, Kind::Program);  // runs a file or a standard input not in the line
        record(w.text, Kind::Wrapper);
        if (j >= words.size()) return;
        return nested(words[j], depth);
      }
      if (base == "eval") {
        record(w.text, Kind::Wrapper);
        std::string joined;
        for (size_t j = i + 1; j < words.size(); ++j) {
          if (words[j].dynamic) return record(words[j].text, Kind::Unknown);
          joined += (j > i + 1 ? " " : "") + words[j].text;
        }
        return nested({joined, false}, depth);
      }
      if (base == "trap") {  // trap 'CMD' SIGNAL...: CMD runs later
        record(w.text, Kind::Builtin);
        size_t j = i + 1;
        if (j < words.size() && words[j].text == "--") ++j;
        if (j + 1 < words.size() && !words[j].text.starts_with("-")) return nested(words[j], depth);
        return;
      }
      if (base == "find") {  // find ... -exec CMD ... ; (or +), also -execdir, -ok, -okdir
        record(w.text, Kind::Program);
        for (size_t j = i + 1; j < words.size(); ++j) {
          std::string_view s = words[j].text;
          if (words[j].dynamic || (s != "-exec" && s != "-execdir" && s != "-ok" && s != "-okdir")) continue;
          std::vector<Word> sub;
          for (++j; j < words.size() && words[j].text != ";" && words[j].text != "+"; ++j) sub.push_back(words[j]);
          run(sub, 0, depth + 1, functions);
        }
        return;
      }
      return record(w.text, is_plain_builtin(w.text) ? Kind::Builtin : Kind::Program);
    }
  }

  // A string a shell, eval, trap or env -S runs: a command line of its own.
  void nested(const Word& w, int depth) {
    if (w.dynamic) return record(w.text, Kind::Unknown);
    std::string copy = w.text;  // the tree points into it while it is walked
    script(copy, depth + 1);
  }

  static uint64_t cpu_micros() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000 + uint64_t(ts.tv_nsec) / 1000;
  }
  bool over_budget() const { return cpu_micros() > deadline_; }

  CommandAnalysis& out_;
  TSParser* parser_;
  size_t nodes_ = 0;
  TSNode heredoc_for_{};  // the command redirected() found a heredoc for, and the heredoc
  Word heredoc_;
  uint64_t deadline_ = cpu_micros() + kMaxParseMicros;  // for every parse of one command line
};

bool matches(std::string_view entry, std::string_view name, bool allowing) {
  if (entry.starts_with('/')) return entry == name;
  std::string_view base = basename_of(name);
  if (base != entry) return false;
  if (!allowing) return true;  // a blocked name is blocked wherever it lives
  // An allowed name is what PATH finds: not ./git or tools/git that a workspace could hold.
  if (name.find('/') == std::string_view::npos) return true;
  std::string_view dir = name.substr(0, name.size() - base.size() - 1);
  for (std::string_view d : {"/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"})
    if (dir == d) return true;
  return false;
}

}  // namespace

CommandAnalysis analyze_command(std::string_view line) {
  CommandAnalysis out;
  if (line.size() > kMaxCommandLine) {
    out.error = "the command line is " + std::to_string(line.size()) + " bytes; at most " + std::to_string(kMaxCommandLine) + " are judged";
    return out;
  }
  Analyzer(out).script(line, 0);
  if (!out.error.empty()) out.commands.clear();
  return out;
}

std::vector<std::string> commands_of(std::string_view line) {
  std::vector<std::string> names;
  for (auto& c : analyze_command(line).commands) names.push_back(std::move(c.name));
  return names;
}

Decision check_command(const Policy& policy, std::string_view line) {
  CommandAnalysis a = analyze_command(line);
  if (!a.error.empty()) return {false, "cannot be judged: " + a.error};
  const auto& rules = policy.commands;
  std::string ran;
  for (const auto& c : a.commands) {
    const std::string& n = c.name;
    if (c.kind == Kind::Privileged && !rules.allow_sudo) return {false, "'" + n + "' runs commands as another user (commands.allow_sudo is off)"};
    if (c.kind == Kind::Unknown && rules.mode != CommandMode::Unrestricted)
      return {false, "'" + n + "' is an expansion: what it runs cannot be judged (allowed only when commands.mode is unrestricted)"};
    if (rules.mode != CommandMode::Unrestricted && c.kind != Kind::Unknown)
      for (const auto& b : rules.blocked_commands)
        if (matches(b, n, false)) return {false, "'" + n + "' is in commands.blocked_commands"};
    if (rules.mode == CommandMode::Whitelist && c.kind == Kind::Program &&
        std::none_of(rules.allowed_commands.begin(), rules.allowed_commands.end(), [&](const auto& e) { return matches(e, n, true); }))
      return {false, "'" + n + "' is not in commands.allowed_commands"};
    if (ran.size() < 200) ran += (ran.empty() ? "" : ", ") + n;
  }
  if (a.commands.empty()) return {true, "runs nothing"};
  static constexpr const char* kMode[] = {"whitelist", "blacklist", "unrestricted"};
  return {true, "runs " + ran + " (commands.mode " + kMode[size_t(rules.mode)] + ")"};
}

}  // namespace sandbox
