// compress/tokens.h timed: `indexer_tokens_bench ENCODING FILE...` prints one JSON line per file
// with its tokens and the best wall time of count and encode (and count's best thread CPU time)
// over repeated runs, after the
// first-use load of the encoding (timed on its own, in this fresh process).
// bench/tokens_bench.mjs runs it beside the Node tokenizers; see README "Tokens".
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "compress/tokens.h"

namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// This thread's CPU time: on a machine shared with other jobs it moves far less than wall time.
double cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace compress::tokens;
  auto encoding = argc > 1 ? encoding_named(argv[1]) : std::nullopt;
  if (!encoding || argc < 3) {
    std::fprintf(stderr, "usage: indexer_tokens_bench o200k_base|cl100k_base FILE...\n");
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  const Tokenizer& t = tokenizer(*encoding);
  double load = ms_since(start);
  std::printf("{\"load_ms\":%.3f}\n", load);
  for (int a = 2; a < argc; ++a) {
    std::ifstream in(argv[a], std::ios::binary);
    if (!in) return std::fprintf(stderr, "cannot read %s\n", argv[a]), 1;
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    // Runs until 0.5 s have passed or 200 runs, at least 3: the best run is reported.
    double count_best = 1e300, encode_best = 1e300, count_cpu = 1e300, count_first = 0;
    size_t tokens = 0;
    std::vector<uint32_t> ids;
    auto began = std::chrono::steady_clock::now();
    for (int run = 0; run < 200 && (run < 3 || ms_since(began) < 500); ++run) {
      auto t0 = std::chrono::steady_clock::now();
      double c0 = cpu_ms();
      tokens = t.count(text);
      count_cpu = std::min(count_cpu, cpu_ms() - c0);
      count_best = std::min(count_best, ms_since(t0));
      if (run == 0) count_first = ms_since(t0);  // the merge cache as this file left it: cold but for the files before
      ids.clear();
      auto t1 = std::chrono::steady_clock::now();
      t.encode(text, ids);
      encode_best = std::min(encode_best, ms_since(t1));
    }
    std::printf("{\"file\":\"%s\",\"bytes\":%zu,\"tokens\":%zu,\"count_ms\":%.4f,\"count_cpu_ms\":%.4f,\"count_first_ms\":%.4f,\"encode_ms\":%.4f}\n",
                argv[a], text.size(), tokens, count_best, count_cpu, count_first, encode_best);
  }
  return 0;
}
