#include "sandbox/tasks.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "indexer/confine.h"
#include "sandbox/preflight.h"

namespace sandbox::tasks {
namespace {

namespace fs = std::filesystem;
namespace confine = indexer::confine;

Failure refused(ViolationKind kind, std::string subject, std::string reason, std::string_view source) {
  record_violation(kind, subject, reason, source);
  return {Failure::Code::Refused, std::move(reason), kind, std::move(subject)};
}
Failure failed(Failure::Code code, std::string message) {
  Failure f;
  f.code = code;
  f.message = std::move(message);
  return f;
}
Failure bad(std::string message) { return failed(Failure::Code::BadArgs, std::move(message)); }

// `path` against `base` (unless absolute), `..` folded, no trailing slash.
std::string absolute_from(const std::string& base, std::string_view path) {
  fs::path p(path.empty() ? std::string_view(".") : path);
  if (p.is_relative()) p = fs::path(base) / p;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// `path` below `dir` (or equal): the rest, "" for equal; nullopt when outside.
std::optional<std::string> below(const std::string& path, const std::string& dir) {
  if (path == dir) return std::string();
  if (dir == "/") return path.substr(1);
  if (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/') return path.substr(dir.size() + 1);
  return std::nullopt;
}

// The area holding `abs` (the narrowest), and the path relative to its base.
struct Located {
  const Area* area = nullptr;
  std::string rel;  // relative to area->base
  std::string abs;
};

std::string areas_text(const Scope& s) {
  std::string out;
  for (const auto& a : s.areas) out += (out.empty() ? "" : ", ") + a.path();
  return out.empty() ? "none" : out;
}

Done<Located> locate(const Scope& s, std::string_view path, Access access, std::string_view source) {
  if (path.find('\0') != std::string_view::npos) return bad("the path holds a NUL byte");
  Located l;
  l.abs = absolute_from(s.cwd, path);
  // The preflight first: it names the rule (a secret, protected metadata, a link out, outside).
  if (Decision d = check_path(s.policy, s.workspace, l.abs, access); !d.allowed) return refused(ViolationKind::Path, l.abs, d.reason, source);
  size_t best = 0;
  for (const auto& a : s.areas) {
    auto rel = below(l.abs, a.path());
    if (!rel || (access == Access::Write && !a.writable)) continue;
    if (!l.area || a.path().size() > best) {
      l.area = &a;
      best = a.path().size();
      l.rel = *below(l.abs, a.base);
    }
  }
  if (!l.area) {
    std::string why = l.abs + " is outside the task's " + (access == Access::Write ? "writable " : "") + "paths (" + areas_text(s) + ")";
    return refused(ViolationKind::Path, l.abs, why, source);
  }
  return l;
}

// A refused open's answer: links and escapes are refusals, the rest errors.
Failure open_failure(const confine::Opened& o, const std::string& abs, std::string_view source) {
  switch (o.refusal) {
    case confine::Refusal::Symlink:
      return refused(ViolationKind::Path, abs, abs + ": a symbolic link is on the path (links are not followed)", source);
    case confine::Refusal::Outside: return refused(ViolationKind::Path, abs, abs + ": outside its area", source);
    case confine::Refusal::NotFound: return failed(Failure::Code::NotFound, abs + ": no such file or directory");
    default: return failed(Failure::Code::Io, abs + ": " + std::strerror(o.error ? o.error : EIO));
  }
}

Failure io_failure(const std::string& abs, int error) {
  if (error == ENOENT || error == ENOTDIR) return failed(Failure::Code::NotFound, abs + ": no such file or directory");
  return failed(Failure::Code::Io, abs + ": " + std::strerror(error));
}

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    s.remove_prefix(size_t(n));
  }
  return true;
}

// Reads at most `cap` bytes of an open file.
bool read_some(int fd, uint64_t cap, std::string& out) {
  char buf[65536];
  while (out.size() < cap) {
    ssize_t n = ::read(fd, buf, size_t(std::min<uint64_t>(sizeof buf, cap - out.size())));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  return true;
}

}  // namespace

std::string_view code_name(Failure::Code code) {
  switch (code) {
    case Failure::Code::Refused: return "refused";
    case Failure::Code::BadArgs: return "bad_args";
    case Failure::Code::NotFound: return "not_found";
    case Failure::Code::Io: return "io_error";
    case Failure::Code::NoCommand: return "no_command";
  }
  return "bad_args";
}

Done<Scope> narrow(const Policy& policy, const std::string& workspace, const TaskContext& context, std::string_view source) {
  Scope s{policy, workspace, {}, {}, {}};
  // The policy's own areas, where file operations may act at most.
  std::vector<Area> areas;
  areas.push_back({workspace, "", policy.filesystem.mode != FsMode::Strict});
  for (const auto& p : policy.filesystem.writable_paths) areas.push_back({p, "", true});
  for (const auto& p : policy.filesystem.allowed_paths) areas.push_back({p, "", false});
  if (context.allowed_paths) {
    // The intersection: a context path inside an area narrows it; an area inside a context
    // path stays as it is; anything else is dropped.
    std::vector<Area> kept;
    for (const auto& raw : *context.allowed_paths) {
      if (raw.empty() || raw.find('\0') != std::string::npos) return bad("context.allowed_paths: an empty path or a NUL byte");
      std::string c = absolute_from(workspace, raw);
      bool any = false;
      for (const auto& a : areas) {
        if (auto rel = below(c, a.base)) kept.push_back({a.base, *rel, a.writable}), any = true;
        else if (below(a.base, c)) kept.push_back(a), any = true;
      }
      if (!any) record_violation(ViolationKind::Path, c, c + ": context.allowed_paths asked for a path outside the policy (dropped)", source);
    }
    areas = std::move(kept);
  }
  s.areas = std::move(areas);
  s.cwd = absolute_from(workspace, context.working_dir);
  // Without a working_dir, the workspace; when the context left it out, the first area left.
  if (context.working_dir.empty() && !s.areas.empty() &&
      std::none_of(s.areas.begin(), s.areas.end(), [&](const Area& a) { return bool(below(s.cwd, a.path())); }))
    s.cwd = s.areas.front().path();
  bool inside = std::any_of(s.areas.begin(), s.areas.end(), [&](const Area& a) { return bool(below(s.cwd, a.path())); });
  if (!inside) return refused(ViolationKind::Path, s.cwd, "working_dir " + s.cwd + " is outside the task's paths (" + areas_text(s) + ")", source);
  for (const auto& e : context.env) {
    size_t eq = e.find('=');
    if (eq == 0 || eq == std::string::npos || e.find('\0') != std::string::npos) return bad("context.env: '" + e + "' is not KEY=VALUE");
  }
  s.env = context.env;
  if (context.timeout_ms) s.policy.limits.wall_ms = std::min(s.policy.limits.wall_ms, context.timeout_ms);
  // What runs see: the areas outside the workspace, read-only or writable as they are.
  s.policy.filesystem.allowed_paths.clear();
  s.policy.filesystem.writable_paths.clear();
  for (const auto& a : s.areas) {
    if (below(a.path(), workspace)) continue;
    (a.writable ? s.policy.filesystem.writable_paths : s.policy.filesystem.allowed_paths).push_back(a.path());
  }
  return s;
}

namespace {

// A path located, then opened for reading beneath its area's root.
struct OpenedPath {
  confine::Fd fd;
  std::string abs;
};
Done<OpenedPath> open_for_reading(const Scope& scope, std::string_view path, int flags, std::string_view source) {
  auto l = locate(scope, path, Access::Read, source);
  if (auto* f = std::get_if<Failure>(&l)) return *f;
  const Located& at = std::get<Located>(l);
  auto root = confine::open_root(at.area->base);
  if (!root) return open_failure(root, at.area->base, source);
  auto opened = confine::open_beneath(root.fd.get(), at.rel, flags);
  if (!opened) return open_failure(opened, at.abs, source);
  return OpenedPath{std::move(opened.fd), at.abs};
}

}  // namespace

Done<FileRead> read_file(const Scope& scope, std::string_view path, uint64_t max_bytes, std::string_view source) {
  auto opened = open_for_reading(scope, path, O_RDONLY | O_NONBLOCK, source);
  if (auto* f = std::get_if<Failure>(&opened)) return *f;
  const auto& file = std::get<OpenedPath>(opened);
  struct stat st {};
  if (::fstat(file.fd.get(), &st) != 0) return io_failure(file.abs, errno);
  if (!S_ISREG(st.st_mode)) return bad(file.abs + ": not a regular file");
  FileRead out{file.abs, {}, uint64_t(st.st_size), false};
  uint64_t cap = std::min(max_bytes ? max_bytes : kMaxReadBytes, kMaxReadBytes);
  if (!read_some(file.fd.get(), cap, out.content)) return io_failure(file.abs, errno);
  out.truncated = out.content.size() < out.size;
  return out;
}

Done<FileWritten> write_file(const Scope& scope, std::string_view path, std::string_view content, bool create_dirs, std::string_view source) {
  if (content.size() > kMaxWriteBytes) return bad("content is " + std::to_string(content.size()) + " bytes; fs.write takes at most 16 MiB");
  auto l = locate(scope, path, Access::Write, source);
  if (auto* f = std::get_if<Failure>(&l)) return *f;
  const Located& at = std::get<Located>(l);
  if (at.rel.empty() || below(at.abs, at.area->path()) == std::string()) return bad(at.abs + ": is the root of its area");
  auto root = confine::open_root(at.area->base);
  if (!root) return open_failure(root, at.area->base, source);
  size_t slash = at.rel.rfind('/');
  std::string dir = slash == std::string::npos ? "" : at.rel.substr(0, slash), name = at.rel.substr(slash + 1);
  auto parent = confine::open_beneath(root.fd.get(), dir, O_RDONLY | O_DIRECTORY);
  if (!parent && parent.refusal == confine::Refusal::NotFound && create_dirs) {
    // Made one component at a time, each opened with O_NOFOLLOW from the last.
    confine::Fd at_fd(::dup(root.fd.get()));
    size_t from = 0;
    while (from <= dir.size()) {
      size_t end = dir.find('/', from);
      if (end == std::string::npos) end = dir.size();
      std::string part = dir.substr(from, end - from);
      if (::mkdirat(at_fd.get(), part.c_str(), 0755) != 0 && errno != EEXIST) return io_failure(at.abs, errno);
      int next = ::openat(at_fd.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0)
        return errno == ELOOP || errno == ENOTDIR ? refused(ViolationKind::Path, at.abs, at.abs + ": a symbolic link is on the path (links are not followed)", source)
                                                  : io_failure(at.abs, errno);
      at_fd = confine::Fd(next);
      from = end + 1;
    }
    parent = confine::Opened{std::move(at_fd)};
  }
  if (!parent) return open_failure(parent, at.abs, source);
  // The target as it is now: a link or a file with other names is not written through.
  struct stat st {};
  bool exists = ::fstatat(parent.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && S_ISLNK(st.st_mode)) return refused(ViolationKind::Path, at.abs, at.abs + ": is a symbolic link (links are not written through)", source);
  if (exists && !S_ISREG(st.st_mode)) return bad(at.abs + ": not a regular file");
  if (exists && st.st_nlink > 1) return refused(ViolationKind::Path, at.abs, at.abs + ": has other hard links (not written)", source);
  static std::atomic<uint64_t> writes{0};  // concurrent writes of one file each get their own temporary
  std::string tmp = "." + name + ".indexer-" + std::to_string(::getpid()) + "-" + std::to_string(writes++) + ".tmp";
  int fd = ::openat(parent.fd.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, exists ? (st.st_mode & 07777) : 0644);
  if (fd < 0) return io_failure(at.abs, errno);
  confine::Fd owned(fd);
  if (!write_all(fd, content) || (exists && ::fchmod(fd, st.st_mode & 07777) != 0)) {
    int e = errno;
    ::unlinkat(parent.fd.get(), tmp.c_str(), 0);
    return io_failure(at.abs, e);
  }
  if (::renameat(parent.fd.get(), tmp.c_str(), parent.fd.get(), name.c_str()) != 0) {
    int e = errno;
    ::unlinkat(parent.fd.get(), tmp.c_str(), 0);
    return io_failure(at.abs, e);
  }
  return FileWritten{at.abs, content.size(), !exists};
}

Done<Listing> list_dir(const Scope& scope, std::string_view path, bool recursive, size_t max_entries, const std::atomic<bool>* cancel,
                       std::string_view source) {
  auto opened = open_for_reading(scope, path, O_RDONLY | O_DIRECTORY, source);
  if (auto* f = std::get_if<Failure>(&opened)) return *f;
  auto& top = std::get<OpenedPath>(opened);
  Listing out{top.abs, {}, false};
  size_t cap = std::min(max_entries ? max_entries : kMaxListEntries, kMaxListEntries);
  const bool hidden = scope.policy.filesystem.allow_hidden_files;
  // Directories still to read: a descriptor each, opened from its parent with O_NOFOLLOW.
  std::vector<std::pair<confine::Fd, std::string>> todo;
  todo.emplace_back(std::move(top.fd), "");
  while (!todo.empty() && !out.truncated) {
    if (cancel && cancel->load()) break;
    auto [dfd, prefix] = std::move(todo.back());
    todo.pop_back();
    DIR* d = ::fdopendir(::dup(dfd.get()));
    if (!d) continue;
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      if (!hidden && n[0] == '.') continue;
      if (out.entries.size() >= cap) {
        out.truncated = true;
        break;
      }
      struct stat st {};
      Entry en{prefix.empty() ? std::string(n) : prefix + "/" + std::string(n), 'o', 0};
      if (::fstatat(dfd.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        en.type = S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : 'o';
        en.size = S_ISREG(st.st_mode) ? uint64_t(st.st_size) : 0;
      }
      if (recursive && en.type == 'd') {
        int sub = ::openat(dfd.get(), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) todo.emplace_back(confine::Fd(sub), en.path);
      }
      out.entries.push_back(std::move(en));
    }
    ::closedir(d);
  }
  std::sort(out.entries.begin(), out.entries.end(), [](const Entry& a, const Entry& b) { return a.path < b.path; });
  return out;
}

std::string shell_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) {
    if (!line.empty()) line += ' ';
    line += '\'';
    for (char c : a) {
      if (c == '\'') line += "'\\''";
      else line += c;
    }
    line += '\'';
  }
  return line;
}

