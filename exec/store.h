// The job store: one SQLite database, <root>/.indexer/exec.db, a row a job. A job's row is written
// when it is queued, when it starts and when it ends; rows past the retention time are deleted.
// Opened without following links (.indexer beneath the root by confine.h's rule, the file with
// SQLITE_OPEN_NOFOLLOW), in WAL mode with synchronous=NORMAL: a write costs tens of microseconds,
// and a power loss may lose the last ones, never corrupt the file.
//
// Format: user_version 1 (v1: the jobs table below). Another version is refused with its number,
// and the service keeps its results in memory instead, saying so.
#pragma once

#include <sqlite3.h>

#include <mutex>
#include <optional>
#include <string>

#include "exec/exec.h"

namespace exec {

class Store {
 public:
  // Checks that the file opens (made when missing), then closes it: see idle().
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& root);
  // root empty: an in-memory database only (the same code, nothing kept).
  static std::unique_ptr<Store> in_memory();
  ~Store();

  // False when the id is already there (a duplicate).
  bool add(const std::string& id, const std::string& language, int64_t created_ms);
  void running(const std::string& id);
  void finish(const JobResult& r);
  std::optional<JobResult> get(const std::string& id);
  // Rows a dead server left queued or running become internal_error; returns how many.
  int recover(int64_t now_ms);
  void purge(int64_t before_ms);
  // Closes the file while no job is live. An open file inside the root pins the root's directory
  // entry (a child's dentry holds its parent's), so a deleted root would not be reported deleted
  // (inotify's IN_DELETE_SELF) and the watcher would never rescan the root that came back.
  void idle();

  explicit Store(std::filesystem::path root, sqlite3* memory) : root_(std::move(root)), memory_(memory) {}

 private:
  std::optional<JobResult> get_from(sqlite3* db, const std::string& id);
  sqlite3* db();  // under mu_: the file, opened on demand; while it cannot be (the root is gone), memory
  std::mutex mu_;
  std::filesystem::path root_;
  sqlite3* file_ = nullptr;
  sqlite3* memory_ = nullptr;
};

}  // namespace exec
