#include "indexer/watch_loop.h"

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "indexer/watcher.h"

namespace indexer {

using Clock = std::chrono::steady_clock;

struct WatchLoop::State {
  LiveTree& tree;
  Settings settings;
  Callbacks callbacks;
  Watcher watcher;
  std::atomic<bool> stop_flag{false};
  std::atomic<bool> stopped{false};

  std::mutex mu;  // guards last_change and saving, and wakes the saver
  std::condition_variable wake;
  Clock::time_point last_change = Clock::now();
  std::thread loop, saver;

  State(LiveTree& t, Settings s, Callbacks c)
      : tree(t), settings(s), callbacks(std::move(c)),
        watcher(t.root(), [&t](const std::string& dir) { return t.ignored_dir(dir); }, s.max_watches) {}

  void warn(const std::string& w) {
    if (callbacks.warning) callbacks.warning(w);
  }

  void save() {
    // Not while the root is gone: saving into it would make it again (and an emptied index is not worth keeping).
    if (std::error_code ec; !std::filesystem::is_directory(tree.root(), ec)) return;
    auto t = Clock::now();
    tree.compact_if_needed();
    Status saved = tree.save();
    if (!saved) warn("could not save the snapshot: " + saved.error());
    else if (callbacks.saved) callbacks.saved(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
  }

  void run_loop() {
    while (!stop_flag) {
      Watcher::Batch batch = watcher.next(std::chrono::milliseconds(250), &stop_flag);
      for (const auto& w : batch.warnings) warn(w);
      LiveTree::Report report;
      if (batch.root_gone) {
        warn(tree.root().string() + " is gone (deleted, moved or unmounted); waiting for it to come back");
        report = tree.refresh({""});
      } else if (batch.rescan) {
        report = tree.rescan();
        watcher.rewatch();
      } else if (!batch.paths.empty()) {
        report = tree.refresh(batch.paths);
        if (report.rescanned) watcher.rewatch();
      }
      if (report.changes.empty()) continue;
      {
        std::lock_guard lock(mu);
        last_change = Clock::now();
      }
      wake.notify_all();
      if (callbacks.changed) callbacks.changed(report);
    }
  }

  // Saves once the tree has been dirty and quiet for save_after.
  void run_saver() {
    std::unique_lock lock(mu);
    while (!stop_flag) {
      wake.wait_for(lock, settings.save_after / 4);
      if (stop_flag || !tree.dirty() || Clock::now() - last_change < settings.save_after) continue;
      lock.unlock();
      save();
      lock.lock();
    }
  }
};

WatchLoop::WatchLoop(LiveTree& tree, Settings settings, Callbacks callbacks)
    : state_(std::make_unique<State>(tree, settings, std::move(callbacks))) {
  state_->loop = std::thread([s = state_.get()] { s->run_loop(); });
  state_->saver = std::thread([s = state_.get()] { s->run_saver(); });
}

WatchLoop::~WatchLoop() { stop(); }

size_t WatchLoop::watch_count() const { return state_->watcher.watch_count(); }

void WatchLoop::stop() {
  State& s = *state_;
  if (s.stopped.exchange(true)) return;
  {
    std::lock_guard lock(s.mu);  // the saver checks the flag under mu: it cannot miss the wakeup
    s.stop_flag = true;
  }
  s.wake.notify_all();
  s.loop.join();
  s.saver.join();
  if (s.tree.dirty()) s.save();
}

}  // namespace indexer
