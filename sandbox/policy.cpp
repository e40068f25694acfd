// Presets, and policies read from and written to JSON.
//
// Why nlohmann/json here, the one translation unit of sandbox/ that includes it (heavy headers are
// otherwise confined to server/): a policy must be read strictly, with duplicate keys and every
// type checked and each error naming its JSON path; indexer/config_json.h is deliberately tolerant
// (comments, trailing commas) and private to indexer/. A policy is read once per run, so the
// header's compile cost is paid once, and its parse cost never matters.
#include "sandbox/policy.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>

#include "sandbox/preflight.h"

namespace sandbox {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr size_t kMaxPolicyBytes = 1 << 20;

// The inverse of parse_quantity, exact: "30s", "1500ms", "512M", "1000".
std::string format_quantity(uint64_t v, bool time) {
  if (time) return v % 1000 == 0 ? std::to_string(v / 1000) + "s" : std::to_string(v) + "ms";
  const char* units = "KMGT";
  int u = -1;
  while (u < 3 && v != 0 && v % 1024 == 0) {
    v /= 1024;
    ++u;
  }
  return std::to_string(v) + (u < 0 ? "" : std::string(1, units[u]));
}

}  // namespace

Result<Policy> preset(std::string_view name) {
  Policy p;
  p.name = std::string(name);
  if (name == "workspace") return p;
  if (name == "strict") {
    p.filesystem.mode = FsMode::Strict;
    p.filesystem.allow_hidden_files = false;
    p.commands.mode = CommandMode::Whitelist;
    p.commands.allowed_commands = {"cat", "ls", "head", "tail", "wc", "grep", "rg", "find", "echo", "pwd",
                                   "true", "false", "test", "sort", "uniq", "cut", "diff", "stat", "file", "git"};
    p.limits.cpu_ms = 30'000;
    p.limits.wall_ms = 60'000;
    p.limits.memory_bytes = uint64_t(512) << 20;
    p.limits.processes = 64;
    p.limits.file_size_bytes = uint64_t(64) << 20;
    p.limits.open_files = 256;
    p.limits.tmp_bytes = uint64_t(64) << 20;
    return p;
  }
  if (name == "permissive") {
    p.filesystem.mode = FsMode::Permissive;
    p.filesystem.allow_symlinks = true;
    p.network.enabled = true;
    p.network.allowed_domains = {"*"};
    p.network.allow_http = true;
    p.commands.mode = CommandMode::Unrestricted;
    p.limits.cpu_ms = 600'000;
    p.limits.wall_ms = 1'800'000;
    p.limits.memory_bytes = uint64_t(8) << 30;
    p.limits.processes = 1024;
    p.limits.output_bytes = uint64_t(16) << 20;
    p.limits.tmp_bytes = uint64_t(1) << 30;
    return p;
  }
  return Error{"no preset '" + std::string(name) + "' (strict, workspace or permissive)"};
}

namespace {

// Reads one JSON document into a Policy; the first error, prefixed by its JSON path, wins.
class Reader {
 public:
  std::string error;

  bool fail(const std::string& path, const std::string& message) {
    if (error.empty()) error = path + ": " + message;
    return false;
  }

  // Every key of `object` must be one of `known`.
  bool known_fields(const json& object, const std::string& path, std::initializer_list<const char*> known) {
    for (const auto& [key, value] : object.items()) {
      bool found = false;
      for (const char* k : known) found = found || key == k;
      if (found) continue;
      std::string list;
      for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return fail(join(path, key), "unknown field (known: " + list + ")");
    }
    return true;
  }

  static std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

  static std::string type_name(const json& v) {
    if (v.is_number_float()) return "a fractional number";
    if (v.is_number()) return "a number";
    if (v.is_null()) return "null";
    return std::string("a") + (v.is_object() || v.is_array() ? "n " : " ") + v.type_name();
  }

  bool read_bool(const json& obj, const std::string& path, const char* key, bool& out) {
    auto it = obj.find(key);
    if (it == obj.end()) return true;
    if (!it->is_boolean()) return fail(join(path, key), "expected true or false, got " + type_name(*it));
    out = it->get<bool>();
    return true;
  }

  bool read_string(const json& obj, const std::string& path, const char* key, std::string& out) {
    auto it = obj.find(key);
    if (it == obj.end()) return true;
    if (!it->is_string()) return fail(join(path, key), "expected a string, got " + type_name(*it));
    out = it->get<std::string>();
    return true;
  }

