// Snapshots: what is saved loads back identical; damaged or foreign files are refused with a
// reason; a refresh re-indexes exactly the files that changed.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "helpers.h"
#include "indexer/indexer.h"
#include "query/index_impl.h"
#include "query/snapshot.h"

namespace fs = std::filesystem;

namespace {

// Every symbol, file and import of an index, as text a failed check can show.
std::vector<std::string> dump(const query::Index& index) {
  std::vector<std::string> out;
  for (uint32_t f = 0; f < index.file_count(); ++f) {
    query::FileInfo info = index.file(f);
    out.push_back("file " + std::string(info.path) + " " + std::to_string(info.size) + " " + std::to_string(info.content_hash));
    for (const query::Import& i : index.file_imports(f))
      out.push_back("  import " + std::string(i.kind) + " " + std::string(i.specifier) + " " + std::to_string(i.line));
    auto [begin, end] = index.file_symbols(f);
    for (uint32_t id = begin; id < end; ++id) {
      query::Symbol s = index.symbol(id);
      out.push_back("  " + std::string(query::kind_name(s.kind)) + " " + std::string(s.container) + " " + std::string(s.name) + " " +
                    std::to_string(s.range.start.line) + ":" + std::to_string(s.range.start.column) + "-" +
                    std::to_string(s.range.end.line) + ":" + std::to_string(s.range.end.column) + " " +
                    std::to_string(s.selection.start.line) + " " + std::string(s.signature));
    }
  }
  return out;
}

std::vector<uint32_t> hits(const query::Index& index, std::string_view pattern) {
  query::SearchRequest req;
  req.pattern = pattern;
  std::vector<uint32_t> out;
  for (const query::Hit& h : query::search(index, req)) out.push_back(h.symbol);
  return out;
}

void set_mtime(const fs::path& p, int64_t seconds_ago) {
  struct timespec times[2];
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= seconds_ago;
  times[1] = times[0];
  REQUIRE(::utimensat(AT_FDCWD, p.c_str(), times, 0) == 0);
}

// The bytes of a snapshot of the symbols fixture, saved in `t`.
std::string symbols_snapshot(const test::TempDir& t) {
  auto built = indexer::index_tree(FIXTURES_DIR "/symbols", {});
  REQUIRE(built.index);
  REQUIRE(query::save_snapshot(*built.index, "", t / "good").ok());
  return test::read_file(t / "good");
}

// `bytes` as a snapshot file must be refused, with `why` in its one-line reason.
void check_refused(const test::TempDir& t, const std::string& bytes, const std::string& why) {
  std::ofstream(t / "bad", std::ios::binary | std::ios::trunc) << bytes;
  query::Result<query::Snapshot> r = query::load_snapshot(t / "bad");
  REQUIRE(!r.ok());
  INFO("expected: " << why << ", got: " << r.error());
  CHECK(r.error().find(why) != std::string::npos);
  CHECK(r.error().find('\n') == std::string::npos);
}

}  // namespace

TEST_CASE("snapshot: an index loads back identical and answers the same", "[snapshot]") {
  auto built = indexer::index_tree(FIXTURES_DIR "/symbols", {});
  REQUIRE(built.index);
  test::TempDir t;
  fs::path file = t / "snap";
  REQUIRE(query::save_snapshot(*built.index, "extra bytes", file).ok());
  query::Result<query::Snapshot> loaded = query::load_snapshot(file);
  INFO((loaded ? "" : loaded.error()));
  REQUIRE(loaded.ok());
  CHECK(loaded->extra == "extra bytes");
  CHECK(dump(*loaded->index) == dump(*built.index));
  for (const char* p : {"Shape", "gRS", "area", "Animal.speak", "std::vector", "os.path", "", "response status"})
    CHECK(hits(*loaded->index, p) == hits(*built.index, p));
  CHECK(loaded->index->find_exact("Shape") == built.index->find_exact("Shape"));
}

