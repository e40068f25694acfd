// The snapshot loader (query/snapshot.cpp) and what query, stats and export then read of the
// index. A snapshot comes with a cloned repository and its checksums can be recomputed by anyone,
// so the harness does it: an input is either a whole file (it starts with the magic) or, to reach
// past the checksums and zstd, the six sections raw: six little-endian uint32 sizes, then the
// bytes. fuzz/corpus/snapshot/ holds a real snapshot's sections and mutants of them.
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

#include "query/query.h"
#include "query/snapshot.h"

namespace {

constexpr size_t kSections = 6;

std::string file_of_sections(std::string_view in) {
  uint32_t sizes[kSections];
  if (in.size() < sizeof sizes) return {};
  std::memcpy(sizes, in.data(), sizeof sizes);
  in.remove_prefix(sizeof sizes);
  std::string header("IDXSNAP\n", 8), frames;
  uint32_t version_and_count[2] = {query::kSnapshotVersion, kSections};
  header.append(reinterpret_cast<const char*>(version_and_count), 8);
  for (size_t i = 0; i < kSections; ++i) {
    std::string_view raw = in.substr(0, sizes[i]);
    in.remove_prefix(raw.size());
    std::string frame(ZSTD_compressBound(raw.size()), '\0');
    frame.resize(ZSTD_compress(frame.data(), frame.size(), raw.data(), raw.size(), 1));
    uint32_t id[2] = {uint32_t(i), 0};
    uint64_t entry[3] = {frame.size(), raw.size(), XXH3_64bits(frame.data(), frame.size())};
    header.append(reinterpret_cast<const char*>(id), 8).append(reinterpret_cast<const char*>(entry), 24);
    frames += frame;
  }
  uint64_t checksum = XXH3_64bits(header.data(), header.size());
  header.append(reinterpret_cast<const char*>(&checksum), 8);
  return header + frames;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The loader maps a file: in memory where there is a tmpfs for it.
  static const struct Scratch {
    std::string path = std::string(::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/indexer-fuzz-snapshot-" +
                       std::to_string(::getpid());
    ~Scratch() { ::unlink(path.c_str()); }
  } scratch;
  const std::string& path = scratch.path;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string bytes = in.starts_with("IDXSNAP\n") ? std::string(in) : file_of_sections(in);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  query::Result<query::Snapshot> loaded = query::load_snapshot(path);
  if (!loaded) return 0;
  const query::Index& index = *loaded->index;
  // What query, stats, export and graph read: every file, its imports and symbols, by path too.
  size_t total = 0;
  for (uint32_t f = 0; f < index.file_count(); ++f) {
    query::FileInfo info = index.file(f);
    total += info.path.size();
    if (auto again = index.find_file(info.path); !again) __builtin_trap();
    for (const query::Import& i : index.file_imports(f)) total += i.specifier.size() + i.kind.size();
    auto [begin, end] = index.file_symbols(f);
    for (uint32_t id = begin; id < end; ++id) {
      query::Symbol s = index.symbol(id);
      total += s.name.size() + s.container.size() + s.signature.size() + s.path.size();
    }
  }
  for (const char* pattern : {"a", "Shape", "x.y", "std::v", "src/a:b", ""}) {
    query::SearchRequest req;
    req.pattern = pattern;
    req.limit = 20;
    for (const query::Hit& h : query::search(index, req)) total += index.symbol(h.symbol).name.size();
  }
  return total == SIZE_MAX;  // keeps the reads
}
