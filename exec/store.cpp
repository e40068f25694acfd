#include "exec/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "indexer/confine.h"

namespace exec {
namespace {

constexpr int kVersion = 1;

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS jobs(
  id TEXT PRIMARY KEY, status TEXT NOT NULL, language TEXT NOT NULL,
  stdout BLOB, stderr BLOB, compile_output BLOB, exit_code INTEGER, signal INTEGER,
  cpu_ms REAL, wall_ms REAL, memory INTEGER, message TEXT, created INTEGER NOT NULL, finished INTEGER);
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finished);
)";

// A statement prepared for one call: the store is not on a hot path that would pay for a cache.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s, nullptr); }
  ~Stmt() { sqlite3_finalize(s); }
  Stmt& text(int i, std::string_view v) {
    sqlite3_bind_text(s, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& blob(int i, std::string_view v) {
    sqlite3_bind_blob(s, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& integer(int i, int64_t v) {
    sqlite3_bind_int64(s, i, v);
    return *this;
  }
  Stmt& maybe(int i, const std::optional<int>& v) {
    if (v) sqlite3_bind_int64(s, i, *v);
    else sqlite3_bind_null(s, i);
    return *this;
  }
  Stmt& real(int i, double v) {
    sqlite3_bind_double(s, i, v);
    return *this;
  }
  int step() { return s ? sqlite3_step(s) : SQLITE_ERROR; }
  std::string column_text(int i) {
    const void* p = sqlite3_column_blob(s, i);
    return p ? std::string(static_cast<const char*>(p), size_t(sqlite3_column_bytes(s, i))) : std::string();
  }
  std::optional<int> column_maybe(int i) {
    if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
    return int(sqlite3_column_int64(s, i));
  }
};

Status status_named(std::string_view name) {
  for (int i = 0; i < kStatuses; ++i)
    if (status_name(Status(i)) == name) return Status(i);
  return Status::InternalError;
}

// Sets a fresh connection up: WAL, the schema, the version checked. Closes it on an error.
query::Status prepared(sqlite3* db, const std::string& where) {
  auto fail = [&](const std::string& why) -> query::Status {
    sqlite3_close(db);
    return Error{where + ": " + why};
  };
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : "cannot set WAL mode";
    sqlite3_free(err);
    return fail(why);
  }
  int version = 0;
  {
    Stmt v(db, "PRAGMA user_version");
    if (v.step() == SQLITE_ROW) version = sqlite3_column_int(v.s, 0);
  }
  if (version != 0 && version != kVersion)
    return fail("format version " + std::to_string(version) + ", this server reads version " + std::to_string(kVersion));
  if (sqlite3_exec(db, kSchema, nullptr, nullptr, &err) != SQLITE_OK ||
      sqlite3_exec(db, ("PRAGMA user_version=" + std::to_string(kVersion)).c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : "cannot create the jobs table";
    sqlite3_free(err);
    return fail(why);
  }
  return {};
}

// <root>/.indexer/exec.db, opened and set up.
Result<sqlite3*> open_file(const std::filesystem::path& root) {
  // .indexer is made (or found) beneath the root, never through a link the repository planted;
  // the path SQLite opens is then the root's canonical one, so NOFOLLOW refuses a link at
  // .indexer or exec.db (SQLite opens the -wal and -shm files with O_NOFOLLOW as well).
  indexer::confine::Opened dir = indexer::confine::open_state_dir(root.string());
  if (!dir) return Error{root.string() + "/.indexer: " + std::string(indexer::confine::refusal_name(dir.refusal)) + (dir.error ? std::string(": ") + std::strerror(dir.error) : "")};
  std::error_code ec;
  std::filesystem::path canonical = std::filesystem::canonical(root, ec);
  if (ec) return Error{root.string() + ": " + ec.message()};
  std::string path = (canonical / ".indexer" / "exec.db").string();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "cannot open";
    if (rc == SQLITE_CANTOPEN_SYMLINK || (rc & 0xff) == SQLITE_CANTOPEN) why += " (a link is never followed there)";
    sqlite3_close(db);
    return Error{path + ": " + why};
  }
  if (query::Status s = prepared(db, path); !s) return Error{s.error()};
  return db;
}

sqlite3* memory_db() {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return nullptr;
  }
  return prepared(db, ":memory:") ? db : nullptr;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& root) {
  auto file = open_file(root);
  if (!file) return Error{file.error()};
  sqlite3_close(*file);
  sqlite3* memory = memory_db();
  if (!memory) return Error{"cannot open an in-memory SQLite database"};
  return std::make_unique<Store>(root, memory);
}

std::unique_ptr<Store> Store::in_memory() {
  sqlite3* memory = memory_db();
  return memory ? std::make_unique<Store>(std::filesystem::path(), memory) : nullptr;
}

Store::~Store() {
  sqlite3_close(file_);
  sqlite3_close(memory_);
}

sqlite3* Store::db() {
  if (!file_ && !root_.empty())
    if (auto f = open_file(root_)) file_ = *f;
  return file_ ? file_ : memory_;
}

void Store::idle() {
  std::lock_guard lock(mu_);
  sqlite3_close(file_);  // the last connection: the WAL is checkpointed into the file
  file_ = nullptr;
}

bool Store::add(const std::string& id, const std::string& language, int64_t created_ms) {
  std::lock_guard lock(mu_);
  Stmt s(db(), "INSERT INTO jobs(id, status, language, created) VALUES(?, 'queued', ?, ?)");
  return s.text(1, id).text(2, language).integer(3, created_ms).step() == SQLITE_DONE;
}

void Store::running(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt(db(), "UPDATE jobs SET status='running' WHERE id=?").text(1, id).step();
}

void Store::finish(const JobResult& r) {
  std::lock_guard lock(mu_);
  Stmt s(db(),
         "UPDATE jobs SET status=?2, stdout=?3, stderr=?4, compile_output=?5, exit_code=?6, signal=?7, cpu_ms=?8, wall_ms=?9,"
         " memory=?10, message=?11, finished=?12 WHERE id=?1");
  s.text(1, r.id).text(2, status_name(r.status)).blob(3, r.out).blob(4, r.err).blob(5, r.compile_output).maybe(6, r.exit_code).maybe(7, r.signal);
  s.real(8, r.cpu_ms).real(9, r.wall_ms).integer(10, int64_t(r.memory_bytes)).text(11, r.message).integer(12, r.finished_ms).step();
}

std::optional<JobResult> Store::get(const std::string& id) {
  std::lock_guard lock(mu_);
  for (sqlite3* db : {this->db(), memory_}) {
    auto r = get_from(db, id);
    if (r || db == memory_) return r;
  }
  return std::nullopt;
}

std::optional<JobResult> Store::get_from(sqlite3* db, const std::string& id) {
  Stmt s(db,
         "SELECT status, language, stdout, stderr, compile_output, exit_code, signal, cpu_ms, wall_ms, memory, message, created, finished"
         " FROM jobs WHERE id=?");
  if (s.text(1, id).step() != SQLITE_ROW) return std::nullopt;
  JobResult r;
  r.id = id;
  r.status = status_named(s.column_text(0));
  r.language = s.column_text(1);
  r.out = s.column_text(2), r.err = s.column_text(3), r.compile_output = s.column_text(4);
  r.exit_code = s.column_maybe(5), r.signal = s.column_maybe(6);
  r.cpu_ms = sqlite3_column_double(s.s, 7), r.wall_ms = sqlite3_column_double(s.s, 8);
  r.memory_bytes = uint64_t(sqlite3_column_int64(s.s, 9));
  r.message = s.column_text(10);
  r.created_ms = sqlite3_column_int64(s.s, 11), r.finished_ms = sqlite3_column_int64(s.s, 12);
  return r;
}

int Store::recover(int64_t now_ms) {
  std::lock_guard lock(mu_);
  Stmt s(db(),
         "UPDATE jobs SET status='internal_error', finished=?1, message=CASE status"
         " WHEN 'running' THEN 'the server stopped while the job ran (killed or crashed); it was not finished'"
         " ELSE 'the server stopped before the job ran (killed or crashed)' END WHERE status IN ('queued', 'running')");
  s.integer(1, now_ms).step();
  return sqlite3_changes(db());
}

void Store::purge(int64_t before_ms) {
  std::lock_guard lock(mu_);
  Stmt(db(), "DELETE FROM jobs WHERE finished IS NOT NULL AND finished < ?").integer(1, before_ms).step();
}

}  // namespace exec
