// cgroup v1 limits for a run's process tree (guards.h).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "sandbox/guards.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace sandbox::detail {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool has_word(std::string_view list, std::string_view word) {  // in a comma-separated list
  while (!list.empty()) {
    size_t comma = std::min(list.find(','), list.size());
    if (list.substr(0, comma) == word) return true;
    list.remove_prefix(std::min(comma + 1, list.size()));
  }
  return false;
}

// Where the v1 hierarchy of `controller` is mounted, joined with our own group in it
// ("/sys/fs/cgroup/memory" + "/process_api/1f2b…"); empty when it is not mounted.
std::string own_group(std::string_view controller) {
  std::string mount;
  std::istringstream mounts(read_text("/proc/self/mounts"));
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream fields(line);
    std::string dev, dir, type, opts;
    fields >> dev >> dir >> type >> opts;
    if (type == "cgroup" && has_word(opts, controller)) {
      mount = dir;
      break;
    }
  }
  if (mount.empty()) return {};
  std::istringstream groups(read_text("/proc/self/cgroup"));
  for (std::string line; std::getline(groups, line);) {  // "4:memory:/process_api/1f2b…"
    size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos || !has_word(std::string_view(line).substr(a + 1, b - a - 1), controller)) continue;
    std::string path = line.substr(b + 1);
    return path == "/" ? mount : mount + path;
  }
  return mount;
}

Status write_text(const std::string& path, std::string_view text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Error{path + ": " + std::strerror(errno)};
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  if (n != ssize_t(text.size())) return Error{path + ": " + std::strerror(n < 0 ? err : EIO)};
  return {};
}

// The whole of a cgroup file through a descriptor kept open (pread from 0: kernfs makes it anew).
std::string read_fd(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off_t(out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, size_t(n));
  }
}

// The number after `key` in a "key value" file (memory.oom_control, pids.events); 0 when absent.
uint64_t keyed_fd(int fd, std::string_view key) {
  std::istringstream in(read_fd(fd));
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

// Makes <own group>/indexer/<name>; the shared "indexer" level stays (other runs live in it).
Result<std::string> make_group(std::string_view controller, std::string_view name) {
  std::string own = own_group(controller);
  if (own.empty()) return Error{std::string("no cgroup v1 ") + std::string(controller) + " hierarchy is mounted"};
  std::string parent = own + "/indexer";
  if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) return Error{parent + ": " + std::strerror(errno)};
  std::string dir = parent + "/" + std::string(name);
  if (::mkdir(dir.c_str(), 0755) != 0)
    return Error{dir + ": " + (errno == EEXIST ? std::string("in use by another run") : std::strerror(errno))};
  return dir;
}

}  // namespace

