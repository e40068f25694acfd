// The threads that read and parse a tree's files: one set, started once, used by the full index
// (index_tree) and by every live update after it (LiveTree::refresh), so `--threads` bounds both.
//
// Invariant: work given to run() executes only on the pool's own threads, at most size() of them
// at once; calls to run() from several threads take turns. The threads are named "indexer-parse"
// (what /proc/<pid>/task/*/comm shows) and are joined when the pool is destroyed.
// Cost: between jobs the threads sleep on a condition variable; a job costs one wake-up per
// thread it uses and no thread creation, which matters for a refresh of a few dozen files.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace indexer {

class ParsePool {
 public:
  // `threads` 0: one per core.
  explicit ParsePool(unsigned threads);
  static unsigned threads_for(unsigned threads) { return threads ? threads : std::max(1u, std::thread::hardware_concurrency()); }
  ~ParsePool();
  ParsePool(const ParsePool&) = delete;
  ParsePool& operator=(const ParsePool&) = delete;

  unsigned size() const { return unsigned(threads_.size()); }

  // Runs `work(worker)` on `n` of the pool's threads at once (worker = 0 .. n-1; n is clamped to
  // 1 .. size()) and returns when every one has returned. Meanwhile `tick` (optional) is called on
  // the calling thread about every `interval`. An exception thrown by `work` is rethrown here,
  // after all have returned.
  void run(unsigned n, const std::function<void(unsigned worker)>& work, const std::function<void()>& tick = {},
           std::chrono::milliseconds interval = std::chrono::milliseconds(100));

 private:
  void loop(unsigned index);

  std::mutex turn_;  // one run() at a time
  std::mutex mu_;    // guards what follows
  std::condition_variable wake_, done_;
  const std::function<void(unsigned)>* work_ = nullptr;
  unsigned active_ = 0;       // threads 0 .. active_-1 take part in the current job
  unsigned running_ = 0;      // of those, how many have not returned yet
  unsigned long job_ = 0;     // bumped per job, so a thread runs each job once
  bool stopping_ = false;
  std::exception_ptr failure_;
  std::vector<std::thread> threads_;
};

}  // namespace indexer
