// The elision store: what a compactor removed from a conversation, kept compressed under a
// handle so that `context/expand` gives it back byte for byte.
//
// A handle names its bytes ("z" + 32 hex digits of their XXH3-128), so the same span stored twice is
// one entry and a compaction run twice gives the same markers. Each span is one zstd frame (level
// 3). Many small spans are alike (log lines, repeated tool output), and zstd alone gains little on a
// few hundred bytes: once enough small spans have been seen, a dictionary is trained on them
// (ZDICT_trainFromBuffer) and later small spans are compressed with it (the frame names the
// dictionary's id, so an entry decompresses whichever came first).
//
// Bounded: past `max_bytes` of compressed entries the least recently used are evicted, and get()
// then says the handle is gone rather than nothing; with a directory, every entry is also written
// there (one file a handle, plus the dictionary, also under its id so that a frame made with a
// dictionary another process trained on the same directory still reads back) and read back after
// an eviction or a restart.
//
// Thread-safety: any number of threads; compression runs outside the lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace compress {

class ElisionStore {
 public:
  struct Options {
    size_t max_bytes = size_t(256) << 20;  // compressed bytes held in memory
    int dir_fd = -1;                       // a directory to persist entries in (not owned); -1: none
    // Or: opens that directory (a new descriptor, -1 when it cannot) for each use, which the store
    // closes after. A server uses this: a descriptor held open inside its root would keep the root's
    // inode alive after an `rm -rf`, so inotify would never say the root was deleted.
    std::function<int()> open_dir;
    size_t max_dir_bytes = size_t(1) << 30;  // entries kept in the directory; the oldest go first
    size_t dictionary_after = 256;         // small spans seen before a dictionary is trained
  };
  ElisionStore();
  explicit ElisionStore(Options options);
  ~ElisionStore();
  ElisionStore(const ElisionStore&) = delete;
  ElisionStore& operator=(const ElisionStore&) = delete;

  // Keeps `bytes`; returns its handle.
  std::string put(std::string_view bytes);

  enum class Status : uint8_t { Found, Evicted, Unknown, Corrupt };
  struct Got {
    Status status = Status::Unknown;
    std::string bytes;   // Found
    std::string reason;  // otherwise: said to the client as it is
  };
  Got get(std::string_view handle);

  struct Stats {
    size_t entries = 0, original_bytes = 0, stored_bytes = 0, evicted = 0;
    bool dictionary = false;
  };
  Stats stats() const;

  static bool is_handle(std::string_view text);
  // The handle put() gives these bytes, without keeping them.
  static std::string handle_of(std::string_view bytes);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace compress
