#include "query/snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "query/index_impl.h"

namespace query {

static_assert(std::endian::native == std::endian::little, "snapshots store arrays as little-endian bytes");

uint64_t content_hash(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

namespace detail {
namespace {

constexpr char kMagic[8] = {'I', 'D', 'X', 'S', 'N', 'A', 'P', '\n'};
enum Section : uint32_t { kRecords, kStrings, kNames, kTokens, kSegments, kExtra, kSectionCount };

struct SectionEntry {
  uint32_t id, reserved;
  uint64_t compressed_size, raw_size, checksum;
};
static_assert(sizeof(SectionEntry) == 32);
constexpr size_t kHeaderSize = sizeof kMagic + 8 + kSectionCount * sizeof(SectionEntry) + 8;

class Writer {
 public:
  // Arrays start 8-byte aligned within a section, so a reader can copy them out as T.
  template <typename T>
  void vec(const std::vector<T>& v) {
    u64(v.size());
    out.append((8 - out.size() % 8) % 8, '\0');
    out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  void u64(uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }
  void bytes(std::string_view s) {
    u64(s.size());
    out.append(s);
  }
  std::string out;
};

// Reads a section by decompressing its zstd frame as it goes: arrays are filled from a small
// buffer that stays in cache, so a load allocates the index's arrays and nothing of their size
// besides (no whole-section buffer for the kernel to zero and the reader to copy out of). Any
// overrun or zstd error makes ok() false and every later read a no-op.
class Reader {
 public:
  Reader(std::string_view frame, uint64_t raw_size)
      : ctx_(ZSTD_createDCtx()), in_{frame.data(), frame.size(), 0}, raw_size_(raw_size), chunk_(new char[kChunk]) {
    ok_ = ctx_ != nullptr;
  }
  ~Reader() { ZSTD_freeDCtx(ctx_); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Arrays start 8-byte aligned within a section (Writer::vec).
  template <typename T>
  void vec(std::vector<T>& v) {
    static_assert(alignof(T) <= 8 && kChunk % sizeof(T) == 0);
    uint64_t n = u64();
    char pad[8];
    if (!pull(pad, (8 - pos_ % 8) % 8) || n > (raw_size_ - pos_) / sizeof(T)) return fail();
    v.clear();
    v.reserve(n);
    for (uint64_t left = n; left;) {
      size_t k = std::min<uint64_t>(left, kChunk / sizeof(T));
      if (!pull(chunk_.get(), k * sizeof(T))) return fail();
      const T* first = reinterpret_cast<const T*>(chunk_.get());
      v.insert(v.end(), first, first + k);
      left -= k;
    }
  }
  uint64_t u64() {
    uint64_t v = 0;
    if (!pull(&v, 8)) fail();
    return v;
  }
  // Exactly n more bytes of the section into dst.
  bool pull(void* dst, size_t n) {
    if (!ok_ || n > raw_size_ - pos_) return ok_ = false;
    ZSTD_outBuffer out{dst, n, 0};
    while (out.pos < out.size) {
      size_t in_before = in_.pos, out_before = out.pos;
      size_t r = ZSTD_decompressStream(ctx_, &out, &in_);
      if (ZSTD_isError(r) || (in_.pos == in_before && out.pos == out_before)) return ok_ = false;
    }
    pos_ += n;
    return true;
  }
  void fail() { ok_ = false; }
  bool ok() const { return ok_ && pos_ == raw_size_; }

 private:
  static constexpr size_t kChunk = 96 << 10;  // a multiple of every record size; fits in L2
  ZSTD_DCtx* ctx_;
  ZSTD_inBuffer in_;
  uint64_t raw_size_;
  uint64_t pos_ = 0;
  std::unique_ptr<char[]> chunk_;
  bool ok_ = true;
};

}  // namespace

// Reaches the private arrays of the index's containers.
struct SnapshotCodec {
  static void put(Writer& w, const StringBlob& b) { w.vec(b.bytes_); }
  static void get(Reader& r, StringBlob& b) {
    r.vec(b.bytes_);
    if (b.bytes_.empty() || b.bytes_[0] != 0) r.fail();
  }
  static void put(Writer& w, const Postings& p) {
    w.vec(p.offsets_);
    w.vec(p.bytes_);
  }
  static void get(Reader& r, Postings& p) {
    r.vec(p.offsets_);
    r.vec(p.bytes_);
    if (!p.offsets_ok()) r.fail();  // validate() reads lists by these in parallel
  }
  static void put(Writer& w, const KeyedLists& k) {
    w.vec(k.blob);
    w.vec(k.key_offsets);
    w.vec(k.list_offsets);
    w.vec(k.values);
  }
  static void get(Reader& r, KeyedLists& k) {
    r.vec(k.blob);
    r.vec(k.key_offsets);
    r.vec(k.list_offsets);
    r.vec(k.values);
    if (k.key_offsets.empty() || k.list_offsets.size() != k.key_offsets.size() || !ascending_within(k.key_offsets, k.blob.size()) ||
        !ascending_within(k.list_offsets, k.values.size()))
      r.fail();
  }
  static bool known_kind(Kind k) {
    return (uint8_t(k) >= uint8_t(Kind::File) && uint8_t(k) <= uint8_t(Kind::TypeParameter)) || k == Kind::Macro || k == Kind::TypeAlias;
  }
  // Offsets start at 0, never decrease and end at `end`.
  static bool ascending_within(const std::vector<uint32_t>& offsets, size_t end) {
    if (offsets.empty() || offsets.front() != 0 || offsets.back() != end) return false;
    for (size_t i = 1; i < offsets.size(); ++i)
      if (offsets[i] < offsets[i - 1]) return false;
    return true;
  }

  // The one list of what each section holds, in order; `io` is a Put or a Get.
  template <typename IO, typename Data>
  static void fields(IO& io, Data& d, Section s) {
    switch (s) {
      case kRecords:
        io(d.symbols), io(d.far_end_lines), io(d.files), io(d.files_by_path), io(d.imports), io(d.containers);
        io(d.container_members);
        break;
      case kStrings: io(d.strings), io(d.signatures); break;
      case kNames: io(d.names_blob), io(d.name_offsets), io(d.name_symbol_offsets), io(d.name_symbols); break;
      case kTokens: io(d.token_keys), io(d.token_postings); break;
      case kSegments:
        io(d.segment_offsets), io(d.segments_blob), io(d.segment_postings), io(d.container_parts), io(d.path_parts);
        break;
      case kExtra: case kSectionCount: break;  // the caller's bytes, as they are
    }
  }
  struct Put {
    Writer& w;
    template <typename T>
    void operator()(const std::vector<T>& v) { w.vec(v); }
    template <typename T>
    void operator()(const T& container) { put(w, container); }
  };
  struct Get {
    Reader& r;
    template <typename T>
    void operator()(std::vector<T>& v) { r.vec(v); }
    template <typename T>
    void operator()(T& container) { get(r, container); }
  };

  static std::string encode(const IndexData& d, Section s, std::string_view extra) {
    if (s == kExtra) return std::string(extra);
    Writer w;
    Put put_fields{w};
    fields(put_fields, d, s);
    return std::move(w.out);
  }

  static bool decode(std::string_view frame, uint64_t raw_size, Section s, IndexData& d, std::string& extra) {
    Reader r(frame, raw_size);
    if (s == kExtra) {
      extra.resize(raw_size);
      return r.pull(extra.data(), raw_size) && r.ok();
    }
    Get get_fields{r};
    fields(get_fields, d, s);
    return r.ok();
  }

  // Every trigram list decodes within its bytes to ascending ids; returns the largest, which
  // validate() holds to the name count. The heaviest check of a load (it reads every id), so it
  // runs in the trigram section's task, beside the other sections' decompression.
  static Status check_tokens(const IndexData& d, uint32_t& max_id) {
    for (size_t i = 0; i < d.token_postings.size(); ++i)
      if (const char* bad = d.token_postings.check(i, PostingList::kBitmapFlag, max_id)) return Error{std::string("trigram postings (") + bad + ")"};
    return {};
  }

  // The cross-array invariants search and symbol() index by, checked once per load, so even a
  // consistent-looking file cannot send a read out of bounds.
  static Status validate(const IndexData& d, uint32_t token_max_id) {
    const size_t names = d.name_offsets.empty() ? 0 : d.name_offsets.size() - 1;
    const uint32_t name_count = uint32_t(names);
    if (d.token_postings.size() && token_max_id >= name_count) return Error{"trigram postings (ids)"};
    // Strings are read by offset and stored length: both are checked, so get() never runs past.
    auto string_at = [&](uint32_t offset) { return d.strings.holds(offset); };
    if (!ascending_within(d.name_offsets, d.names_blob.size())) return Error{"name offsets"};
    if (d.name_symbol_offsets.size() != names + 1 || !ascending_within(d.name_symbol_offsets, d.name_symbols.size()) ||
        d.name_symbols.size() != d.symbols.size())
      return Error{"name -> symbol lists"};
    for (uint32_t id : d.name_symbols)
      if (id >= d.symbols.size()) return Error{"name -> symbol lists"};
    if (d.containers.empty() || d.container_members.size() != d.containers.size()) return Error{"containers"};
    for (uint32_t c : d.containers)
      if (!string_at(c)) return Error{"containers"};
    if (Status bad = d.container_members.validate(uint32_t(d.symbols.size())); !bad) return Error{"container members (" + bad.error() + ")"};
    for (const SymbolRecord& r : d.symbols)
      if (r.name() >= names || r.container() >= d.containers.size() || !d.signatures.holds(r.signature) || !known_kind(r.kind()))
        return Error{"symbol records"};
    for (size_t i = 0; i < d.far_end_lines.size(); ++i) {
      uint32_t id = d.far_end_lines[i].first;
      if (id >= d.symbols.size() || (i && id <= d.far_end_lines[i - 1].first) || d.symbols[id].end_line_delta != SymbolRecord::kFarEndLine)
        return Error{"far end lines"};
    }
    uint64_t next_symbol = 0, next_import = 0;
    for (const FileRecord& f : d.files) {
      if (!string_at(f.path) || f.first_symbol != next_symbol || f.first_import != next_import ||
          uint8_t(f.language) >= uint8_t(Language::Count))
        return Error{"file records"};
      next_symbol += f.symbol_count;
      next_import += f.import_count;
    }
    if (next_symbol != d.symbols.size() || next_import != d.imports.size()) return Error{"file records"};
    if (d.files_by_path.size() != d.files.size()) return Error{"file order"};
    for (uint32_t f : d.files_by_path)
      if (f >= d.files.size()) return Error{"file order"};
    // find_file() searches by this order: it must be strictly ascending paths.
    for (size_t i = 1; i < d.files_by_path.size(); ++i)
      if (!(d.strings.get(d.files[d.files_by_path[i - 1]].path) < d.strings.get(d.files[d.files_by_path[i]].path))) return Error{"file order"};
    for (const ImportRecord& i : d.imports)
      if (!string_at(i.specifier) || !string_at(i.kind)) return Error{"import records"};
    if (d.token_postings.size() != d.token_keys.size()) return Error{"trigram postings"};
    if (d.segment_offsets.empty() || d.segment_postings.size() != d.segment_offsets.size() - 1 ||
        !ascending_within(d.segment_offsets, d.segments_blob.size()))
      return Error{"segment postings"};
    if (Status bad = d.segment_postings.validate(name_count); !bad) return Error{"segment postings (" + bad.error() + ")"};
    for (uint32_t c : d.container_parts.values)
      if (c >= d.containers.size()) return Error{"container parts"};
    if (d.path_parts.values.size() % 2) return Error{"path parts"};
    for (size_t i = 0; i < d.path_parts.values.size(); i += 2)
      if (d.path_parts.values[i] >= d.path_parts.values[i + 1] || d.path_parts.values[i + 1] > d.files.size()) return Error{"path parts"};
    return {};
  }
};

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

bool write_all(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

// Runs fn(i) for i in [0, n) on up to two more threads: a snapshot has few sections, and the
// large ones (postings, names, records) are of similar size.
template <typename F>
void parallel_for(size_t n, F&& fn) {
  unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  std::atomic<size_t> next{0};
  auto run = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) fn(i);
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(run);
  run();
  for (auto& t : pool) t.join();
}

// Writes header and frames to `name` in `dir_fd` atomically. Nothing here follows a link: the
// temporary is made with O_EXCL | O_NOFOLLOW (a stale one is unlinked first, and unlinkat never
// follows), the rename and the cleanup are relative to the descriptor. Errors name `name`.
Status write_at(int dir_fd, const std::string& name, const std::string& header,
                     const std::array<std::string, kSectionCount>& frames) {
  std::string tmp = name + ".tmp." + std::to_string(::getpid());
  ::unlinkat(dir_fd, tmp.c_str(), 0);
  int fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return Error{errno_text(tmp)};
  bool ok = write_all(fd, header.data(), header.size());
  for (const auto& f : frames) ok = ok && write_all(fd, f.data(), f.size());
  ok = ok && ::fsync(fd) == 0;
  std::string error = ok ? "" : errno_text(tmp);
  if (::close(fd) != 0 && error.empty()) error = errno_text(tmp);
  if (error.empty() && ::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) error = errno_text(name);
  if (!error.empty()) {
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return Error{error};
  }
  // Writers killed mid-write leave their temporary files; remove those whose process is gone.
  const std::string prefix = name + ".tmp.";
  if (int dup = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0); dup >= 0) {
    if (DIR* d = ::fdopendir(dup)) {
      ::rewinddir(d);
      while (const dirent* e = ::readdir(d)) {
        std::string_view entry = e->d_name;
        if (!entry.starts_with(prefix)) continue;
        long pid = std::strtol(e->d_name + prefix.size(), nullptr, 10);
        if (pid > 0 && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH) ::unlinkat(dir_fd, e->d_name, 0);
      }
      ::closedir(d);
    } else {
      ::close(dup);
    }
  }
  // The rename itself is durable once the directory is synced.
  ::fsync(dir_fd);
  return {};
}

}  // namespace
}  // namespace detail

Status save_snapshot_at(const Index& index, std::string_view extra, int dir_fd, const std::string& name) {
  using namespace detail;
  const IndexData& d = data_of(index);
  std::array<std::string, kSectionCount> frames;
  std::array<SectionEntry, kSectionCount> table{};
  std::array<std::string, kSectionCount> errors;
  parallel_for(kSectionCount, [&](size_t i) {
    std::string raw = SnapshotCodec::encode(d, Section(i), extra);
    frames[i].resize(ZSTD_compressBound(raw.size()));
    size_t n = ZSTD_compress(frames[i].data(), frames[i].size(), raw.data(), raw.size(), 1);
    if (ZSTD_isError(n)) {
      errors[i] = std::string("zstd: ") + ZSTD_getErrorName(n);
      return;
    }
    frames[i].resize(n);
    table[i] = {uint32_t(i), 0, n, raw.size(), content_hash(frames[i])};
  });
  for (const auto& e : errors)
    if (!e.empty()) return Error{e};

  std::string header(kMagic, sizeof kMagic);
  uint32_t version_and_count[2] = {kSnapshotVersion, kSectionCount};
  header.append(reinterpret_cast<const char*>(version_and_count), 8);
  header.append(reinterpret_cast<const char*>(table.data()), sizeof table);
  uint64_t table_checksum = content_hash(header);
  header.append(reinterpret_cast<const char*>(&table_checksum), 8);

  return write_at(dir_fd, name, header, frames);
}

Status save_snapshot(const Index& index, std::string_view extra, const std::filesystem::path& path) {
  // A path the user chose: it and the links on the way to it are followed.
  std::error_code ec;
  std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  std::filesystem::create_directories(dir, ec);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error{detail::errno_text(dir.string())};
  std::string name = path.filename().string();
  Status saved = save_snapshot_at(index, extra, fd, name);
  ::close(fd);
  if (saved || !saved.error().starts_with(name)) return saved;
  return Error{(dir / saved.error()).string()};
}

Result<Snapshot> load_snapshot(const std::filesystem::path& path) {
  using namespace detail;
  Snapshot out;
  auto fail = [&](const std::string& why) { return Error{path.string() + ": " + why}; };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail("not a regular file");
  }
  // Mapped, not read: the compressed bytes are looked at once, straight from the page cache.
  void* map = st.st_size > 0 ? ::mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0) : nullptr;
  ::close(fd);
  if (map == MAP_FAILED) return fail(std::strerror(errno));
  struct Unmap {
    void* p;
    size_t n;
    ~Unmap() {
      if (p) ::munmap(p, n);
    }
  } unmap{map, size_t(st.st_size)};
  std::string_view file(static_cast<const char*>(map), map ? size_t(st.st_size) : 0);

