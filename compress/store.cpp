#include "compress/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>
#include <zdict.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <list>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace compress {

namespace {

constexpr int kLevel = 3;
constexpr size_t kSmall = 4096;               // spans this short or shorter use the dictionary
constexpr size_t kDictionaryBytes = 64 << 10;  // zstd's advice: about 100x smaller than the samples
constexpr size_t kMaxRemembered = 1 << 20;     // evicted handles told apart from unknown ones
constexpr size_t kMaxFile = size_t(1) << 30;   // a persisted entry larger than this is damaged
constexpr const char* kDictionaryFile = "dictionary.zdict";  // the one this directory's writers use

std::string dictionary_file(unsigned id) { return "dictionary-" + std::to_string(id) + ".zdict"; }

std::string hash_handle(std::string_view bytes) {
  XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  char out[34];
  std::snprintf(out, sizeof out, "z%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
  return out;
}

bool read_file(int dir_fd, const std::string& name, std::string& out) {
  int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && size_t(st.st_size) <= kMaxFile;
  if (ok) {
    out.resize(size_t(st.st_size));
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::read(fd, out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += size_t(n);
    }
    ok = done == out.size();
  }
  ::close(fd);
  return ok;
}

// Written whole or not at all: a temporary name, then a rename over the final one.
bool write_file(int dir_fd, const std::string& name, std::string_view bytes) {
  static std::atomic<unsigned> serial{0};
  char suffix[48];
  std::snprintf(suffix, sizeof suffix, ".%d.%u", int(::getpid()), serial++);
  std::string tmp = '.' + name;
  tmp += suffix;
  int fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) break;
    done += size_t(n);
  }
  bool ok = done == bytes.size();
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return false;
  }
  return true;
}

// The bytes of a frame, checked against the handle that names them.
std::optional<std::string> open_frame(std::string_view frame, std::string_view handle, const ZSTD_DDict* ddict, unsigned dictionary_id) {
  unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR || size > kMaxFile) return std::nullopt;
  std::string out(size_t(size), '\0');
  unsigned id = ZSTD_getDictID_fromFrame(frame.data(), frame.size());
  if (id && (!ddict || id != dictionary_id)) return std::nullopt;
  // One context a thread, kept: making one costs more than decompressing a short span.
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  size_t n = id ? ZSTD_decompress_usingDDict(dctx.get(), out.data(), out.size(), frame.data(), frame.size(), ddict)
                : ZSTD_decompressDCtx(dctx.get(), out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != out.size() || hash_handle(out) != handle) return std::nullopt;
  return out;
}

}  // namespace

struct ElisionStore::State {
  Options options;
  // The persistence directory for one use: options.dir_fd, or one options.open_dir opened.
  struct Dir {
    int fd = -1;
    bool owned = false;
    Dir() = default;
    Dir(int f, bool o) : fd(f), owned(o) {}
    Dir(const Dir&) = delete;
    Dir& operator=(const Dir&) = delete;
    ~Dir() {
      if (owned && fd >= 0) ::close(fd);
    }
    explicit operator bool() const { return fd >= 0; }
  };
  Dir dir() const { return options.open_dir ? Dir(options.open_dir(), true) : Dir(options.dir_fd, false); }
  bool persists() const { return options.dir_fd >= 0 || bool(options.open_dir); }
  mutable std::mutex mu;
  struct Entry {
    std::string frame;
    size_t original = 0;
    std::list<std::string>::iterator lru;
  };
  std::unordered_map<std::string, Entry> entries;
  std::list<std::string> lru;  // most recently used first
  size_t stored = 0, original = 0, evicted_count = 0;
  std::unordered_set<std::string> evicted;
  // The directory's entry files, oldest first (by modification time when it was opened, then as
  // written): what the disk cap removes first.
  std::list<std::pair<std::string, size_t>> on_disk;
  std::unordered_map<std::string, std::list<std::pair<std::string, size_t>>::iterator> on_disk_index;
  size_t dir_bytes = 0;