  // One of `names` (the enum's values in order), into `out`.
  template <class E>
  bool read_enum(const json& obj, const std::string& path, const char* key, std::initializer_list<const char*> names, E& out) {
    auto it = obj.find(key);
    if (it == obj.end()) return true;
    std::string expected;
    size_t i = 0;
    for (const char* n : names) {
      expected += i == 0 ? "" : i + 1 == names.size() ? " or " : ", ";
      expected += n;
      ++i;
    }
    if (!it->is_string()) return fail(join(path, key), "expected " + expected + ", got " + type_name(*it));
    i = 0;
    for (const char* n : names) {
      if (it->get_ref<const std::string&>() == n) {
        out = E(i);
        return true;
      }
      ++i;
    }
    return fail(join(path, key), "expected " + expected + ", got '" + it->get<std::string>() + "'");
  }

  // An array of strings, each checked (and normalised) by `check`, which returns an error or "".
  template <class Check>
  bool read_list(const json& obj, const std::string& path, const char* key, std::vector<std::string>& out, Check check) {
    auto it = obj.find(key);
    if (it == obj.end()) return true;
    std::string p = join(path, key);
    if (!it->is_array()) return fail(p, "expected an array of strings, got " + type_name(*it));
    std::vector<std::string> items;
    for (size_t i = 0; i < it->size(); ++i) {
      const json& v = (*it)[i];
      std::string ip = p + "[" + std::to_string(i) + "]";
      if (!v.is_string()) return fail(ip, "expected a string, got " + type_name(v));
      std::string s = v.get<std::string>();
      if (std::string why = check(s); !why.empty()) return fail(ip, why);
      items.push_back(std::move(s));
    }
    out = std::move(items);
    return true;
  }

  // A whole number in [lo, hi], or a string with a unit: bytes ("512M", "2G", "64KiB"; binary
  // units) when `time` is false, durations ("500ms", "30s", "5m", "1h") when true. A bare number
  // is bytes, or seconds for a duration (stored as milliseconds).
  template <class T>
  bool read_limit(const json& obj, const std::string& path, const char* key, bool time, uint64_t lo, uint64_t hi, T& out) {
    auto it = obj.find(key);
    if (it == obj.end()) return true;
    std::string p = join(path, key);
    const char* form = time ? "a number of seconds or a string such as \"500ms\", \"30s\", \"5m\"" : "a number of bytes or a string such as \"64K\", \"512M\", \"2G\"";
    uint64_t v = 0;
    if (it->is_number_unsigned()) {
      v = it->get<uint64_t>();
      if (time && v > UINT64_MAX / 1000) return fail(p, "out of range");
      if (time) v *= 1000;
    } else if (it->is_number_integer()) {
      return fail(p, "must not be negative");
    } else if (it->is_string()) {
      auto parsed = parse_quantity(it->get_ref<const std::string&>(), time);
      if (!parsed) return fail(p, "expected " + std::string(form) + ", got '" + it->get<std::string>() + "'");
      v = *parsed;
    } else {
      return fail(p, "expected " + std::string(form) + ", got " + type_name(*it));
    }
    if (v < lo || v > hi)
      return fail(p, format_quantity(v, time) + " is out of range [" + format_quantity(lo, time) + ", " + format_quantity(hi, time) + "]");
    out = T(v);
    return true;
  }

  static std::optional<uint64_t> parse_quantity(std::string_view s, bool time) {
    size_t i = 0;
    uint64_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n > (UINT64_MAX - 9) / 10) return std::nullopt;
      n = n * 10 + uint64_t(s[i++] - '0');
    }
    if (i == 0) return std::nullopt;
    std::string unit;
    for (; i < s.size(); ++i) unit += char(std::tolower(static_cast<unsigned char>(s[i])));
    uint64_t mul = 0;
    if (time) {
      if (unit == "ms") mul = 1;
      else if (unit == "s" || unit.empty()) mul = 1000;
      else if (unit == "m" || unit == "min") mul = 60'000;
      else if (unit == "h") mul = 3'600'000;
    } else {
      if (unit.empty() || unit == "b") mul = 1;
      else if (unit == "k" || unit == "kb" || unit == "kib") mul = uint64_t(1) << 10;
      else if (unit == "m" || unit == "mb" || unit == "mib") mul = uint64_t(1) << 20;
      else if (unit == "g" || unit == "gb" || unit == "gib") mul = uint64_t(1) << 30;
      else if (unit == "t" || unit == "tb" || unit == "tib") mul = uint64_t(1) << 40;
    }
    if (mul == 0 || n > UINT64_MAX / mul) return std::nullopt;
    return n * mul;
  }
};

}  // namespace

