// The parse pool: work runs on the pool's own threads, as many as asked and no more, and the full
// index and a live tree's refreshes share it, so Options::threads bounds both and nothing leaks.
// Threads are counted the way `ps -L` would, in /proc/self/task.
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include <unistd.h>

#include "helpers.h"
#include "indexer/live_tree.h"
#include "indexer/parse_pool.h"

namespace {

std::string thread_name(int tid) {
  std::string comm;
  std::getline(std::ifstream("/proc/self/task/" + std::to_string(tid) + "/comm"), comm);
  return comm;  // "" when there is no such thread (any more)
}

// This process's threads, and those of them the parse pools started.
size_t tasks() {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : test::fs::directory_iterator("/proc/self/task", ec)) n += e.is_directory(ec);
  return n;
}

size_t parse_threads() {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : test::fs::directory_iterator("/proc/self/task", ec)) n += thread_name(std::stoi(e.path().filename())) == "indexer-parse";
  return n;
}

std::string module(int i, int version) {
  std::string text;
  for (int f = 0; f < 20; ++f)
    text += "def f" + std::to_string(i) + "_" + std::to_string(f) + "_v" + std::to_string(version) + "(x):\n    return x\n\n";
  return text;
}

}  // namespace

TEST_CASE("parse pool: a job runs on exactly the threads asked for, all of them the pool's", "[parse-pool]") {
  const size_t before = parse_threads();
  {
    indexer::ParsePool pool(3);
    CHECK(pool.size() == 3);
    CHECK(parse_threads() == before + 3);
    std::set<std::thread::id> ever;
    for (int round = 0; round < 50; ++round) {
      for (unsigned asked : {1u, 2u, 3u, 7u}) {
        std::mutex mu;
        std::set<std::thread::id> ran;
        std::set<unsigned> workers;
        pool.run(asked, [&](unsigned worker) {
          std::lock_guard lock(mu);
          ran.insert(std::this_thread::get_id());
          workers.insert(worker);
        });
        const size_t expect = std::min(asked, 3u);
        CHECK(ran.size() == expect);
        CHECK(workers.size() == expect);
        CHECK(*workers.rbegin() == expect - 1);
        CHECK(ran.count(std::this_thread::get_id()) == 0);
        ever.insert(ran.begin(), ran.end());
      }
    }
    CHECK(ever.size() == 3);  // the same three threads every time
    CHECK_THROWS_WITH(pool.run(2, [](unsigned w) { if (w == 1) throw std::runtime_error("worker 1 failed"); }), "worker 1 failed");
    std::atomic<int> after{0};
    pool.run(3, [&](unsigned) { ++after; });  // a failed job leaves the pool usable
    CHECK(after == 3);
  }
  CHECK(parse_threads() == before);  // joined with the pool
}

TEST_CASE("parse pool: index_tree without a pool starts --threads of its own and leaves none behind", "[parse-pool]") {
  test::TempDir t;
  for (int i = 0; i < 40; ++i) t.write("m" + std::to_string(i) + ".py", module(i, 0));
  const size_t before = parse_threads();
  indexer::Options options;
  options.threads = 2;
  auto r = indexer::index_tree(t.path(), options);
  REQUIRE(r.index);
  CHECK(r.summary.files_indexed == 40);
  CHECK(parse_threads() == before);
}

TEST_CASE("parse pool: a live tree's first index and every refresh parse on --threads threads, none leaked", "[parse-pool][watch]") {
  test::TempDir t;
  constexpr int kFiles = 300;
  for (int i = 0; i < kFiles; ++i) t.write("pkg" + std::to_string(i % 10) + "/m" + std::to_string(i) + ".py", module(i, 0));
  const size_t before = parse_threads();
  for (unsigned threads : {1u, 3u}) {
    CAPTURE(threads);
    indexer::Options options;
    options.threads = threads;
    std::string warning;
    auto opened = indexer::LiveTree::open(t.path(), options, t / ".indexer/snapshot", {}, warning);
    REQUIRE(opened.ok());
    std::unique_ptr<indexer::LiveTree> tree = std::move(*opened);
    CHECK(parse_threads() == before + threads);

    // A sampler counts parse threads while large refreshes run: a pool started per refresh would
    // show here.
    const size_t baseline = tasks();
    std::atomic<bool> stop{false};
    std::atomic<size_t> most{0}, samples{0};
    std::thread sampler([&] {
      while (!stop) {
        size_t n = parse_threads();
        if (n > most) most = n;
        ++samples;
      }
    });
    std::set<int> parsed_on;
    for (int version = 1; version <= 20; ++version) {
      std::vector<std::string> paths;
      for (int i = 0; i < kFiles; ++i) {
        std::string rel = "pkg" + std::to_string(i % 10) + "/m" + std::to_string(i) + ".py";
        t.write(rel, module(i, version + int(threads) * 100));
        paths.push_back(rel);
      }
      indexer::LiveTree::Report report = tree->refresh(paths);
      CHECK(report.changes.size() == size_t(kFiles));
      // The threads that parsed are `threads` distinct ones: the pool's, or with one thread, the
      // caller's (where the tree cache is).
      std::set<int> tids(report.parse_tids.begin(), report.parse_tids.end());
      CHECK(tids.size() == threads);
      for (int tid : tids) CHECK(thread_name(tid) == (threads == 1 ? thread_name(int(::gettid())) : "indexer-parse"));
      parsed_on.insert(tids.begin(), tids.end());
    }
    stop = true;
    sampler.join();
    CHECK(samples > 0);
    CHECK(most == before + threads);
    CHECK(parsed_on.size() == threads);  // the same threads every time
    CHECK(tasks() == baseline);          // none left behind
    CHECK(parse_threads() == before + threads);
    CHECK(tree->index()->symbol_count() == size_t(kFiles) * 20);
    tree.reset();
    CHECK(parse_threads() == before);
  }
}
