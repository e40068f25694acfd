// sandbox::check_command on arbitrary bytes (sandbox/command_line.cpp): bounded work, never a
// crash, and decisions that agree with each other: a line that can be judged is allowed by an
// unrestricted policy that allows sudo; a whitelist that allows nothing allows only builtins and
// lines that run nothing; a refusal always says why.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sandbox/preflight.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  sandbox::Policy open, none;
  open.commands.mode = sandbox::CommandMode::Unrestricted;
  open.commands.allow_sudo = true;
  none.commands.mode = sandbox::CommandMode::Whitelist;
  auto a = sandbox::analyze_command(line);
  auto o = sandbox::check_command(open, line);
  auto n = sandbox::check_command(none, line);
  if (o.allowed != a.error.empty()) __builtin_trap();
  if (o.reason.empty() || n.reason.empty()) __builtin_trap();
  if (n.allowed)
    for (const auto& c : a.commands)
      if (c.kind != sandbox::Invocation::Kind::Builtin && c.kind != sandbox::Invocation::Kind::Wrapper &&
          c.kind != sandbox::Invocation::Kind::Function)
        __builtin_trap();
  return 0;
}