namespace {

// "~" and "~/x" expanded with the home of the user running indexer; otherwise absolute; "." and
// ".." folded and a trailing slash dropped. "" when fine, else why not.
std::string normalise_path(std::string& s) {
  if (s.empty()) return "expected a path, got an empty string";
  if (s.find('\0') != std::string::npos) return "a path cannot hold a NUL byte";
  if (s[0] == '~') {
    if (s.size() > 1 && s[1] != '/') return "'" + s + "': only ~ and ~/... are expanded (the home of the user running indexer)";
    std::string home = home_directory();
    if (home.empty()) return "'" + s + "': no home directory to expand ~ with";
    s = home + s.substr(1);
  }
  if (s[0] != '/') return "'" + s + "' is not absolute (write /... or ~/...)";
  std::string n = std::filesystem::path(s).lexically_normal().string();
  while (n.size() > 1 && n.back() == '/') n.pop_back();
  s = n;
  return "";
}

bool valid_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

// "example.com", "*.example.com", "*", "api.x.com:443", "host:*", "10.0.0.1", "[::1]:8080".
// Lower-cased in place.
std::string normalise_domain(std::string& s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  std::string_view host = s, port;
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return "'" + s + "': an IPv6 address needs its closing ]";
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    for (char c : host)
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return "'" + s + "' is not an IPv6 address";
    if (!port.empty() && port[0] != ':') return "'" + s + "': expected :PORT after ]";
    if (!port.empty()) port.remove_prefix(1);
  } else {
    if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
      if (port.empty()) return "'" + s + "': expected a port after ':'";
    }
    std::string_view name = host;
    if (name.starts_with("*.")) name.remove_prefix(2);
    else if (name == "*") name = "";
    if (host.empty() || (name.empty() && host != "*")) return "'" + s + "': expected a host name, *.domain or *";
    if (name.find('*') != std::string_view::npos) return "'" + s + "': * only as the first label (*.example.com)";
    for (char c : name)
      if (!valid_host_char(c)) return "'" + s + "': '" + std::string(1, c) + "' cannot be in a host name (write IDNs in punycode)";
  }
  if (!port.empty() && port != "*") {
    uint32_t n = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || n > 65535) return "'" + s + "': the port must be 1-65535 or *";
      n = n * 10 + uint32_t(c - '0');
    }
    if (n == 0 || n > 65535) return "'" + s + "': the port must be 1-65535 or *";
  }
  return "";
}

std::string check_command_name(std::string& s) {
  if (s.empty()) return "expected a command name, got an empty string";
  for (char c : s)
    if (c == '\0' || c == ' ' || c == '\t' || c == '\n') return "'" + s + "': a command name has no spaces or NUL bytes";
  if (s.find('/') != std::string::npos && s[0] != '/') return "'" + s + "': a command is a name (git) or an absolute path (/usr/bin/git)";
  return "";
}

// Duplicate keys, which nlohmann would silently collapse (the last wins), found while parsing.
struct DuplicateKeys {
  std::vector<std::set<std::string>> seen;
  std::vector<std::string> path;  // the key of each open object, "" at the top
  std::string key;                // the last key read
  std::string error;

  bool operator()(int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        path.push_back(seen.empty() ? "" : key);
        seen.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!seen.empty()) seen.pop_back(), path.pop_back();
        break;
      case json::parse_event_t::key:
        key = parsed.get<std::string>();
        if (!seen.empty() && !seen.back().insert(key).second && error.empty()) {
          std::string p;
          for (size_t i = 1; i < path.size(); ++i) p += path[i] + ".";
          error = p + key + ": duplicate field";
        }
        break;
      default:
        break;
    }
    return true;
  }
};

