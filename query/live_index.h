// A live index: the one the watcher and unsaved editor buffers update while queries keep running.
//
// Layers, copy-on-write: an immutable base Index (a full index or a loaded snapshot), and an
// immutable overlay Index holding only the files changed since the base was built, with the
// base's copies of those files (and of deleted ones) masked. An update builds a new overlay from
// the old overlay's files plus the changed ones, so it costs the overlay's size, not the tree's,
// and publishes a new view with one atomic store. A query takes the current view with one atomic
// load and keeps it alive while it reads: queries never wait for an update, and never see half of
// one (a file's old symbols, postings and imports are replaced together, as are all files of one
// update). A view, and its overlay, is freed when the last query holding it finishes, so editing
// one file 10,000 times leaves one copy of it.
//
// The overlay is rebuilt in full on every update, so it must stay small: once it holds more than
// a sixteenth of the base's symbols (or 20,000), compact() folds it into a new base. That is a
// full IndexBuilder run (about a second at 1M symbols), made from the current view while updates
// go on; the updates that landed meanwhile are carried over onto the new base.
//
// A view is a query::Index: symbol and file ids are dense over the live files (the base's unmasked
// files in base order, then the overlay's in path order), so search(), outlines, exports and the
// import resolver take it as they take any Index. search() on a view searches both layers (the
// base without its masked files) and merges the two top-k lists by the ranking search() uses.
// Ids are only stable within one view.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

#include "query/query.h"

namespace query {

class LiveIndex {
 public:
  explicit LiveIndex(std::shared_ptr<const Index> base);
  ~LiveIndex();
  LiveIndex(const LiveIndex&) = delete;
  LiveIndex& operator=(const LiveIndex&) = delete;

  // The current view; valid (and unchanged) for as long as the caller holds it. Never blocks.
  std::shared_ptr<const Index> view() const { return view_.load(std::memory_order_acquire); }

  // One step: each file of `changed` replaces the file of its path (or is added), each path of
  // `removed` goes away (unknown paths are ignored). A path in both is removed.
  void update(std::span<const FileInput> changed, std::span<const std::string> removed);

  // Whether the overlay has grown enough that compact() should run.
  bool wants_compaction() const;
  // Folds the overlay into a new base. Safe to call on another thread while update() runs; two
  // compactions do not overlap (a second call waits for the first).
  void compact();

  size_t overlay_files() const;
  uint64_t generation() const;  // counts updates and compactions

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::atomic<std::shared_ptr<const Index>> view_;
};

// A plain Index with the same files as `index`: the index itself unless it is a live view, else
// a copy (a full IndexBuilder run). What a snapshot stores.
std::shared_ptr<const Index> flatten(const std::shared_ptr<const Index>& index);

}  // namespace query
