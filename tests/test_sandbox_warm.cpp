// Warm templates (sandbox.h: Template) through real processes: a run forked from a template's
// zygote behaves as a cold run does, and leaves nothing the next run of the same template can see.
// No timings asserted.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "helpers.h"
#include "sandbox/sandbox.h"

namespace {

using sandbox::Outcome;
using K = sandbox::Outcome::Kind;

sandbox::Policy workspace_policy() {
  auto p = sandbox::preset("workspace");
  REQUIRE(p.ok());
  p->limits.wall_ms = 60'000;
  return *p;
}

std::unique_ptr<sandbox::Template> make_template(const test::TempDir& ws, const sandbox::Policy& p = workspace_policy(),
                                                 sandbox::Template::Options o = {}) {
  sandbox::Command base;
  base.workspace = ws.path().string();
  auto t = sandbox::Template::create(p, base, o);
  INFO((t ? std::string() : t.error()));
  REQUIRE(t.ok());
  return std::move(*t);
}

Outcome sh(sandbox::Template& t, const std::string& script, std::vector<std::string> env = {}) {
  sandbox::Command c;
  c.argv = {"/bin/sh", "-c", script};
  c.env = std::move(env);
  auto r = t.run(c);
  INFO((r ? std::string() : r.error()));
  REQUIRE(r.ok());
  INFO("reason: " << r->reason << "\nstdout: " << r->out << "\nstderr: " << r->err);
  return *r;
}

#define NEED_USERNS() REQUIRE(sandbox::probe().user_namespaces)

}  // namespace

TEST_CASE("warm template: a run behaves as a cold run (status, output, stdin, layers)", "[sandbox][warm]") {
  NEED_USERNS();
  test::TempDir ws;
  ws.write("hello.txt", "hi\n");
  auto t = make_template(ws);
  auto r = sh(*t, "cat hello.txt; echo err >&2; pwd; id -u; exit 3");
  INFO(r.reason);
  CHECK(r.kind == K::Exited);
  CHECK(r.code == 3);
  CHECK(r.out == "hi\n" + ws.path().string() + "\n0\n");
  CHECK(r.err == "err\n");
  CHECK(std::find(r.layers.begin(), r.layers.end(), "seccomp filter") != r.layers.end());
  CHECK(std::find_if(r.layers.begin(), r.layers.end(), [](const std::string& l) { return l.starts_with("warm template"); }) !=
        r.layers.end());
  CHECK(t->zygotes_started() == 1);
  auto again = sh(*t, "echo again");
  CHECK(again.out == "again\n");
  CHECK(t->zygotes_started() == 1);
}
