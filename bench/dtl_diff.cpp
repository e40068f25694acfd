// dtl alone, as a program that uses it would: two files' lines as strings, Wu's O(NP) SES, and
// dtl's own unified hunks written to stdout. The peer of `indexer diff` in indexer_diff_bench.
#include <dtl/dtl.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

static std::vector<std::string> lines(const char* path) {
  std::ifstream f(path, std::ios::binary);
  std::string text{std::istreambuf_iterator<char>(f), {}};
  std::vector<std::string> out;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end;
    out.emplace_back(text, start, end - start);
    start = end + 1;
  }
  return out;
}

int main(int argc, char** argv) {
  if (argc != 3) return std::cerr << "usage: indexer_dtl_diff OLD NEW\n", 2;
  std::vector<std::string> a = lines(argv[1]), b = lines(argv[2]);
  dtl::Diff<std::string> d(a, b);
  d.onHuge();
  d.compose();
  d.composeUnifiedHunks();
  std::ostringstream out;
  d.printUnifiedFormat(out);
  std::cout << "--- " << argv[1] << "\n+++ " << argv[2] << '\n' << out.str();
  return d.getEditDistance() ? 1 : 0;
}