  if (file.size() < sizeof kMagic || std::memcmp(file.data(), kMagic, sizeof kMagic) != 0) return fail("not an indexer snapshot");
  if (file.size() < kHeaderSize) return fail("truncated header");
  uint32_t version, count;
  std::memcpy(&version, file.data() + 8, 4);
  std::memcpy(&count, file.data() + 12, 4);
  if (version != kSnapshotVersion)
    return fail("format v" + std::to_string(version) + ", this build reads v" + std::to_string(kSnapshotVersion));
  if (count != kSectionCount) return fail("section table of another layout");
  std::array<SectionEntry, kSectionCount> table;
  std::memcpy(table.data(), file.data() + 16, sizeof table);
  uint64_t table_checksum;
  std::memcpy(&table_checksum, file.data() + kHeaderSize - 8, 8);
  if (content_hash(file.substr(0, kHeaderSize - 8)) != table_checksum) return fail("header checksum mismatch");

  std::array<size_t, kSectionCount> offsets;
  size_t at = kHeaderSize;
  for (size_t i = 0; i < kSectionCount; ++i) {
    if (table[i].id != i || table[i].compressed_size > file.size() - at) return fail("truncated");
    offsets[i] = at;
    at += table[i].compressed_size;
  }
  if (at != file.size()) return fail("trailing bytes");

