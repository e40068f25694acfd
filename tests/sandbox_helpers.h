// What the sandbox engine's tests share: the policy most of them run under, the user-namespace
// requirement, and a run's Outcome with its error and output shown when a check fails.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "sandbox/sandbox.h"

namespace test {

inline sandbox::Policy workspace_policy() {
  auto p = sandbox::preset("workspace");
  REQUIRE(p.ok());
  p->limits.wall_ms = 60'000;
  return *p;
}

// A run that must have happened (not refused before it started); what it printed goes with it.
inline sandbox::Outcome ran(const query::Result<sandbox::Outcome>& r) {
  INFO((r ? std::string() : r.error()));
  REQUIRE(r.ok());
  INFO("reason: " << r->reason << "\nstdout: " << r->out << "\nstderr: " << r->err);
  return *r;
}

}  // namespace test

// The engine's tests need user namespaces (issue 15: this machine has them); a kernel without
// them fails here rather than passing by skipping.
#define NEED_USERNS() REQUIRE(sandbox::probe().user_namespaces)
