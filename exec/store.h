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
  // root empty: an in-memory database (the same code, nothing kept).
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& root);
  static std::unique_ptr<Store> in_memory();
  explicit Store(sqlite3* db) : db_(db) {}  // takes the handle
  ~Store();

  // False when the id is already there (a duplicate).
  bool add(const std::string& id, const std::string& language, int64_t created_ms);
  void running(const std::string& id);
  void finish(const JobResult& r);
  std::optional<JobResult> get(const std::string& id);
  // Rows a dead server left queued or running become internal_error; returns how many.
  int recover(int64_t now_ms);
  void purge(int64_t before_ms);

 private:
  bool exec(const char* sql);
  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace exec
