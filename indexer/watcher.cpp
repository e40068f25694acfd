#include "indexer/watcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include "indexer/confine.h"

namespace indexer {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |
                           IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;
constexpr auto kPollInterval = std::chrono::seconds(3);

std::string join(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

}  // namespace

struct Watcher::State {
  std::string root;
  std::function<bool(const std::string&)> ignored_dir;
  int fd = -1;
  std::unordered_map<int, std::string> dir_of;  // watch descriptor -> directory
  std::map<std::string, int> wd_of;             // directory -> watch descriptor, sorted for subtrees
  std::atomic<size_t> watched{0};               // wd_of.size(), for other threads
  size_t max_watches = 0;  // 0: no limit of our own
  bool polling = false;
  bool root_gone = false;
  std::string error;
  std::vector<std::string> warnings;  // for the next batch
  std::set<std::string> being_written;  // files of this batch modified and not closed yet
  Clock::time_point last_poll = Clock::now();

  // Watches `rel` and every directory below it that is not ignored.
  void watch_tree(const std::string& rel) {
    if (polling || fd < 0) return;
    std::string full = rel.empty() ? root : root + "/" + rel;
    // Only a directory beneath the root is watched (confine.h). The watch names it again, where
    // IN_DONT_FOLLOW keeps a link swapped in since from being followed at its end; whatever its
    // events name is confined again when the tree refreshes it.
    confine::Opened root_dir = confine::open_root(root);
    confine::Opened opened = root_dir ? confine::open_beneath(root_dir.fd.get(), rel, O_RDONLY | O_DIRECTORY) : confine::Opened{};
    if (!opened) return;
    bool over = max_watches && wd_of.size() >= max_watches && !wd_of.count(rel);
    int wd = over ? -1 : inotify_add_watch(fd, full.c_str(), kMask | (rel.empty() ? 0 : IN_DONT_FOLLOW));
    if (wd < 0) {
      if (over || errno == ENOSPC) {
        polling = true;
        warnings.push_back("the inotify watch limit is reached at " + std::to_string(wd_of.size()) + " directories (" +
                           (over ? "--max-watches" : "raise fs.inotify.max_user_watches") + "): rescanning every " +
                           std::to_string(kPollInterval.count()) + " s instead");
      }
      return;  // vanished, not a directory, or unreadable: the refresh says what it finds
    }
    if (auto old = wd_of.find(rel); old != wd_of.end() && old->second != wd) dir_of.erase(old->second);
    dir_of[wd] = rel;
    wd_of[rel] = wd;
    watched = wd_of.size();
    DIR* dir = ::fdopendir(opened.fd.get());
    if (!dir) return;
    opened.fd.release();  // closedir() closes it
    std::vector<std::string> subdirs;
    while (struct dirent* e = ::readdir(dir)) {
      std::string_view name = e->d_name;
      if (name == "." || name == ".." || name == ".git" || name == ".indexer") continue;
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st;
        is_dir = ::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
      }
      if (is_dir) subdirs.push_back(join(rel, name));
    }
    ::closedir(dir);
    for (const auto& s : subdirs)
      if (!ignored_dir(s)) watch_tree(s);
  }

  // Drops the watches of `rel` and below: it was deleted or moved away.
  void unwatch_tree(const std::string& rel) {
    std::string prefix = rel + "/";
    for (auto it = wd_of.lower_bound(rel); it != wd_of.end() && (it->first == rel || it->first.starts_with(prefix));) {
      inotify_rm_watch(fd, it->second);
      dir_of.erase(it->second);
      it = wd_of.erase(it);
    }
    watched = wd_of.size();
  }