TEST_CASE("snapshot: damaged, foreign and other-version files are refused with a reason", "[snapshot]") {
  test::TempDir t;
  const std::string bytes = symbols_snapshot(t);
  auto refused = [&](const std::string& b, const std::string& why) { check_refused(t, b, why); };
  refused("", "not an indexer snapshot");
  refused("#!/bin/sh\necho hi\n", "not an indexer snapshot");
  refused(bytes.substr(0, 20), "truncated header");
  // Cut anywhere past the header, or flip any byte: refused, never half-loaded.
  for (size_t cut = 300; cut < bytes.size(); cut += bytes.size() / 13) refused(bytes.substr(0, cut), "");
  refused(bytes + "x", "trailing bytes");
  for (size_t at = 16; at < bytes.size(); at += bytes.size() / 17) {
    std::string flipped = bytes;
    flipped[at] = char(flipped[at] ^ 0x5a);
    refused(flipped, "");
  }
  // Another format version is named, whatever its checksums say.
  std::string older = bytes;
  uint32_t v = query::kSnapshotVersion - 1;
  std::memcpy(older.data() + 8, &v, 4);
  refused(older, "format v" + std::to_string(v) + ", this build reads v" + std::to_string(query::kSnapshotVersion));
  CHECK(query::load_snapshot(t / "missing").error().find("No such file") != std::string::npos);
}

TEST_CASE("snapshot: each version's file kept under tests loads while it is current, and is refused after", "[snapshot]") {
  // tests/fixtures/snapshots/vN.snapshot is the fixture tree tests/fixtures/snapshots/tree as
  // format vN wrote it (`indexer index tests/fixtures/snapshots/tree --snapshot ...`). The current
  // version's file proves the bytes did not change without a version bump; older ones prove an
  // old file gets a clean refusal.
  for (uint32_t version = 1; version <= query::kSnapshotVersion; ++version) {
    std::string file = FIXTURES_DIR "/snapshots/v" + std::to_string(version) + ".snapshot";
    INFO(file);
    query::Result<query::Snapshot> r = query::load_snapshot(file);
    if (version == query::kSnapshotVersion) {
      INFO((r ? "" : r.error()));
      REQUIRE(r.ok());
      auto fresh = indexer::index_tree(FIXTURES_DIR "/snapshots/tree", {});
      REQUIRE(fresh.index);
      CHECK(dump(*r->index) == dump(*fresh.index));
    } else {
      REQUIRE(!r.ok());
      CHECK(r.error().find("format v" + std::to_string(version) + ", this build reads v" + std::to_string(query::kSnapshotVersion)) !=
            std::string::npos);
    }
  }
}

TEST_CASE("snapshot: a refresh re-indexes exactly what changed on disk", "[snapshot]") {
  test::TempDir t;
  t.write("a.py", "def alpha():\n    pass\n");
  t.write("b.py", "def beta():\n    pass\n");
  t.write("c.py", "def gamma():\n    pass\n");
  t.write("data.bin.py", std::string("x\0y", 3));
  for (const char* f : {"a.py", "b.py", "c.py", "data.bin.py"}) set_mtime(t / f, 3600);
  fs::path snap = indexer::default_snapshot_path(t.path());
  std::string warning;

  auto first = indexer::open_tree(t.path(), {}, snap, {}, warning);
  REQUIRE(first.index);
  CHECK(warning == "");  // a missing snapshot is not worth a warning
  CHECK(first.summary.files_reused == 0);
  CHECK(first.summary.skipped[size_t(indexer::SkipReason::Binary)] == 1);
  REQUIRE(fs::exists(snap));

  // Nothing changed: the loaded index is used as it is.
  auto second = indexer::open_tree(t.path(), {}, snap, {}, warning);
  REQUIRE(second.index);
  CHECK(second.unchanged);
  CHECK(second.summary.files_reused == 3);
  CHECK(second.summary.skipped[size_t(indexer::SkipReason::Binary)] == 1);
  CHECK(dump(*second.index) == dump(*first.index));

  // Touched (same bytes): reused. Edited: parsed. Deleted: gone. New: parsed.
  set_mtime(t / "a.py", 1800);
  t.write("b.py", "def beta_two():\n    pass\n");
  set_mtime(t / "b.py", 1800);
  fs::remove(t / "c.py");
  t.write("d.py", "def delta():\n    pass\n");
  set_mtime(t / "d.py", 1800);
  auto third = indexer::open_tree(t.path(), {}, snap, {}, warning);
  REQUIRE(third.index);
  CHECK(warning == "");
  CHECK_FALSE(third.unchanged);
  CHECK(third.summary.files_indexed == 3);
  CHECK(third.summary.files_reused == 1);  // a.py
  CHECK(hits(*third.index, "alpha").size() == 1);
  CHECK(hits(*third.index, "beta_two").size() == 1);
  CHECK(third.index->find_exact("beta").empty());
  CHECK(third.index->find_exact("gamma").empty());
  CHECK(hits(*third.index, "delta").size() == 1);
  // The refreshed snapshot equals a fresh index of the tree as it is.
  auto fresh = indexer::index_tree(t.path(), {});
  CHECK(dump(*third.index) == dump(*fresh.index));

  // Other options: the snapshot does not apply; say so and index everything.
  indexer::Options other;
  other.max_file_size = 1000;
  auto fourth = indexer::open_tree(t.path(), other, snap, {}, warning);
  REQUIRE(fourth.index);
  CHECK(warning.find("other options") != std::string::npos);
  CHECK(fourth.summary.files_reused == 0);
}

