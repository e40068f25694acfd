// check_path, check_url and check_host (preflight.h); check_command is in command_line.cpp.
#include "sandbox/preflight.h"
#include "sandbox/proxy.h"

#include <arpa/inet.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

namespace sandbox {

namespace fs = std::filesystem;

namespace {

// Relative to the home of the user running indexer. Credentials of the tools agents use, and the
// keys that sign and push; absent ones too, so that nothing can create one and read it later.
constexpr const char* kHomeSecrets[] = {
    ".ssh", ".aws", ".gnupg", ".config/gcloud", ".kube", ".docker/config.json", ".netrc", ".npmrc", ".pypirc",
    ".git-credentials", ".config/gh", ".azure", ".cargo/credentials", ".cargo/credentials.toml", ".gem/credentials",
    ".password-store", ".local/share/keyrings", ".vault-token", ".terraform.d/credentials.tfrc.json"};

// Files that run code later, when a person or a tool opens the directory, commits, or starts a
// shell: refused for writing wherever they are (the workspace, a nested repository). Matched as
// consecutive components anywhere in the path. .gitmodules is here because it decides which
// code `git submodule update` fetches; .github/workflows because a pushed workflow runs in CI
// with the repository's secrets; .husky because its files are git hooks.
constexpr const char* kRunsCodeLater[] = {
    ".git/hooks", ".git/config", ".gitmodules", ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
    ".zshrc", ".zshenv", ".zprofile", ".zlogin", ".vscode", ".idea", ".envrc", ".github/workflows", ".husky"};

// What the engine shows of the host in strict and workspace modes: read-only system directories.
constexpr const char* kSystemDirs[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                                       "/etc/alternatives", "/etc/ssl", "/etc/ca-certificates"};
constexpr const char* kSystemFiles[] = {"/etc/passwd", "/etc/group", "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf",
                                        "/etc/ld.so.cache", "/etc/localtime"};
constexpr const char* kDevices[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"};

bool valid_host_char_public(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

bool under(std::string_view path, std::string_view root) {
  if (root == "/") return true;
  return path.starts_with(root) && (path.size() == root.size() || path[root.size()] == '/');
}

std::vector<std::string_view> components(std::string_view p) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    if (j > i) out.push_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Whether `needle` ("a/b") is a run of consecutive components of `path`.
bool has_components(const std::vector<std::string_view>& path, std::string_view needle) {
  auto n = components(needle);
  for (size_t i = 0; i + n.size() <= path.size(); ++i) {
    size_t k = 0;
    while (k < n.size() && path[i + k] == n[k]) ++k;
    if (k == n.size()) return true;
  }
  return false;
}

std::string normal(std::string p) {
  p = fs::path(p).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// The path with every symbolic link resolved (components that do not exist kept as written);
// "" with `why` set when it cannot be resolved (a loop, no permission).
std::string resolved(const std::string& p, std::string& why) {
  std::error_code ec;
  fs::path r = fs::weakly_canonical(p, ec);
  if (ec) {
    why = "cannot resolve " + p + ": " + ec.message();
    return "";
  }
  return normal(r.string());
}

std::string tilde(const std::string& p) {
  std::string home = home_directory();
  if (!home.empty() && home != "/" && under(p, home)) return "~" + p.substr(home.size());
  return p;
}

Decision refuse(std::string why) { return {false, std::move(why)}; }
Decision allow(std::string why) { return {true, std::move(why)}; }

// Where `p` lies and what the policy lets `access` do there. `p` is absolute, normal, and a host
// path: what an executor opens, and what a run sees at the same place (the run's private /tmp is
// not the host's). `roots` are the workspace and the policy's paths as the caller compares them
// (as written, or resolved).
struct Roots {
  std::string workspace;
  std::vector<std::string> allowed, blocked, read_only, writable;
};

Decision judge(const Policy& policy, const Roots& roots, const std::string& p, Access access, std::string* area_out = nullptr) {
  const auto& f = policy.filesystem;
  for (const auto& b : roots.blocked)
    if (under(p, b)) return refuse("under filesystem.blocked_paths " + tilde(b));
  for (const char* s : kHomeSecrets) {
    std::string home = home_directory();
    if (!home.empty() && under(p, normal(home + "/" + s)))
      return refuse("~/" + std::string(s) + " holds secrets (refused for reading and writing, even when absent)");
  }
  auto parts = components(p);
  for (auto c : parts)
    if (is_secret_name(c)) return refuse(std::string(c) + " files hold secrets (refused for reading and writing, anywhere)");
  if (access == Access::Write)
    for (const char* m : kRunsCodeLater)
      if (has_components(parts, m)) return refuse(std::string(m) + " runs code later (write-protected, even in the workspace)");

  // The most specific area first: read-only beats writable; the workspace, then the lists.
  std::string root, area;
  bool writable = false;
  auto in = [&](const std::vector<std::string>& list, const char* name, bool w) {
    for (const auto& r : list)
      if (under(p, r) && r.size() >= root.size() + (root.empty() ? 0 : 1)) {
        root = r, area = std::string(name) + " " + tilde(r), writable = w;
        return true;
      }
    return false;
  };
  if (in(roots.read_only, "filesystem.read_only_paths", false)) {
  } else if (under(p, roots.workspace)) {
    root = roots.workspace, area = "the workspace", writable = f.mode != FsMode::Strict;
  } else if (in(roots.writable, "filesystem.writable_paths", true) || in(roots.allowed, "filesystem.allowed_paths", false)) {
  } else {
    for (const char* d : kDevices)
      if (p == d) root = p, area = "a device every run has", writable = true;
    for (const char* d : kSystemDirs)
      if (under(p, d)) root = d, area = "a system path";
    for (const char* d : kSystemFiles)
      if (p == d) root = d, area = "a system path";
    if (root.empty() && f.mode == FsMode::Permissive) root = "/", area = "the host (permissive mode shows it read-only)";
  }
  if (root.empty()) return refuse(p + " is outside the workspace and the allowed paths");

  if (!f.allow_hidden_files)
    for (auto c : components(std::string_view(p).substr(root == "/" ? 0 : root.size())))
      if (c.size() > 1 && c[0] == '.') return refuse(std::string(c) + " is hidden (filesystem.allow_hidden_files is off)");
  if (area_out) *area_out = area;
  if (access == Access::Write && !writable) {
    if (area == "the workspace") return refuse("the workspace is read-only (filesystem.mode strict)");
    return refuse(tilde(p) + " is in " + area + ", which is read-only");
  }
  return allow((access == Access::Write ? "writable: " : "readable: ") + area);
}

Roots roots_of(const Policy& policy, std::string workspace, bool resolve) {
  Roots r;
  std::string why;
  auto fix = [&](const std::string& p) {
    if (!resolve) return p;
    std::string x = resolved(p, why);
    return x.empty() ? p : x;
  };
  r.workspace = fix(workspace);
  for (const auto& p : policy.filesystem.allowed_paths) r.allowed.push_back(fix(p));
  for (const auto& p : policy.filesystem.blocked_paths) r.blocked.push_back(fix(p));
  for (const auto& p : policy.filesystem.read_only_paths) r.read_only.push_back(fix(p));
  for (const auto& p : policy.filesystem.writable_paths) r.writable.push_back(fix(p));
  return r;
}

}  // namespace

std::string home_directory() {
  if (const char* h = std::getenv("HOME"); h && h[0] == '/') return normal(h);
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir && pw->pw_dir[0] == '/') return normal(pw->pw_dir);
  return "";
}

std::vector<std::string> protected_secrets() {
  std::vector<std::string> out;
  std::string home = home_directory();
  if (home.empty()) return out;
  for (const char* s : kHomeSecrets) out.push_back(normal(home + "/" + s));
  return out;
}

// .env and .env.* hold a project's keys; the templates committed beside them do not.
bool is_secret_name(std::string_view name) {
  if (name == ".env") return true;
  if (!name.starts_with(".env.")) return false;
  for (std::string_view t : {".env.example", ".env.sample", ".env.template", ".env.dist"})
    if (name == t) return false;
  return true;
}

std::vector<std::string> write_protected() { return {std::begin(kRunsCodeLater), std::end(kRunsCodeLater)}; }

Decision check_path(const Policy& policy, std::string_view workspace_in, std::string_view path_in, Access access) {
  if (path_in.empty()) return refuse("an empty path");
  if (path_in.find('\0') != std::string_view::npos || workspace_in.find('\0') != std::string_view::npos)
    return refuse("a path cannot hold a NUL byte");
  if (workspace_in.empty() || workspace_in[0] != '/') return refuse("the workspace must be an absolute path");
  std::string workspace = normal(std::string(workspace_in));
  std::string p(path_in);
  if (p[0] == '~' && (p.size() == 1 || p[1] == '/')) {
    std::string home = home_directory();
    if (home.empty()) return refuse("no home directory to expand ~ with");
    p = home + p.substr(1);
  }
  if (p[0] != '/') p = workspace + "/" + p;
  p = normal(p);  // `..` folded as written: a link's `..` is judged by its resolved target below

  std::string area;
  Decision d = judge(policy, roots_of(policy, workspace, false), p, access, &area);
  if (!d.allowed) return d;

  std::string why;
  std::string real = resolved(p, why);
  if (real.empty()) return refuse(why);
  if (access == Access::Write) {
    // A hard link is a second name of one file: a preflight cannot tell where the others are
    // (nor, for reading, that one exists); writing through one changes them all.
    struct stat st;
    if (::lstat(real.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink > 1)
      return refuse(tilde(real) + " has other hard links: writing it changes files a preflight cannot see");
  }
  Roots real_roots = roots_of(policy, workspace, true);
  const std::string& real_ws = real_roots.workspace;
  if (real == p || (under(p, workspace) && under(real, real_ws) && real.substr(real_ws.size()) == p.substr(workspace.size())))
    return d;  // no link on the way, or only the workspace's own path is one
  std::string real_area;
  Decision t = judge(policy, real_roots, real, access, &real_area);
  if (!t.allowed) return refuse("a symbolic link leads to " + tilde(real) + ": " + t.reason);
  if (real_area != area && !policy.filesystem.allow_symlinks)
    return refuse("a symbolic link leads out of " + area + " to " + tilde(real) + " (filesystem.allow_symlinks is off)");
  return allow(t.reason + " (through a symbolic link to " + tilde(real) + ")");
}

// ---------------------------------------------------------------------------------------------
// Network

namespace {

bool parse_v4(std::string_view s, uint32_t& out) {
  if (s.empty() || s.size() > 64) return false;
  std::string z(s);
  in_addr a{};
  // inet_aton, not inet_pton: the resolver takes 127.1, 0x7f.1 and 2130706433 too.
  if (::inet_aton(z.c_str(), &a) == 0) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '.' && c != 'x' && c != 'X') return false;
  out = ntohl(a.s_addr);
  return true;
}

bool parse_v6(std::string_view s, unsigned char out[16]) {
  if (s.empty() || s.size() > 64) return false;
  std::string z(s);
  return ::inet_pton(AF_INET6, z.c_str(), out) == 1;
}

// "" for a public unicast address, else the kind of range it is in.
// "" for a public literal, the range for a non-public one; nullopt for a name.
std::optional<std::string> literal_range(std::string_view host, std::string& canonical) {
  uint32_t a4;
  sockaddr_storage ss{};
  char buf[INET6_ADDRSTRLEN];
  if (parse_v4(host, a4)) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(a4);
    canonical = ::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (!parse_v6(host, sin6->sin6_addr.s6_addr)) return std::nullopt;
    sin6->sin6_family = AF_INET6;
    canonical = ::inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
  }
  // The proxy's classification (address_class.cpp), so a literal here and an address it resolves
  // are judged by one table.
  return reserved_range(reinterpret_cast<const sockaddr*>(&ss));
}

// A pattern of network.allowed_domains / blocked_domains (validated by parse_policy) against a
// host (lower case; IP literals canonical) and port. No port in the pattern: the scheme's
// default port (443 with TLS, 80 without) for an allowed entry, every port for a blocked one.
bool domain_matches(std::string_view pattern, std::string_view host, uint16_t port, bool tls, bool blocking) {
  std::string_view h = pattern, p;
  if (!h.empty() && h[0] == '[') {
    size_t close = h.find(']');
    p = h.substr(close + 1);
    h = h.substr(1, close - 1);
    if (!p.empty()) p.remove_prefix(1);
  } else if (size_t colon = h.rfind(':'); colon != std::string_view::npos) {
    p = h.substr(colon + 1);
    h = h.substr(0, colon);
  }
  if (p.empty()) {
    if (!blocking && port != (tls ? 443 : 80)) return false;
  } else if (p != "*" && p != std::to_string(port)) {
    return false;
  }
  if (h == "*") return true;
  if (h.starts_with("*.")) return host.size() > h.size() - 1 && host.ends_with(h.substr(1));
  if (h == host) return true;
  std::string canon;  // an IP literal in the pattern, written another way
  auto r = literal_range(h, canon);
  return r && canon == host;
}

}  // namespace

bool is_public_address(std::string_view ip) {
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  std::string canon;
  auto r = literal_range(ip, canon);
  return r && r->empty();
}

Decision check_host(const Policy& policy, std::string_view host_in, uint16_t port, bool tls) {
  const auto& n = policy.network;
  if (!n.enabled) return refuse("the network is off (network.enabled is false)");
  if (tls && !n.allow_https) return refuse("https is off (network.allow_https is false)");
  if (!tls && !n.allow_http) return refuse("plain http is off (network.allow_http is false)");
  if (port == 0) return refuse("port 0");
  std::string host(host_in.substr(0, 256));
  if (host_in.size() > 253 + 2) return refuse("a host name is at most 253 characters");
  for (char& c : host) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (host.empty()) return refuse("an empty host");

  std::string canon;
  auto range = literal_range(host, canon);
  bool loopback = false;
  if (range) {
    host = canon;
    loopback = range->ends_with("(loopback)");
    if (!range->empty() && !loopback) return refuse(host + " is in " + *range + ": refused whatever the lists say");
  } else {
    for (char c : host)
      if (!valid_host_char_public(c)) return refuse("'" + std::string(host_in) + "' is not a host name");
    loopback = host == "localhost" || host.ends_with(".localhost");
  }
  if (loopback) {
    if (!n.allow_localhost) return refuse(host + " is loopback (network.allow_localhost is off)");
    return allow(host + " is loopback (network.allow_localhost)");
  }
  std::string where = host + ":" + std::to_string(port);
  for (const auto& b : n.blocked_domains)
    if (domain_matches(b, host, port, tls, true)) return refuse(where + " is blocked by network.blocked_domains '" + b + "'");
  for (const auto& a : n.allowed_domains)
    if (domain_matches(a, host, port, tls, false)) return allow(where + " is allowed by network.allowed_domains '" + a + "'");
  return refuse(where + " is not in network.allowed_domains" +
                (tls && port != 443 ? " (an entry without a port allows 443 only)" : !tls && port != 80 ? " (an entry without a port allows 80 only)" : ""));
}

Decision check_url(const Policy& policy, std::string_view url) {
  if (url.size() > 8192) return refuse("a URL is at most 8192 bytes here");
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return refuse("a URL cannot hold spaces or control characters");
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return refuse("not a URL (expected http:// or https://)");
  std::string scheme(url.substr(0, sep));
  for (char& c : scheme) c = char(std::tolower(static_cast<unsigned char>(c)));
  bool tls;
  if (scheme == "https") tls = true;
  else if (scheme == "http") tls = false;
  else return refuse("scheme '" + scheme + "': only http and https go out (through the proxy)");
  std::string_view rest = url.substr(sep + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#\\"));
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string_view host = authority, port_text;
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return refuse("an IPv6 host needs its closing ]");
    port_text = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port_text.empty() && port_text[0] != ':') return refuse("expected :PORT after ]");
    if (!port_text.empty()) port_text.remove_prefix(1);
  } else if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    port_text = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty()) return refuse("a URL without a host");
  if (host.find('%') != std::string_view::npos) return refuse("a percent-encoded host or an IPv6 zone is refused");
  uint32_t port = tls ? 443 : 80;
  if (!port_text.empty()) {
    port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) return refuse("the port must be a number from 1 to 65535");
      port = port * 10 + uint32_t(c - '0');
    }
    if (port == 0 || port > 65535) return refuse("the port must be a number from 1 to 65535");
  }
  return check_host(policy, host, uint16_t(port), tls);
}

}  // namespace sandbox