  void start() {
    dir_of.clear();
    wd_of.clear();
    if (fd >= 0) ::close(fd);
    fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
      error = std::string("inotify: ") + std::strerror(errno);
      polling = true;
      warnings.push_back(error + ": rescanning every " + std::to_string(kPollInterval.count()) + " s instead");
      return;
    }
    watch_tree("");
  }

  // Reads what the kernel has queued; false when nothing was there.
  bool drain(std::set<std::string>& paths, bool& rescan) {
    alignas(inotify_event) char buf[64 * 1024];
    bool any = false;
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return any;
      any = true;
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        p += sizeof(inotify_event) + ev->len;
        handle(*ev, paths, rescan);
      }
    }
  }

  void handle(const inotify_event& ev, std::set<std::string>& paths, bool& rescan) {
    if (ev.mask & IN_Q_OVERFLOW) {
      if (!rescan) warnings.push_back("the inotify event queue overflowed (fs.inotify.max_queued_events): rescanning the tree");
      rescan = true;
      return;
    }
    auto it = dir_of.find(ev.wd);
    if (it == dir_of.end()) return;  // a watch already dropped
    const std::string dir = it->second;
    if (ev.mask & IN_IGNORED) {
      wd_of.erase(dir);
      dir_of.erase(it);
      if (dir.empty()) root_gone = true;
      return;
    }
    if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
      if (dir.empty()) root_gone = true;
      else {
        paths.insert(dir);
        unwatch_tree(dir);
      }
      return;
    }
    std::string path = ev.len ? join(dir, ev.name) : dir;
    if (ev.mask & IN_ISDIR) {
      if (ev.mask & (IN_DELETE | IN_MOVED_FROM)) unwatch_tree(path);
      if (ev.mask & (IN_CREATE | IN_MOVED_TO | IN_ATTRIB))
        if (!ignored_dir(path)) watch_tree(path);
    } else if (ev.mask & (IN_CREATE | IN_MODIFY)) {
      being_written.insert(path);  // a writer may have more to say
    } else if (ev.mask & (IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)) {
      being_written.erase(path);
    }
    paths.insert(std::move(path));
  }
};

Watcher::Watcher(std::filesystem::path root, std::function<bool(const std::string&)> ignored_dir, size_t max_watches)
    : state_(std::make_unique<State>()) {
  state_->max_watches = max_watches;
  state_->root = root.string();
  while (state_->root.size() > 1 && state_->root.back() == '/') state_->root.pop_back();
  state_->ignored_dir = std::move(ignored_dir);
  state_->start();
}

Watcher::~Watcher() {
  if (state_->fd >= 0) ::close(state_->fd);
}

Watcher::Batch Watcher::next(std::chrono::milliseconds timeout, const std::atomic<bool>* stop) {
  State& s = *state_;
  Batch batch;
  batch.warnings = std::move(s.warnings);
  s.warnings.clear();
  if (!batch.warnings.empty()) return batch;
  const auto started = Clock::now();
  auto stopped = [&] { return stop && stop->load(); };

  // A root that went away: look for it again now and then.
  if (s.root_gone) {
    while (!stopped() && Clock::now() - started < timeout) {
      struct stat st;
      if (::stat(s.root.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        s.root_gone = false;
        s.start();
        batch.rescan = true;
        return batch;
      }
      ::usleep(100 * 1000);
    }
    return batch;
  }

  std::set<std::string> paths;
  bool rescan = false;
  s.being_written.clear();
  auto wait = [&](std::chrono::milliseconds ms) {
    if (s.fd < 0) {  // no inotify: only the poll interval passes
      ::usleep(useconds_t(ms.count()) * 1000);
      return false;
    }
    pollfd p{s.fd, POLLIN, 0};
    return ::poll(&p, 1, int(ms.count())) > 0;
  };
  std::chrono::milliseconds first_wait = timeout;
  if (s.polling) first_wait = std::min(timeout, std::chrono::duration_cast<std::chrono::milliseconds>(kPollInterval));
  if (!stopped() && wait(first_wait)) {
    s.drain(paths, rescan);
    // Gather the rest of the burst. Once every file written has been closed again (an editor's
    // save, a tool's write), nothing more is coming for it: go at once, not after the quiet time.
    for (;;) {
      auto quiet = std::chrono::milliseconds(paths.size() > 200 ? 50 : s.being_written.empty() ? 0 : 2);
      if (stopped() || Clock::now() - started > std::chrono::seconds(2) || !wait(quiet)) break;
      s.drain(paths, rescan);
    }
  }
  if (s.polling && Clock::now() - s.last_poll >= kPollInterval) {
    rescan = true;
    s.last_poll = Clock::now();
  }
  batch.warnings = std::move(s.warnings);
  s.warnings.clear();
  batch.root_gone = s.root_gone;
  batch.rescan = rescan && !s.root_gone;
  batch.paths.assign(paths.begin(), paths.end());
  return batch;
}

void Watcher::rewatch() { state_->watch_tree(""); }
size_t Watcher::watch_count() const { return state_->watched.load(); }
bool Watcher::polling() const { return state_->polling; }
const std::string& Watcher::error() const { return state_->error; }

}  // namespace indexer