CgroupSupport probe_cgroups() {
  CgroupSupport s;
  std::string why;
  for (std::string_view controller : {"memory", "pids"}) {
    std::string own = own_group(controller);
    bool usable = !own.empty() && ::access(own.c_str(), W_OK) == 0;
    if (controller == "memory") {
      s.memory = usable;
      s.memsw = usable && ::access((own + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0;
    } else {
      s.pids = usable;
    }
    if (own.empty())
      why += std::string(why.empty() ? "" : "; ") + "no cgroup v1 " + std::string(controller) + " hierarchy";
    else if (!usable)
      why += std::string(why.empty() ? "" : "; ") + own + " not writable (" + std::strerror(errno) +
             (::geteuid() != 0 ? ", not root" : "") + ")";
  }
  if (!why.empty()) {
    struct statfs fs;
    if (::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC)
      why += "; the host has cgroup v2 only, which this sandbox does not drive yet";
    s.reason = why + ": memory and process count are bounded by rlimits alone (per process, not per tree)";
  }
  return s;
}

int cgroup_join(const CgroupJoin& join) noexcept {
  for (int fd : join.fds)
    if (fd >= 0 && ::write(fd, "0", 1) != 1) return errno;
  return 0;
}

Result<Cgroup> Cgroup::create(const Limits& limits, std::string_view name) {
  if (!valid_name(name)) return Error{"cgroup name '" + std::string(name) + "': expected [A-Za-z0-9._-]{1,64}"};
  CgroupSupport support = probe_cgroups();
  if (!support.memory && !support.pids) return Error{support.reason};
  Cgroup cg;
  if (support.memory) {
    Result<std::string> dir = make_group("memory", name);
    if (!dir) return Error{dir.error()};
    cg.memory_dir_ = *dir;
    std::string bytes = std::to_string(limits.memory_bytes);
    // memsw (memory + swap) is raised and lowered after memory: the kernel keeps memsw >= memory.
    if (Status s = write_text(cg.memory_dir_ + "/memory.limit_in_bytes", bytes); !s) return Error{s.error()};
    if (support.memsw)
      if (Status s = write_text(cg.memory_dir_ + "/memory.memsw.limit_in_bytes", bytes); !s) return Error{s.error()};
    // Best effort: a group whose parent uses hierarchy may refuse swappiness; the OOM killer must be
    // on (a disabled one would leave the run hung at the limit instead of killed).
    (void)write_text(cg.memory_dir_ + "/memory.swappiness", "0");
    if (Status s = write_text(cg.memory_dir_ + "/memory.oom_control", "0"); !s) return Error{s.error()};
    cg.join_.fds[0] = ::open((cg.memory_dir_ + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (cg.join_.fds[0] < 0) return Error{cg.memory_dir_ + "/cgroup.procs: " + std::strerror(errno)};
  }
  if (support.pids) {
    Result<std::string> dir = make_group("pids", name);
    if (!dir) return Error{dir.error()};
    cg.pids_dir_ = *dir;
    if (Status s = write_text(cg.pids_dir_ + "/pids.max", std::to_string(limits.processes)); !s)
      return Error{s.error()};
    cg.join_.fds[1] = ::open((cg.pids_dir_ + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (cg.join_.fds[1] < 0) return Error{cg.pids_dir_ + "/cgroup.procs: " + std::strerror(errno)};
  }
  if (Status s = cg.open_files(); !s) return Error{s.error()};
  return cg;
}

Status Cgroup::open_files() {
  auto open_one = [](const std::string& dir, const char* name, int flags, int& fd) -> Status {
    if (dir.empty()) return {};
    std::string path = dir + "/" + name;
    fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return Error{path + ": " + std::strerror(errno)};
    return {};
  };
  for (Status s : {open_one(memory_dir_, "memory.max_usage_in_bytes", O_RDWR, max_usage_fd_),
                   open_one(memory_dir_, "memory.oom_control", O_RDONLY, oom_fd_),
                   open_one(pids_dir_, "pids.current", O_RDONLY, pids_current_fd_),
                   open_one(pids_dir_, "pids.events", O_RDONLY, pids_events_fd_)})
    if (!s) return s;
  return {};
}

Cgroup& Cgroup::operator=(Cgroup&& o) noexcept {
  if (this != &o) {
    (void)remove();
    oom_base_ = o.oom_base_;
    pids_base_ = o.pids_base_;
    pool_memory_ = o.pool_memory_;
    pool_processes_ = o.pool_processes_;
    memory_dir_ = std::move(o.memory_dir_);
    pids_dir_ = std::move(o.pids_dir_);
    join_ = std::exchange(o.join_, CgroupJoin{});
    for (auto f : {&Cgroup::max_usage_fd_, &Cgroup::oom_fd_, &Cgroup::pids_current_fd_, &Cgroup::pids_events_fd_})
      this->*f = std::exchange(o.*f, -1);
    o.memory_dir_.clear();
    o.pids_dir_.clear();
  }
  return *this;
}

Cgroup::~Cgroup() { (void)remove(); }

bool Cgroup::oom_killed() const {
  return has_memory() && keyed_fd(oom_fd_, "oom_kill") > oom_base_;
}

uint64_t Cgroup::peak_memory() const {
  if (!has_memory()) return 0;
  std::string text = read_fd(max_usage_fd_);
  uint64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

bool Cgroup::pids_limited() const {
  return has_pids() && keyed_fd(pids_events_fd_, "max") > pids_base_;
}

std::vector<pid_t> Cgroup::tasks() const {
  std::vector<pid_t> out;
  // By path, each time: a v1 cgroup.procs kept open serves the pid list it built first (the kernel
  // caches it per open file for a second), so a killed task would seem to stay.
  for (const std::string* dir : {&memory_dir_, &pids_dir_}) {
    if (dir->empty()) continue;
    std::istringstream in(read_text(*dir + "/cgroup.procs"));
    for (pid_t pid; in >> pid;) out.push_back(pid);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Status Cgroup::reset() {
  // Every task of the group counts in pids.current until it is reaped, and the memory group holds
  // the same tasks (the command joins both, its tree inherits them): 0 there means nothing is left.
  const bool empty = has_pids() && read_fd(pids_current_fd_) == "0\n";
  if (!empty) {
    if (Status s = kill_tasks(); !s) return s;
    // A killed task leaves cgroup.procs when it exits but holds its pids.max charge until it is reaped
    // (by its parent or the pid namespace's init): the next run would start short of processes.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (has_pids() && read_fd(pids_current_fd_) != "0\n") {
      if (std::chrono::steady_clock::now() > deadline) return Error{"cgroup " + pids_dir_ + ": tasks not reaped"};
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  if (has_memory()) {
    if (::pwrite(max_usage_fd_, "0", 1, 0) != 1)
      return Error{memory_dir_ + "/memory.max_usage_in_bytes: " + std::strerror(errno)};
    oom_base_ = keyed_fd(oom_fd_, "oom_kill");
  }
  if (has_pids()) pids_base_ = keyed_fd(pids_events_fd_, "max");
  return {};
}

Status Cgroup::remove() {
  for (int& fd : join_.fds)
    if (fd >= 0) ::close(std::exchange(fd, -1));
  for (int* fd : {&max_usage_fd_, &oom_fd_, &pids_current_fd_, &pids_events_fd_})
    if (*fd >= 0) ::close(std::exchange(*fd, -1));
  if (memory_dir_.empty() && pids_dir_.empty()) return {};
  if (Status s = kill_tasks(); !s) return s;
  std::string failed;
  for (std::string* dir : {&memory_dir_, &pids_dir_}) {
    if (dir->empty()) continue;
    // An exiting task leaves the group a moment after it leaves cgroup.procs: retry EBUSY briefly.
    int err = 0;
    for (int attempt = 0; attempt < 200; ++attempt) {
      err = ::rmdir(dir->c_str()) == 0 || errno == ENOENT ? 0 : errno;
      if (err != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (err != 0)
      failed += (failed.empty() ? "" : "; ") + *dir + ": " + std::strerror(err);
    else
      dir->clear();
  }
  if (!failed.empty()) return Error{"cgroup removal: " + failed};
  return {};
}

// Kill until empty: a task may fork between the read and the kill (pids.max bounds how often).
// A pid read here may exit and be reused before the kill; in a run's own pid namespace (the
// engine's) the reuse can only hit another task of the same run.
Status Cgroup::kill_tasks() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (std::vector<pid_t> left = tasks(); !left.empty(); left = tasks()) {
    if (std::chrono::steady_clock::now() > deadline)
      return Error{"cgroup " + (pids_dir_.empty() ? memory_dir_ : pids_dir_) + ": " + std::to_string(left.size()) +
                   " tasks survive SIGKILL"};
    for (pid_t pid : left) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return {};
}

Result<Cgroup> CgroupPool::acquire(const Limits& limits) {
  {
    std::lock_guard lock(mu_);
    auto it = idle_.find({limits.memory_bytes, limits.processes});
    if (it != idle_.end() && !it->second.empty()) {
      Cgroup cg = std::move(it->second.back());
      it->second.pop_back();
      return cg;
    }
  }
  auto cg = Cgroup::create(limits, "run-" + std::to_string(::getpid()) + "-" + std::to_string(made_.fetch_add(1)));
  if (!cg) return cg;
  cg->pool_memory_ = limits.memory_bytes;
  cg->pool_processes_ = limits.processes;
  return cg;
}

void CgroupPool::release(Cgroup cg) {
  if (!cg.has_memory() && !cg.has_pids()) return;
  if (!cg.reset()) return;  // removed by its destructor
  std::lock_guard lock(mu_);
  auto& v = idle_[{cg.pool_memory_, cg.pool_processes_}];
  if (v.size() < kMaxIdle) v.push_back(std::move(cg));
}

CgroupPool& cgroup_pool() {
  static CgroupPool pool;
  return pool;
}

}  // namespace sandbox::detail
