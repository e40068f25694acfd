// Child processes for the benchmarks: the servers they measure and the peers they compare with.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace bench {

// A child with a pipe from its stdout and, when asked, one to its stdin (else /dev/null); its
// stderr goes to /dev/null. args[0] without a '/' is looked up in PATH; `cwd` is where it runs.
struct Child {
  pid_t pid = -1;
  int in = -1;   // its stdin, or -1
  int out = -1;  // its stdout
};
Child spawn(const std::vector<std::string>& args, bool with_stdin = false, const std::string& cwd = {});

// The path of the executable `name` (looked up in PATH unless it has a '/'), or "" when there is none.
std::string find_in_path(const std::string& name);

}  // namespace bench
