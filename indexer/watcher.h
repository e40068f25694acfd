// Following a tree's changes with inotify, as batches of paths for LiveTree::refresh().
//
// Every directory that is not ignored gets a watch; a directory that appears (created, moved in)
// is watched as it appears, and refresh() walks it, so files created in it before its watch
// existed are not missed. A directory deleted or moved out is one path: its watches go, and
// refresh() drops what the index held under it.
//
// Batching: next() waits for the first event, then gathers until the tree is quiet for a moment
// (2 ms; 50 ms once a batch holds hundreds of paths, as during a `git checkout`, and never longer
// than 2 s in all), so a burst becomes one batch, one parse of each file and one index update.
// When every file written in the batch has been closed again, nothing more is coming: the batch
// goes at once, with what the kernel has queued by then.
// Paths are deduplicated: an editor's save-by-rename, or a file written in many pieces, is one path.
//
// Never a stale index: an event-queue overflow asks for a rescan; once the watch limit
// (fs.inotify.max_user_watches) is reached the watcher warns and falls back to asking for a
// rescan every few seconds. A root that is deleted, moved or unmounted is reported; the watcher
// then waits for a directory to appear at its path again and asks for a rescan.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace indexer {

class Watcher {
 public:
  // `ignored_dir(rel)` says whether a directory (relative to the root) is left unwatched. At most
  // `max_watches` directories are watched (0: as many as the system allows); past that the
  // watcher polls, as at the system's limit.
  Watcher(std::filesystem::path root, std::function<bool(const std::string&)> ignored_dir, size_t max_watches = 0);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  struct Batch {
    std::vector<std::string> paths;  // relative to the root ("" is the root), sorted, unique
    bool rescan = false;             // events were lost or cannot be had: compare the whole tree
    bool root_gone = false;          // the root was deleted, moved away or unmounted
    std::vector<std::string> warnings;
    bool empty() const { return paths.empty() && !rescan && !root_gone && warnings.empty(); }
  };
  // Waits up to `timeout` for the first event; an empty batch when none came or `stop` is set
  // (a signal interrupts the wait).
  Batch next(std::chrono::milliseconds timeout, const std::atomic<bool>* stop = nullptr);

  // Watches directories the ignore rules no longer exclude (after a .gitignore changed).
  void rewatch();

  size_t watch_count() const;  // any thread may ask
  bool polling() const;           // the watch limit was reached: rescans stand in for events
  const std::string& error() const;  // inotify could not be used at all ("" when it can)

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace indexer