Done<Ran> run_command(const Scope& scope, const CommandSpec& spec, const Events& events, const std::atomic<bool>* cancel, std::string_view source) {
  if (spec.line.empty() == spec.argv.empty()) return bad("give a command line ('command') or its words ('argv'), one of them");
  Ran ran;
  ran.command = spec.argv.empty() ? spec.line : shell_line(spec.argv);
  if (ran.command.find('\0') != std::string::npos) return bad("the command holds a NUL byte");
  if (Decision d = check_command(scope.policy, ran.command); !d.allowed) return refused(ViolationKind::Command, ran.command, d.reason, source);
  // Runs start in the workspace, narrowed to the area that holds the working directory.
  std::string workspace;
  for (const auto& a : scope.areas)
    if (below(a.path(), scope.workspace) && below(scope.cwd, a.path()) && a.path().size() > workspace.size()) workspace = a.path();
  if (workspace.empty())
    return refused(ViolationKind::Path, scope.cwd, "commands run inside the workspace (" + scope.workspace + "), not in " + scope.cwd, source);
  if (workspace != scope.workspace) {
    // A narrowed workspace is mounted by its name: no link may be on the way to it.
    auto root = confine::open_root(scope.workspace);
    if (!root) return open_failure(root, scope.workspace, source);
    auto sub = confine::open_beneath(root.fd.get(), *below(workspace, scope.workspace), O_RDONLY | O_DIRECTORY);
    if (!sub) return open_failure(sub, workspace, source);
  }
  Policy policy = scope.policy;
  if (spec.timeout_ms) policy.limits.wall_ms = std::min(policy.limits.wall_ms, spec.timeout_ms);
  Command cmd;
  cmd.argv = spec.argv.empty() ? std::vector<std::string>{"/bin/sh", "-c", spec.line} : spec.argv;
  cmd.workspace = workspace;
  cmd.cwd = scope.cwd;
  cmd.env = scope.env;
  cmd.stdin_data = spec.stdin_data;
  RunOptions options;
  options.cancel = cancel;
  if (events.output) options.on_output = events.output;
  auto r = run(policy, cmd, options);
  if (!r) return failed(Failure::Code::Io, r.error());
  ran.outcome = std::move(*r);
  using K = Outcome::Kind;
  switch (ran.outcome.kind) {
    case K::Refused: record_violation(ViolationKind::Run, ran.command, ran.outcome.reason, source); break;
    case K::Timeout:
    case K::Memory:
    case K::Cpu:
    case K::FileSize: record_violation(ViolationKind::Limit, ran.command, ran.outcome.reason, source); break;
    default: break;
  }
  return ran;
}