  IndexData d;
  std::array<std::string, kSectionCount> errors;
  uint32_t token_max_id = 0;
  // The trigram section first: its task also checks every id, the longest of the tasks.
  constexpr std::array<Section, kSectionCount> kOrder = {kTokens, kStrings, kRecords, kNames, kSegments, kExtra};
  parallel_for(kSectionCount, [&](size_t k) {
    const size_t i = kOrder[k];
    const SectionEntry& e = table[i];
    std::string_view frame = file.substr(offsets[i], e.compressed_size);
    unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
    if (size != e.raw_size) {
      errors[i] = "section " + std::to_string(i) + " is corrupt";
      return;
    }
    // The checksum covers the stored bytes, so damage is named before anything is decoded.
    if (content_hash(frame) != e.checksum) {
      errors[i] = "section " + std::to_string(i) + " checksum mismatch";
      return;
    }
    if (!SnapshotCodec::decode(frame, e.raw_size, Section(i), d, out.extra)) errors[i] = "section " + std::to_string(i) + " is malformed";
    else if (i == kTokens)
      if (Status tokens = SnapshotCodec::check_tokens(d, token_max_id); !tokens) errors[i] = tokens.error();
  });
  for (const auto& e : errors)
    if (!e.empty()) return fail(e.starts_with("section") ? e : "inconsistent " + e);
  if (Status valid = SnapshotCodec::validate(d, token_max_id); !valid) return fail("inconsistent " + valid.error());
  out.index = make_index(std::move(d));
  return out;
}

}  // namespace query