TEST_CASE("snapshot: a same-size rewrite within the mtime tick is still seen", "[snapshot]") {
  // Git's racy files: written again right after being indexed, same size, same mtime.
  test::TempDir t;
  t.write("a.py", "def alpha():\n    pass\n");
  fs::path snap = indexer::default_snapshot_path(t.path());
  std::string warning;
  auto first = indexer::open_tree(t.path(), {}, snap, {}, warning);
  REQUIRE(first.index);
  struct stat before;
  REQUIRE(::stat((t / "a.py").c_str(), &before) == 0);
  t.write("a.py", "def omega():\n    pass\n");
  struct timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, (t / "a.py").c_str(), times, 0) == 0);
  auto second = indexer::open_tree(t.path(), {}, snap, {}, warning);
  REQUIRE(second.index);
  CHECK(second.index->find_exact("alpha").empty());
  CHECK(second.index->find_exact("omega").size() == 1);
}

TEST_CASE("snapshot: a corrupt snapshot means a warning and a full index, never wrong answers", "[snapshot]") {
  test::TempDir t;
  t.write("a.py", "def alpha():\n    pass\n");
  fs::path snap = indexer::default_snapshot_path(t.path());
  std::string warning;
  REQUIRE(indexer::open_tree(t.path(), {}, snap, {}, warning).index);
  std::string bytes = test::read_file(snap);
  bytes[bytes.size() / 2] ^= 0x33;
  std::ofstream(snap, std::ios::binary | std::ios::trunc) << bytes;
  t.write("a.py", "def omega():\n    pass\n");
  auto r = indexer::open_tree(t.path(), {}, snap, {}, warning);
  REQUIRE(r.index);
  CHECK(warning.find("indexing from scratch") != std::string::npos);
  CHECK(r.index->find_exact("omega").size() == 1);
  // And the snapshot was written anew.
  warning.clear();
  CHECK(indexer::open_tree(t.path(), {}, snap, {}, warning).unchanged);
  CHECK(warning == "");
}

