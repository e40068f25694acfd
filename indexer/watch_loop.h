// A live tree kept current by its watcher, on a thread of its own: what `indexer watch` runs in the
// foreground and what the service hosts.
//
// The thread takes the watcher's batches and refreshes the tree (a rescan after an overflow, at
// the watch limit, or after a .gitignore changed; an emptied index while the root is gone).
// Once the tree has been quiet for `save_after`, a second thread compacts the index if it has
// grown and saves the snapshot, so a burst of edits is neither slowed down by saves nor saved a
// hundred times. Stopping (or destroying) the loop saves what is unsaved.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "indexer/live_tree.h"

namespace indexer {

class WatchLoop {
 public:
  struct Callbacks {
    std::function<void(const LiveTree::Report&)> changed;  // on the loop's thread, after each refresh with changes
    std::function<void(const std::string&)> warning;       // watcher and snapshot warnings
    std::function<void(double milliseconds)> saved;        // a snapshot was written
  };
  struct Settings {
    size_t max_watches = 0;  // 0: as many as the system allows
    std::chrono::milliseconds save_after{1000};
  };

  WatchLoop(LiveTree& tree, Settings settings, Callbacks callbacks);
  ~WatchLoop();
  WatchLoop(const WatchLoop&) = delete;
  WatchLoop& operator=(const WatchLoop&) = delete;

  size_t watch_count() const;
  // Stops the threads and saves what is unsaved; idempotent.
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace indexer