Result<Policy> parse_policy_named(std::string_view text, const std::string& default_name) {
  if (text.size() > kMaxPolicyBytes)
    return Error{"a policy is at most " + std::to_string(kMaxPolicyBytes) + " bytes, this one " + std::to_string(text.size())};
  DuplicateKeys dups;
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), std::ref(dups), /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
    std::string what = e.what();
    if (size_t at = what.find("] "); at != std::string::npos) what = what.substr(at + 2);
    return Error{"not JSON: " + what};
  }
  if (!dups.error.empty()) return Error{dups.error};
  Reader r;
  if (!doc.is_object()) return Error{"(top): expected an object, got " + Reader::type_name(doc)};
  if (!r.known_fields(doc, "", {"version", "name", "extends", "filesystem", "network", "commands", "limits", "isolation"}))
    return Error{r.error};

  std::string base = "workspace";
  if (!r.read_string(doc, "", "extends", base)) return Error{r.error};
  auto based = preset(base);
  if (!based) return Error{"extends: " + based.error()};
  Policy p = std::move(*based);
  p.name = default_name;

  if (auto it = doc.find("version"); it != doc.end()) {
    if (!it->is_number_integer()) return Error{"version: expected 1, got " + Reader::type_name(*it)};
    if (*it != 1) return Error{"version: " + it->dump() + " is not supported (this indexer reads version 1)"};
  }
  if (!r.read_string(doc, "", "name", p.name)) return Error{r.error};
  if (p.name.empty() || p.name.size() > 128) return Error{"name: expected 1 to 128 characters"};
  r.read_enum(doc, "", "isolation", {"required", "best_effort"}, p.isolation);

  auto section = [&](const char* key, std::initializer_list<const char*> fields) -> const json* {
    auto it = doc.find(key);
    if (it == doc.end()) return nullptr;
    if (!it->is_object()) return r.fail(key, "expected an object, got " + Reader::type_name(*it)), nullptr;
    return r.known_fields(*it, key, fields) ? &*it : nullptr;
  };
  if (const json* fs = section("filesystem", {"mode", "allowed_paths", "blocked_paths", "read_only_paths", "writable_paths",
                                              "allow_symlinks", "allow_hidden_files"})) {
    auto& f = p.filesystem;
    r.read_enum(*fs, "filesystem", "mode", {"strict", "workspace", "permissive"}, f.mode);
    r.read_list(*fs, "filesystem", "allowed_paths", f.allowed_paths, normalise_path);
    r.read_list(*fs, "filesystem", "blocked_paths", f.blocked_paths, normalise_path);
    r.read_list(*fs, "filesystem", "read_only_paths", f.read_only_paths, normalise_path);
    r.read_list(*fs, "filesystem", "writable_paths", f.writable_paths, normalise_path);
    r.read_bool(*fs, "filesystem", "allow_symlinks", f.allow_symlinks);
    r.read_bool(*fs, "filesystem", "allow_hidden_files", f.allow_hidden_files);
  }
  if (const json* net = section("network", {"enabled", "allowed_domains", "blocked_domains", "allow_localhost", "allow_http", "allow_https"})) {
    auto& n = p.network;
    r.read_bool(*net, "network", "enabled", n.enabled);
    r.read_list(*net, "network", "allowed_domains", n.allowed_domains, normalise_domain);
    r.read_list(*net, "network", "blocked_domains", n.blocked_domains, normalise_domain);
    r.read_bool(*net, "network", "allow_localhost", n.allow_localhost);
    r.read_bool(*net, "network", "allow_http", n.allow_http);
    r.read_bool(*net, "network", "allow_https", n.allow_https);
  }
  if (const json* cmd = section("commands", {"mode", "allowed_commands", "blocked_commands", "allow_sudo"})) {
    auto& c = p.commands;
    r.read_enum(*cmd, "commands", "mode", {"whitelist", "blacklist", "unrestricted"}, c.mode);
    r.read_list(*cmd, "commands", "allowed_commands", c.allowed_commands, check_command_name);
    r.read_list(*cmd, "commands", "blocked_commands", c.blocked_commands, check_command_name);
    r.read_bool(*cmd, "commands", "allow_sudo", c.allow_sudo);
  }
  if (const json* lim = section("limits", {"cpu_time", "wall_time", "memory", "processes", "file_size", "open_files", "output", "tmp"})) {
    auto& l = p.limits;
    constexpr uint64_t KiB = 1 << 10, MiB = 1 << 20, GiB = 1 << 30, TiB = GiB << 10, Day = 86'400'000;
    r.read_limit(*lim, "limits", "cpu_time", true, 1, Day, l.cpu_ms);
    r.read_limit(*lim, "limits", "wall_time", true, 1, Day, l.wall_ms);
    r.read_limit(*lim, "limits", "memory", false, 16 * MiB, TiB, l.memory_bytes);
    r.read_limit(*lim, "limits", "file_size", false, KiB, TiB, l.file_size_bytes);
    r.read_limit(*lim, "limits", "output", false, KiB, GiB, l.output_bytes);
    r.read_limit(*lim, "limits", "tmp", false, MiB, 64 * GiB, l.tmp_bytes);
    // Counts are plain numbers: read through the byte reader, which takes no unit for "1".
    auto count = [&](const char* key, uint64_t lo, uint64_t hi, uint32_t& out) {
      auto it = lim->find(key);
      if (it == lim->end()) return;
      if (!it->is_number_unsigned()) {
        r.fail(std::string("limits.") + key, "expected a whole number, got " + (it->is_number_integer() ? std::string("a negative number") : Reader::type_name(*it)));
        return;
      }
      uint64_t v = it->get<uint64_t>();
      if (v < lo || v > hi)
        r.fail(std::string("limits.") + key, std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      else
        out = uint32_t(v);
    };
    count("processes", 1, 65'536, l.processes);
    count("open_files", 16, 1 << 20, l.open_files);
  }
  if (!r.error.empty()) return Error{r.error};
  return p;
}

}  // namespace