namespace {

// A snapshot's file with one section decoded, changed by `edit` and stored again with its size and
// checksums recomputed, as anyone can: the checksums catch damage, not intent.
std::string rewrite_section(const std::string& file, uint32_t section, const std::function<void(std::string&)>& edit) {
  constexpr size_t kTable = 16, kEntry = 32, kSections = 6, kHeader = kTable + kSections * kEntry + 8;
  REQUIRE(file.size() >= kHeader);
  std::vector<size_t> at{kHeader};
  for (size_t i = 0; i < kSections; ++i) {
    uint64_t compressed;
    std::memcpy(&compressed, file.data() + kTable + i * kEntry + 8, 8);
    at.push_back(at.back() + compressed);
  }
  std::string frame = file.substr(at[section], at[section + 1] - at[section]);
  std::string raw(ZSTD_getFrameContentSize(frame.data(), frame.size()), '\0');
  REQUIRE(ZSTD_decompress(raw.data(), raw.size(), frame.data(), frame.size()) == raw.size());
  edit(raw);
  std::string packed(ZSTD_compressBound(raw.size()), '\0');
  packed.resize(ZSTD_compress(packed.data(), packed.size(), raw.data(), raw.size(), 1));
  std::string out = file.substr(0, kHeader) + file.substr(kHeader, at[section] - kHeader) + packed + file.substr(at[section + 1]);
  uint64_t entry[3] = {packed.size(), raw.size(), query::content_hash(packed)};
  std::memcpy(out.data() + kTable + section * kEntry + 8, entry, sizeof entry);
  uint64_t table_checksum = query::content_hash(std::string_view(out).substr(0, kHeader - 8));
  std::memcpy(out.data() + kHeader - 8, &table_checksum, 8);
  return out;
}

// The strings section holds two arrays: the strings blob, then the signatures blob, each a count
// then its bytes from the next multiple of 8 (query/snapshot.cpp's Writer::vec).
struct StringsSection {
  std::string strings, signatures;
  StringsSection() = default;
  explicit StringsSection(const std::string& raw) {
    size_t at = 0;
    for (std::string* blob : {&strings, &signatures}) {
      uint64_t n;
      std::memcpy(&n, raw.data() + at, 8);
      at += 8 + (8 - (at + 8) % 8) % 8;
      *blob = raw.substr(at, n);
      at += n;
    }
  }
  std::string encode() const {
    std::string out;
    for (const std::string* blob : {&strings, &signatures}) {
      uint64_t n = blob->size();
      out.append(reinterpret_cast<const char*>(&n), 8);
      out.append((8 - out.size() % 8) % 8, '\0').append(*blob);
    }
    return out;
  }
};

}  // namespace

TEST_CASE("snapshot: a string whose stored length runs past its buffer is refused, checksums or not", "[snapshot]") {
  test::TempDir t;
  const std::string bytes = symbols_snapshot(t);
  auto refused = [&](const std::string& b, const std::string& why) { check_refused(t, b, why); };
  constexpr uint32_t kRecords = 0, kStrings = 1;
  StringsSection strings;
  rewrite_section(bytes, kStrings, [&](std::string& raw) { strings = StringsSection(raw); });
  REQUIRE(strings.strings.size() > 1);
  // The rewrite itself changes nothing the loader cares about.
  {
    std::ofstream(t / "same", std::ios::binary) << rewrite_section(bytes, kStrings, [](std::string&) {});
    CHECK(query::load_snapshot(t / "same").ok());
  }
  // files[0].path set to the last byte of the strings: a path character read as a length.
  refused(rewrite_section(bytes, kRecords,
                          [&](std::string& raw) {
                            uint64_t symbols, far_ends;
                            std::memcpy(&symbols, raw.data(), 8);
                            size_t at = 8 + symbols * sizeof(query::detail::SymbolRecord);
                            std::memcpy(&far_ends, raw.data() + at, 8);
                            at += 8 + far_ends * 8 + 8;  // past far_end_lines and the files' count
                            uint32_t last = uint32_t(strings.strings.size() - 1);
                            std::memcpy(raw.data() + at, &last, 4);
                          }),
          "inconsistent file records");
  // One byte dropped from the end of the strings: the last string's length runs past it.
  refused(rewrite_section(bytes, kStrings,
                          [&](std::string& raw) {
                            StringsSection s(raw);
                            s.strings.pop_back();
                            raw = s.encode();
                          }),
          "inconsistent");
  // The same for signatures, which export prints.
  REQUIRE(strings.signatures.size() > 1);
  refused(rewrite_section(bytes, kStrings,
                          [&](std::string& raw) {
                            StringsSection s(raw);
                            s.signatures.pop_back();
                            raw = s.encode();
                          }),
          "inconsistent symbol records");
  // A length prefix that never ends (every byte has its continuation bit).
  refused(rewrite_section(bytes, kStrings,
                          [&](std::string& raw) {
                            StringsSection s(raw);
                            std::fill(s.strings.begin() + 1, s.strings.end(), '\xff');
                            raw = s.encode();
                          }),
          "inconsistent");
}