namespace {

// A small file of the workspace, read as fs.read would (confined, no links); "" when absent.
std::string small_file(const Scope& scope, const std::string& dir, const char* name) {
  std::string abs = absolute_from(dir, name);
  for (const auto& a : scope.areas) {
    auto rel = below(abs, a.base);
    if (!rel || !below(abs, a.path())) continue;
    auto root = confine::open_root(a.base);
    if (!root) continue;
    auto f = confine::open_beneath(root.fd.get(), *rel, O_RDONLY | O_NONBLOCK);
    struct stat st {};
    if (!f || ::fstat(f.fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
    std::string text;
    read_some(f.fd.get(), 1 << 20, text);
    return text;
  }
  return "";
}

bool has_target(const std::string& makefile, std::string_view target) {
  size_t at = 0;
  while (at < makefile.size()) {
    size_t end = makefile.find('\n', at);
    std::string_view line(makefile.data() + at, (end == std::string::npos ? makefile.size() : end) - at);
    if (line.starts_with(target) && line.size() > target.size() && line[target.size()] == ':' &&
        (line.size() == target.size() + 1 || line[target.size() + 1] != '='))
      return true;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return false;
}

// pytest's "[ 45%]" at the end of a line of progress: the last one in a chunk.
int percent_in(std::string_view chunk) {
  int found = -1;
  for (size_t i = chunk.find('['); i != std::string_view::npos; i = chunk.find('[', i + 1)) {
    size_t j = i + 1;
    while (j < chunk.size() && chunk[j] == ' ') ++j;
    int v = 0, digits = 0;
    while (j < chunk.size() && chunk[j] >= '0' && chunk[j] <= '9' && digits < 3) v = v * 10 + (chunk[j++] - '0'), ++digits;
    if (digits && j + 1 < chunk.size() && chunk[j] == '%' && chunk[j + 1] == ']' && v <= 100)
      found = v;
  }
  return found;
}

}  // namespace

std::optional<Found> find_command(const Scope& scope, const std::string& dir, Check check) {
  const bool test = check == Check::Test;
  if (std::string pkg = small_file(scope, dir, "package.json"); !pkg.empty()) {
    auto j = nlohmann::json::parse(pkg, nullptr, false);
    if (j.is_object() && j.contains("scripts") && j["scripts"].is_object()) {
      const auto& scripts = j["scripts"];
      const char* name = test ? "test" : "lint";
      if (scripts.contains(name) && scripts[name].is_string()) {
        const std::string& body = scripts[name].get_ref<const std::string&>();
        // npm init's placeholder is not a test suite.
        if (!(test && body.find("no test specified") != std::string::npos))
          return Found{test ? "npm test" : "npm run lint", "package.json"};
      }
    }
  }
  std::string pyproject = small_file(scope, dir, "pyproject.toml");
  if (test) {
    if (pyproject.find("pytest") != std::string::npos || !small_file(scope, dir, "pytest.ini").empty() ||
        !small_file(scope, dir, "conftest.py").empty() || small_file(scope, dir, "setup.cfg").find("[tool:pytest]") != std::string::npos ||
        small_file(scope, dir, "tox.ini").find("[pytest]") != std::string::npos)
      return Found{"python3 -m pytest", pyproject.find("pytest") != std::string::npos ? "pyproject.toml" : "pytest configuration"};
  } else {
    if (pyproject.find("[tool.ruff") != std::string::npos || !small_file(scope, dir, "ruff.toml").empty())
      return Found{"ruff check .", pyproject.find("[tool.ruff") != std::string::npos ? "pyproject.toml" : "ruff.toml"};
    if (pyproject.find("[tool.flake8") != std::string::npos || !small_file(scope, dir, ".flake8").empty())
      return Found{"python3 -m flake8", ".flake8"};
  }
  if (!small_file(scope, dir, "Cargo.toml").empty()) return Found{test ? "cargo test" : "cargo clippy", "Cargo.toml"};
  if (!small_file(scope, dir, "go.mod").empty()) return Found{test ? "go test ./..." : "go vet ./...", "go.mod"};
  for (const char* name : {"GNUmakefile", "makefile", "Makefile"}) {
    std::string mk = small_file(scope, dir, name);
    if (mk.empty()) continue;
    if (test && has_target(mk, "test")) return Found{"make test", name};
    if (test && has_target(mk, "check")) return Found{"make check", name};
    if (!test && has_target(mk, "lint")) return Found{"make lint", name};
  }
  return std::nullopt;
}

Done<Ran> run_check(const Scope& scope, Check check, const std::string& given, const std::atomic<bool>* cancel, const Events& events,
                    std::string_view source, Found* found) {
  Found f{given, "given"};
  if (given.empty()) {
    auto detected = find_command(scope, scope.cwd, check);
    if (!detected)
      return failed(Failure::Code::NoCommand,
                     std::string("no ") + (check == Check::Test ? "test" : "lint") + " command found in " + scope.cwd +
                         " (looked at package.json scripts, pyproject.toml, pytest.ini, Cargo.toml, go.mod, Makefile): give one with 'command'");
    f = *detected;
  }
  if (found) *found = f;
  if (events.progress) events.progress(0);
  Events inner = events;
  int last = 0;
  inner.output = [&](int stream, std::string_view chunk) {
    if (events.output) events.output(stream, chunk);
    if (int p = percent_in(chunk); p > last && p < 100 && events.progress) events.progress(last = p);
  };
  auto r = run_command(scope, CommandSpec{f.command, {}, {}, 0}, inner, cancel, source);
  if (events.progress && std::holds_alternative<Ran>(r)) events.progress(100);
  return r;
}

}  // namespace sandbox::tasks