  void scan_directory() {
    Dir d = dir();
    if (!d) return;
    int fd = ::openat(d.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    DIR* dir = ::fdopendir(fd);
    if (!dir) {
      ::close(fd);
      return;
    }
    std::vector<std::tuple<int64_t, std::string, size_t>> found;
    while (dirent* e = ::readdir(dir)) {
      std::string_view name = e->d_name;
      if (name.size() != 37 || !name.ends_with(".zst") || !is_handle(name.substr(0, 33))) continue;
      struct stat st;
      if (::fstatat(d.fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
      found.emplace_back(int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec, std::string(name.substr(0, 33)), size_t(st.st_size));
    }
    ::closedir(dir);
    std::sort(found.begin(), found.end());
    for (auto& [when, handle, size] : found) note_on_disk(handle, size);
  }
  void note_on_disk(const std::string& handle, size_t size) {
    if (auto it = on_disk_index.find(handle); it != on_disk_index.end()) {
      dir_bytes -= it->second->second;
      on_disk.erase(it->second);
    }
    on_disk.emplace_back(handle, size);
    on_disk_index[handle] = std::prev(on_disk.end());
    dir_bytes += size;
  }
  // Removes the oldest files while the directory holds more than its cap; never `keep` (the entry
  // just written, which alone may be over it).
  void trim_directory(const std::string& keep) {
    if (dir_bytes <= options.max_dir_bytes) return;
    Dir d = dir();
    while (d && dir_bytes > options.max_dir_bytes && !on_disk.empty() && on_disk.front().first != keep) {
      auto [handle, size] = on_disk.front();
      on_disk.pop_front();
      on_disk_index.erase(handle);
      dir_bytes -= size;
      ::unlinkat(d.fd, (handle + ".zst").c_str(), 0);
      if (!entries.count(handle)) {
        if (evicted.size() >= kMaxRemembered) evicted.clear();
        evicted.insert(handle);
      }
    }
  }

  // The dictionary: trained once, from the first small spans.
  std::vector<std::string> samples;
  bool trained = false;  // tried (it may have failed: too few distinct samples)
  std::shared_ptr<ZSTD_CDict> cdict;
  std::shared_ptr<ZSTD_DDict> ddict;
  unsigned dictionary_id = 0;
  std::unordered_map<unsigned, std::shared_ptr<ZSTD_DDict>> others;  // by id; null: none there

  void use_dictionary(std::string_view dict) {
    ZSTD_CDict* c = ZSTD_createCDict(dict.data(), dict.size(), kLevel);
    ZSTD_DDict* d = ZSTD_createDDict(dict.data(), dict.size());
    if (!c || !d) {
      ZSTD_freeCDict(c);
      ZSTD_freeDDict(d);
      return;
    }
    cdict.reset(c, ZSTD_freeCDict);
    ddict.reset(d, ZSTD_freeDDict);
    dictionary_id = ZSTD_getDictID_fromDict(dict.data(), dict.size());
    trained = true;
  }

  // Called with `mu` held, once enough small spans were seen; trains outside it.
  void train(std::unique_lock<std::mutex>& lock) {
    trained = true;
    std::vector<std::string> taken = std::move(samples);
    samples.clear();
    lock.unlock();
    std::string joined;
    std::vector<size_t> sizes;
    for (const auto& s : taken) joined += s, sizes.push_back(s.size());
    std::string dict(kDictionaryBytes, '\0');
    size_t n = ZDICT_trainFromBuffer(dict.data(), dict.size(), joined.data(), sizes.data(), unsigned(sizes.size()));
    lock.lock();
    if (ZDICT_isError(n)) return;  // too little to learn from: plain frames from here on
    dict.resize(n);
    use_dictionary(dict);
    if (Dir d = dir()) {
      // Also under its id: another process sharing the directory may train its own and write
      // kDictionaryFile after us; our frames still find theirs.
      write_file(d.fd, dictionary_file(dictionary_id), dict);
      write_file(d.fd, kDictionaryFile, dict);
    }
  }

  // A dictionary other than ours that a persisted frame names, read from the directory once.
  std::shared_ptr<ZSTD_DDict> other_dictionary(unsigned id) {
    if (auto it = others.find(id); it != others.end()) return it->second;
    std::string dict;
    std::shared_ptr<ZSTD_DDict> d;
    Dir where = dir();
    if (where && read_file(where.fd, dictionary_file(id), dict) && ZSTD_getDictID_fromDict(dict.data(), dict.size()) == id)
      if (ZSTD_DDict* made = ZSTD_createDDict(dict.data(), dict.size())) d.reset(made, ZSTD_freeDDict);
    if (others.size() < 64) others.emplace(id, d);  // a damaged directory cannot grow this without end
    return d;
  }

  void evict_past_cap() {
    while (stored > options.max_bytes && !lru.empty()) {
      auto it = entries.find(lru.back());
      stored -= it->second.frame.size();
      original -= it->second.original;
      if (!persists() || !on_disk_index.count(it->first)) {
        if (evicted.size() >= kMaxRemembered) evicted.clear();
        evicted.insert(it->first);
      }
      ++evicted_count;
      entries.erase(it);
      lru.pop_back();
    }
  }
};

ElisionStore::ElisionStore() : ElisionStore(Options{}) {}

ElisionStore::ElisionStore(Options options) : state_(std::make_unique<State>()) {
  state_->options = options;
  std::string dict;
  if (State::Dir d = state_->dir(); d && read_file(d.fd, kDictionaryFile, dict)) state_->use_dictionary(dict);
  if (state_->persists()) state_->scan_directory();
}

ElisionStore::~ElisionStore() = default;

std::string ElisionStore::handle_of(std::string_view bytes) { return hash_handle(bytes); }

bool ElisionStore::is_handle(std::string_view text) {
  return text.size() == 33 && text[0] == 'z' && text.find_first_not_of("0123456789abcdef", 1) == std::string_view::npos;
}

std::string ElisionStore::put(std::string_view bytes) {
  State& s = *state_;
  std::string handle = hash_handle(bytes);
  std::shared_ptr<ZSTD_CDict> cdict;
  {
    std::unique_lock lock(s.mu);
    if (auto it = s.entries.find(handle); it != s.entries.end()) {
      s.lru.splice(s.lru.begin(), s.lru, it->second.lru);
      return handle;
    }
    if (bytes.size() <= kSmall && !s.trained) {
      s.samples.emplace_back(bytes);
      if (s.samples.size() >= s.options.dictionary_after) s.train(lock);
    }
    if (bytes.size() <= kSmall) cdict = s.cdict;
  }
  std::string frame(ZSTD_compressBound(bytes.size()), '\0');
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  size_t n = cdict ? ZSTD_compress_usingCDict(cctx.get(), frame.data(), frame.size(), bytes.data(), bytes.size(), cdict.get())
                   : ZSTD_compressCCtx(cctx.get(), frame.data(), frame.size(), bytes.data(), bytes.size(), kLevel);
  if (ZSTD_isError(n)) frame.clear();  // cannot happen with a bound-sized buffer; kept out rather than wrong
  frame.resize(ZSTD_isError(n) ? 0 : n);
  bool written = false;
  if (!frame.empty() && s.persists())
    if (State::Dir d = s.dir()) written = write_file(d.fd, handle + ".zst", frame);
  std::lock_guard lock(s.mu);
  if (written) {
    s.note_on_disk(handle, frame.size());
    s.trim_directory(handle);
  }
  if (frame.empty() || s.entries.count(handle)) return handle;
  s.lru.push_front(handle);
  s.stored += frame.size();
  s.original += bytes.size();
  s.entries.emplace(handle, State::Entry{std::move(frame), bytes.size(), s.lru.begin()});
  s.evicted.erase(handle);
  s.evict_past_cap();
  return handle;
}

ElisionStore::Got ElisionStore::get(std::string_view handle) {
  State& s = *state_;
  std::string name(handle);
  Got got;
  if (!is_handle(handle)) {
    got.reason = name.substr(0, 40);
    got.reason.insert(0, 1, '\'');
    got.reason += "' is not a handle (a handle is z and 32 hex digits, as context/compact's markers name it)";
    return got;
  }
  std::string frame;
  {
    std::lock_guard lock(s.mu);
    if (auto it = s.entries.find(name); it != s.entries.end()) {
      s.lru.splice(s.lru.begin(), s.lru, it->second.lru);
      frame = it->second.frame;
    } else if (s.evicted.count(name)) {
      got.status = Status::Evicted;
      got.reason = "handle " + name + " was evicted: the store keeps the most recently used " + std::to_string(s.options.max_bytes >> 20) +
                   " MiB of compressed spans" +
                   (s.persists() ? ", and the newest " + std::to_string(s.options.max_dir_bytes >> 20) + " MiB on disk" : "");
      return got;
    }
  }
  bool from_disk = false;
  if (frame.empty() && s.persists())
    if (State::Dir d = s.dir()) from_disk = read_file(d.fd, name + ".zst", frame);
  if (frame.empty() && !from_disk) {
    got.reason = "no span with handle " + name + " (handles come from this server's context/compact markers)";
    return got;
  }
  std::shared_ptr<ZSTD_DDict> ddict;
  unsigned dictionary_id;
  {
    std::lock_guard lock(s.mu);  // the dictionary may be set meanwhile
    ddict = s.ddict, dictionary_id = s.dictionary_id;
    unsigned id = ZSTD_getDictID_fromFrame(frame.data(), frame.size());
    if (id && id != dictionary_id) ddict = s.other_dictionary(id), dictionary_id = id;
  }
  std::optional<std::string> bytes = open_frame(frame, name, ddict.get(), dictionary_id);
  if (!bytes) {
    got.status = Status::Corrupt;
    got.reason = "handle " + name + ": the stored copy does not decompress to the bytes it names";
    return got;
  }
  got.status = Status::Found;
  got.bytes = std::move(*bytes);
  return got;
}

ElisionStore::Stats ElisionStore::stats() const {
  std::lock_guard lock(state_->mu);
  return {state_->entries.size(), state_->original, state_->stored, state_->evicted_count, state_->cdict != nullptr};
}

}  // namespace compress