TEST_CASE("cli: a snapshot with a string past its buffer means a warning, a full index and right answers", "[cli][snapshot]") {
  test::TempDir t;
  t.write("src/shapes.py", "class Shape:\n    def area(self):\n        return 0\n");
  t.write("src/zeta.py", "def zeta_function():\n    pass\n");
  REQUIRE(test::run_indexer({"index", t.path().string()}).exit_code == 0);
  fs::path snap = t / ".indexer/snapshot";
  std::string bytes = test::read_file(snap);
  // Drop the last byte of the strings: the last path ("src/zeta.py") now ends past the buffer.
  bytes = rewrite_section(bytes, 1, [](std::string& raw) {
    StringsSection s(raw);
    s.strings.pop_back();
    raw = s.encode();
  });
  std::ofstream(snap, std::ios::binary | std::ios::trunc) << bytes;
  for (const char* command : {"query", "stats"}) {
    INFO(command);
    std::vector<std::string> args{command};
    if (std::string(command) == "query") args.push_back("zeta_function");
    args.push_back(t.path().string());
    auto r = test::run_indexer(args);
    INFO(r.err);
    CHECK(r.exit_code == 0);
    if (std::string(command) == "query") {
      CHECK(r.err.find("warning") != std::string::npos);
      CHECK(r.err.find("inconsistent") != std::string::npos);
      CHECK(r.err.find("indexing from scratch") != std::string::npos);
      CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
      CHECK(r.out.find("src/zeta.py:1") != std::string::npos);
    } else {
      CHECK(r.err.empty());  // the snapshot was written anew by the query before
    }
  }
}

namespace {

// Every entry of `dir` (not followed) with its mode and, for files, its bytes.
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    struct stat st;
    REQUIRE(::lstat(e.path().c_str(), &st) == 0);
    std::string line = e.path().filename().string() + " " + std::to_string(st.st_mode);
    if (S_ISREG(st.st_mode)) line += " " + test::read_file(e.path());
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("cli: a .indexer that links out of the tree is not written through, the query still answers", "[cli][snapshot]") {
  test::TempDir t, outside;
  t.write("src/zeta.py", "def zeta_function():\n    pass\n");
  // What a writer that followed the link would overwrite, create or clean up as stale.
  outside.write("snapshot", "victim snapshot\n");
  outside.write("snapshot.tmp.999999999", "victim stale tmp\n");
  REQUIRE(::chmod((outside / "snapshot").c_str(), 0644) == 0);
  fs::create_directory_symlink(outside.path(), t / ".indexer");
  const auto before = listing(outside.path());
  // Both warn and go on: `index` saves only, `query` loads (nothing) and saves after indexing.
  test::RunResult index = test::run_indexer({"index", t.path().string()});
  test::RunResult query = test::run_indexer({"query", "zeta_function", t.path().string()});
  for (const test::RunResult* r : {&index, &query}) {
    INFO(r->err);
    CHECK(r->exit_code == 0);
    CHECK(r->err.find("could not save the snapshot") != std::string::npos);
    CHECK(r->err.find("through a symlink") != std::string::npos);
  }
  CHECK(query.out.find("src/zeta.py:1") != std::string::npos);
  CHECK(listing(outside.path()) == before);
  CHECK(fs::is_symlink(t / ".indexer"));
}

TEST_CASE("snapshot: links planted at the temporary and final names in .indexer are replaced, never written through", "[snapshot]") {
  test::TempDir t, outside;
  t.write("src/zeta.py", "def zeta_function():\n    pass\n");
  outside.write("victim", "victim\n");
  REQUIRE(::chmod((outside / "victim").c_str(), 0640) == 0);
  fs::create_directory(t / ".indexer");
  // The exact name this process writes to first, a dead writer's leftover, and the snapshot itself.
  for (std::string name : {"snapshot.tmp." + std::to_string(::getpid()), std::string("snapshot.tmp.999999999"), std::string("snapshot")})
    fs::create_symlink(outside / "victim", t / ".indexer" / name);
  const auto before = listing(outside.path());
  auto built = indexer::index_tree(t.path(), {});
  REQUIRE(built.index);
  CHECK(indexer::save_tree(built, {}, indexer::default_snapshot_path(t.path())).ok());
  CHECK(listing(outside.path()) == before);
  // The snapshot is a file of its own now, and the leftovers are gone.
  CHECK(fs::is_regular_file(fs::symlink_status(t / ".indexer/snapshot")));
  CHECK(listing(t / ".indexer").size() == 1);
  query::Result<query::Snapshot> loaded = query::load_snapshot(t / ".indexer/snapshot");
  REQUIRE(loaded.ok());
  CHECK(hits(*loaded->index, "zeta_function").size() == 1);
}
