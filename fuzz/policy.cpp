// sandbox::parse_policy on arbitrary bytes: an error or a valid policy, never a crash; a policy it
// accepts survives to_json and back unchanged (the invariant policy.h promises).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sandbox/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = sandbox::parse_policy(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!p) return 0;
  auto again = sandbox::parse_policy(sandbox::to_json(*p));
  if (!again || !(*again == *p)) __builtin_trap();
  return 0;
}
