// The sandbox's decisions for an orchestrator's own tools: an agent runtime asks before it acts
// (sandbox/check, the seed-style checkFileAccess / checkNetworkRequest / checkCommand), reads the
// policy it is held to (sandbox/policy), and a postflight step reads what was refused
// (sandbox/violations). Answers come from the same preflight code the sandbox enforces with
// (sandbox/preflight.h); every refusal is kept in the violations log (sandbox/violations.h) and
// counted in /metrics. None needs the index.
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "sandbox/preflight.h"
#include "sandbox/violations.h"
#include "server/json_writer.h"
#include "server/registry.h"
#include "server/sandbox_policy.h"

namespace server {
namespace {

std::mutex g_policy_mu;
std::optional<ServedPolicy> g_policy;

}  // namespace

void set_served_policy(sandbox::Policy policy, std::string workspace) {
  std::lock_guard lock(g_policy_mu);
  g_policy = ServedPolicy{std::move(policy), std::move(workspace)};
}

ServedPolicy served_policy() {
  std::lock_guard lock(g_policy_mu);
  if (!g_policy) {
    std::error_code ec;
    auto cwd = std::filesystem::current_path(ec);
    g_policy = ServedPolicy{*sandbox::preset("workspace"), ec ? std::string("/") : cwd.lexically_normal().string()};
  }
  return *g_policy;
}

namespace {

// ---- sandbox/check ----------------------------------------------------------------------------

struct CheckParams {
  sandbox::ViolationKind kind;
  std::string subject;
  sandbox::Access access = sandbox::Access::Read;
};
CheckParams read_check(const Params& p) {
  auto path = p.maybe_text("path"), url = p.maybe_text("url"), command = p.maybe_text("command");
  if (int(bool(path)) + int(bool(url)) + int(bool(command)) != 1)
    bad_param("give exactly one of 'path' (with 'access': read or write), 'url' (with 'method') and 'command'");
  CheckParams out;
  if (path) {
    std::string access = p.maybe_text("access").value_or("read");
    if (access != "read" && access != "write") bad_param("param 'access' must be \"read\" or \"write\", not \"" + access + "\"");
    out = {sandbox::ViolationKind::Path, std::move(*path), access == "write" ? sandbox::Access::Write : sandbox::Access::Read};
  } else if (url) {
    p.maybe_text("method");  // informational (GET, POST, CONNECT ...): the host and scheme decide
    out = {sandbox::ViolationKind::Url, std::move(*url)};
  } else {
    out = {sandbox::ViolationKind::Command, std::move(*command)};
  }
  if (out.subject.find('\0') != std::string::npos && out.kind == sandbox::ViolationKind::Path) bad_param("param 'path' holds a NUL byte");
  return out;
}

struct Checked {
  sandbox::Decision decision;
  sandbox::ViolationKind kind;
};
Checked check(Context&, const CheckParams& p) {
  ServedPolicy s = served_policy();
  sandbox::Decision d;
  switch (p.kind) {
    case sandbox::ViolationKind::Path: d = sandbox::check_path(s.policy, s.workspace, p.subject, p.access); break;
    case sandbox::ViolationKind::Url: d = sandbox::check_url(s.policy, p.subject); break;
    default: d = sandbox::check_command(s.policy, p.subject); break;
  }
  if (!d.allowed) sandbox::record_violation(p.kind, p.subject, d.reason, "sandbox/check");
  return {std::move(d), p.kind};
}
std::string write_check(const Checked& r) {
  JsonWriter w;
  w.begin_object()
      .field("allowed", r.decision.allowed)
      .field("reason", r.decision.reason)
      .field("kind", sandbox::kind_name(r.kind))
      .end_object();
  return w.take();
}

std::string tool_check(const json& args, Context& c) {
  Checked r = check(c, read_check(Params(args)));
  return std::string(r.decision.allowed ? "allowed: " : "refused: ") + r.decision.reason + "\n";
}

// ---- sandbox/policy ---------------------------------------------------------------------------

std::string policy_answer(const json&, Context&) {
  ServedPolicy s = served_policy();
  json out = {{"name", s.policy.name}, {"workspace", s.workspace}, {"policy", json::parse(sandbox::to_json(s.policy))}};
  return out.dump();
}

// ---- sandbox/violations -----------------------------------------------------------------------

struct ViolationsParams {
  size_t limit;
  uint64_t since;
};
ViolationsParams read_violations(const Params& p) {
  return {size_t(p.integer("limit", 100, 1, 1000)), p.integer("since", 0, 0, UINT64_MAX >> 1)};
}
struct ViolationsRead {
  sandbox::ViolationLog::Page page;
  std::array<uint64_t, sandbox::kViolationKinds> counts;
};
ViolationsRead read_log(Context&, const ViolationsParams& p) {
  return {sandbox::violations().read(p.limit, p.since), sandbox::violations().counts()};
}
std::string write_violations(const ViolationsRead& r) {
  JsonWriter w;
  w.begin_object().key("violations").begin_array();
  for (const auto& v : r.page.entries)
    w.begin_object()
        .field("seq", v.seq)
        .field("time_ms", int64_t(v.unix_ms))
        .field("kind", sandbox::kind_name(v.kind))
        .field("subject", v.subject)
        .field("reason", v.reason)
        .field("source", v.source)
        .end_object();
  w.end_array().field("last", r.page.last).field("dropped", r.page.dropped).key("counts").begin_object();
  for (size_t k = 0; k < r.counts.size(); ++k) w.field(sandbox::kind_name(sandbox::ViolationKind(k)), r.counts[k]);
  w.end_object().end_object();
  return w.take();
}

void register_methods(Registry& r) {
  r.bind({.name = "sandbox/check", .params = "{path, access?} | {url, method?} | {command}",
          .summary = "Whether the server's sandbox policy allows a file access (access: read, the default, or write), a URL or a command line: {allowed, reason, kind}; a refusal is logged (sandbox/violations).",
          .needs_index = false,
          .tool = McpTool{"sandbox_check",
                          "Ask the sandbox policy before acting: may this file be read or written, this URL fetched, this command line run? "
                          "Answers allowed or refused with the reason. Give exactly one of path, url, command.",
                          tool_schema({{"path", {{"type", "string"}, {"description", "a file, relative to the workspace or absolute"}}},
                                       {"access", {{"type", "string"}, {"enum", {"read", "write"}}}},
                                       {"url", {{"type", "string"}, {"description", "an http:// or https:// URL"}}},
                                       {"method", {{"type", "string"}}},
                                       {"command", {{"type", "string"}, {"description", "a shell command line, judged by every command it runs"}}}}),
                          tool_check}},
         read_check, check, write_check);
  r.add_written({.name = "sandbox/policy", .params = "{}",
                 .summary = "The sandbox policy this server judges by (indexer serve --policy): {name, workspace, policy} with every field written.",
                 .runs = Runs::Inline, .needs_index = false},
                policy_answer);
  r.bind({.name = "sandbox/violations", .params = "{limit?, since?}",
          .summary = "Refusals this server answered, oldest first after seq `since`: {violations: [{seq, time_ms, kind, subject, reason, source}], last, dropped, counts} (the last 1000 kept; limit up to 1000, default 100).",
          .runs = Runs::Inline, .needs_index = false},
         read_violations, read_log, write_violations);
}

const Registration registered(register_methods);

}  // namespace
}  // namespace server
