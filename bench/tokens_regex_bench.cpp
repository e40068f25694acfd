// Why the pre-tokenizer is a hand-written scanner: the pieces of cl100k_base and o200k_base cut
// by compress/tokens_scan.h and by PCRE2's JIT matching tiktoken's regexes, timed on the same
// files (pieces only, no BPE). Built when Debian's libpcre2-dev is installed:
//   build/indexer_tokens_regex_bench FILE...
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "compress/tokens.h"
#include "compress/tokens_scan.h"

namespace {

const char* kCl100k = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* kO200k =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

template <typename F>
double best_ms(F&& f) {
  double best = 1e300;
  for (int run = 0; run < 10; ++run) {
    auto t = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace compress::tokens;
  (void)tokenizer(Encoding::Cl100k);  // loads the category table
  for (int a = 1; a < argc; ++a) {
    std::ifstream in(argv[a], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    for (int e = 0; e < 2; ++e) {
      int err;
      PCRE2_SIZE at;
      pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(e ? kO200k : kCl100k), PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &at, nullptr);
      if (!re) return std::fprintf(stderr, "pcre2_compile: error %d at %zu\n", err, static_cast<size_t>(at)), 1;
      pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
      pcre2_match_data* md = pcre2_match_data_create_from_pattern(re, nullptr);
      size_t regex_pieces = 0, scan_pieces = 0;
      double regex = best_ms([&] {
        regex_pieces = 0;
        for (size_t p = 0; p < text.size();) {
          int rc = pcre2_jit_match(re, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), p, PCRE2_NO_UTF_CHECK, md, nullptr);
          if (rc < 0) break;
          PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
          p = ov[1] > p ? ov[1] : p + 1;
          ++regex_pieces;
        }
      });
      double scan = best_ms([&] {
        scan_pieces = 0;
        scan::Cursor<false> c{reinterpret_cast<const uint8_t*>(text.data()), text.size()};
        for (size_t p = 0; p < text.size(); ++scan_pieces) p = e ? c.o200k(p) : c.cl100k(p);
      });
      std::printf("%s %s: %zu bytes; scanner %.3f ms (%zu pieces), PCRE2 JIT %.3f ms (%zu pieces): %.1fx\n", argv[a],
                  e ? "o200k_base" : "cl100k_base", text.size(), scan, scan_pieces, regex, regex_pieces, regex / scan);
      pcre2_match_data_free(md);
      pcre2_code_free(re);
    }
  }
  return 0;
}
