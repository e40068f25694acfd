// Snapshots: an Index saved to one file and loaded back, so a restart costs a read, not a re-index.
//
// Format: a fixed header (magic, format version, section table with sizes and an XXH3 checksum of
// each section's stored bytes, and a checksum of the table itself), then the sections, each one
// zstd frame. Sections hold the Index's flat arrays as they are in memory (little-endian only),
// posting lists included (one byte buffer each), so loading is streaming decompression straight
// into the final arrays plus checks of the invariants search relies on; sections decompress in
// parallel. The caller may store bytes of its own in the `extra` section (indexer/
// keeps the tree's file states there).
//
// Writing goes to a temporary file in the same directory, fsynced, then renamed over the old one:
// a crash at any instant leaves the old snapshot or the new one, never a mix. A snapshot that is
// truncated, corrupt, foreign or of another format version fails to load with a one-line reason;
// it is never half-loaded.
//
// Format versions (bump kSnapshotVersion on any change to the bytes, and add the new version's
// tests/fixtures/snapshots/vN.snapshot beside the old ones, which prove old files are rejected cleanly):
//   1  first format: records, strings, names, trigram and segment postings, qualifier lists
//   2  flat block-encoded postings (posting_list.h), 24-byte records, checksums of stored bytes
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "query/query.h"
#include "query/result.h"

namespace query {

inline constexpr uint32_t kSnapshotVersion = 2;

struct Snapshot {
  std::unique_ptr<Index> index;
  std::string extra;
};

// Writes atomically. `path` is one the user chose: its directories are made and links on the way
// are followed.
Status save_snapshot(const Index& index, std::string_view extra, const std::filesystem::path& path);

// The same into `name` within the open directory `dir_fd`, following no link: the temporary is
// created O_EXCL | O_NOFOLLOW, renamed and cleaned up relative to `dir_fd`. For a directory the
// indexed repository controls (indexer/ opens it under confine.h's rule).
Status save_snapshot_at(const Index& index, std::string_view extra, int dir_fd, const std::string& name);

// An error is one line: why the file could not be used.
Result<Snapshot> load_snapshot(const std::filesystem::path& path);

// XXH3 of bytes: the content hash of files and the checksum of snapshot sections.
uint64_t content_hash(std::string_view bytes);

}  // namespace query
