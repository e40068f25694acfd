// The sandbox policy a server judges by (sandbox/check, sandbox/policy), and the workspace its
// relative paths start from: `indexer serve --policy P` sets it to P over the served root before
// it listens; unset, it is the `workspace` preset over the current directory. Read-mostly: set
// once at start, read by every call (a copy under a mutex; a policy is a few hundred bytes).
#pragma once

#include <string>

#include "sandbox/policy.h"

namespace server {

struct ServedPolicy {
  sandbox::Policy policy;
  std::string workspace;  // absolute
};
void set_served_policy(sandbox::Policy policy, std::string workspace);
ServedPolicy served_policy();

}  // namespace server