Result<Policy> parse_policy(std::string_view json_text) { return parse_policy_named(json_text, "custom"); }

Result<Policy> load_policy(std::string_view name_or_path) {
  if (name_or_path == "strict" || name_or_path == "workspace" || name_or_path == "permissive") return preset(name_or_path);
  std::string path(name_or_path);
  // The service passes paths its clients name: a FIFO or a device would block the open or the read
  // forever (/dev/zero never ends), so only a regular file of at most kMaxPolicyBytes is read, and
  // the open itself does not wait (O_NONBLOCK: a FIFO with no writer opens at once).
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Error{path + ": " + std::strerror(errno) + " (a policy is strict, workspace, permissive or a JSON file)"};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return Error{path + ": " + std::strerror(errno)};
  if (!S_ISREG(st.st_mode)) {
    const char* kind = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)             ? "a device"
                       : S_ISSOCK(st.st_mode)                                    ? "a socket"
                                                                                 : "not a regular file";
    return Error{path + ": " + kind + ", not a policy file (a policy is a regular file)"};
  }
  if (uint64_t(st.st_size) > kMaxPolicyBytes)
    return Error{path + ": a policy is at most " + std::to_string(kMaxPolicyBytes) + " bytes, this file has " +
                 std::to_string(st.st_size)};
  // The size is checked again while reading: the file may grow between fstat and read.
  std::string text(kMaxPolicyBytes + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{path + ": " + std::strerror(errno)};
    if (n == 0) break;
    got += size_t(n);
  }
  text.resize(got);
  if (text.size() > kMaxPolicyBytes) return Error{path + ": a policy is at most " + std::to_string(kMaxPolicyBytes) + " bytes"};
  auto p = parse_policy_named(text, std::filesystem::path(path).stem().string());
  if (!p) return Error{path + ": " + p.error()};
  return p;
}

std::string to_json(const Policy& p) {
  static constexpr const char* kFs[] = {"strict", "workspace", "permissive"};
  static constexpr const char* kCmd[] = {"whitelist", "blacklist", "unrestricted"};
  static constexpr const char* kIso[] = {"required", "best_effort"};
  ordered_json j;
  j["version"] = p.version;
  j["name"] = p.name;
  j["filesystem"] = {{"mode", kFs[size_t(p.filesystem.mode)]},
                     {"allowed_paths", p.filesystem.allowed_paths},
                     {"blocked_paths", p.filesystem.blocked_paths},
                     {"read_only_paths", p.filesystem.read_only_paths},
                     {"writable_paths", p.filesystem.writable_paths},
                     {"allow_symlinks", p.filesystem.allow_symlinks},
                     {"allow_hidden_files", p.filesystem.allow_hidden_files}};
  j["network"] = {{"enabled", p.network.enabled},
                  {"allowed_domains", p.network.allowed_domains},
                  {"blocked_domains", p.network.blocked_domains},
                  {"allow_localhost", p.network.allow_localhost},
                  {"allow_http", p.network.allow_http},
                  {"allow_https", p.network.allow_https}};
  j["commands"] = {{"mode", kCmd[size_t(p.commands.mode)]},
                   {"allowed_commands", p.commands.allowed_commands},
                   {"blocked_commands", p.commands.blocked_commands},
                   {"allow_sudo", p.commands.allow_sudo}};
  j["limits"] = {{"cpu_time", format_quantity(p.limits.cpu_ms, true)},
                 {"wall_time", format_quantity(p.limits.wall_ms, true)},
                 {"memory", format_quantity(p.limits.memory_bytes, false)},
                 {"processes", p.limits.processes},
                 {"file_size", format_quantity(p.limits.file_size_bytes, false)},
                 {"open_files", p.limits.open_files},
                 {"output", format_quantity(p.limits.output_bytes, false)},
                 {"tmp", format_quantity(p.limits.tmp_bytes, false)}};
  j["isolation"] = kIso[size_t(p.isolation)];
  return j.dump(2) + "\n";
}

}  // namespace sandbox
