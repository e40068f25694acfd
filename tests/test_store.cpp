// The elision store (compress/store.h): byte-for-byte round trips, the dictionary, the cap, and
// entries persisted in a directory.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <random>

#include "compress/store.h"
#include "helpers.h"

namespace {

using compress::ElisionStore;

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng());
  return s;
}

// Log lines alike but not equal: what a dictionary is for.
std::string log_line(int i) {
  return "2026-12-07T16:" + std::to_string(10 + i % 50) + ":00Z INFO worker-" + std::to_string(i % 7) +
         " request handled path=/api/v1/items/" + std::to_string(i * 7919) + " status=200 bytes=" + std::to_string(i * 13 % 4096) + "\n";
}

struct Dir {
  test::TempDir t;
  int fd = ::open(t.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ~Dir() { ::close(fd); }
};

}  // namespace

TEST_CASE("store: every span comes back byte for byte, the same bytes are one handle", "[store]") {
  ElisionStore store;
  std::mt19937 rng(7);
  std::vector<std::string> spans = {"", "x", "\xff\xfe not UTF-8 \xc0", std::string(5 << 20, 'a'), random_bytes(rng, 1 << 20)};
  for (int i = 0; i < 500; ++i) spans.push_back(log_line(i));
  std::vector<std::string> handles;
  for (const auto& s : spans) handles.push_back(store.put(s));
  for (size_t i = 0; i < spans.size(); ++i) {
    INFO(i);
    CHECK(ElisionStore::is_handle(handles[i]));
    auto got = store.get(handles[i]);
    REQUIRE(got.status == ElisionStore::Status::Found);
    CHECK(got.bytes == spans[i]);
  }
  CHECK(store.put(spans[1]) == handles[1]);
  CHECK(store.put(std::string(5 << 20, 'a')) == handles[3]);
  CHECK(store.stats().entries == spans.size());
  CHECK(store.get("znot-a-handle").status == ElisionStore::Status::Unknown);
  auto unknown = store.get("z0123456789abcdef0123456789abcdef");
  CHECK(unknown.status == ElisionStore::Status::Unknown);
  CHECK(unknown.reason.find("no span with handle") != std::string::npos);
}

TEST_CASE("store: small spans alike are compressed with a dictionary trained on them", "[store]") {
  ElisionStore with({.max_bytes = size_t(64) << 20, .dir_fd = -1, .dictionary_after = 256});
  ElisionStore without({.max_bytes = size_t(64) << 20, .dir_fd = -1, .dictionary_after = SIZE_MAX});
  std::vector<std::string> handles;
  for (int i = 0; i < 3000; ++i) {
    handles.push_back(with.put(log_line(i)));
    without.put(log_line(i));
  }
  CHECK(with.stats().dictionary);
  CHECK_FALSE(without.stats().dictionary);
  // The spans after training take a fraction of what zstd alone needs.
  CHECK(with.stats().stored_bytes * 2 < without.stats().stored_bytes);
  for (int i = 0; i < 3000; i += 97) CHECK(with.get(handles[size_t(i)]).bytes == log_line(i));
}

TEST_CASE("store: past the cap the least recently used go, and get() says so", "[store]") {
  std::mt19937 rng(3);
  ElisionStore store({.max_bytes = 1 << 20, .dir_fd = -1, .dictionary_after = SIZE_MAX});
  std::vector<std::string> spans, handles;
  for (int i = 0; i < 8; ++i) spans.push_back(random_bytes(rng, 256 << 10)), handles.push_back(store.put(spans.back()));
  CHECK(store.stats().stored_bytes <= (1 << 20));
  CHECK(store.stats().evicted >= 4);
  auto gone = store.get(handles[0]);
  CHECK(gone.status == ElisionStore::Status::Evicted);
  CHECK(gone.reason.find("evicted") != std::string::npos);
  CHECK(store.get(handles[7]).bytes == spans[7]);
  // A use keeps an entry: the one read last survives the next puts.
  store.get(handles[5]);
  for (int i = 0; i < 2; ++i) store.put(random_bytes(rng, 256 << 10));
  CHECK(store.get(handles[5]).status == ElisionStore::Status::Found);
  CHECK(store.get(handles[6]).status == ElisionStore::Status::Evicted);
}

TEST_CASE("store: with a directory, entries outlive eviction and the process, damage is said, links are not followed", "[store]") {
  Dir dir;
  std::vector<std::string> handles;
  {
    ElisionStore store({.max_bytes = 4 << 10, .dir_fd = dir.fd, .dictionary_after = 256});
    for (int i = 0; i < 1000; ++i) handles.push_back(store.put(log_line(i)));
    CHECK(store.stats().dictionary);
    CHECK(store.get(handles[0]).bytes == log_line(0));  // evicted from memory, read from the directory
  }
  ElisionStore again({.max_bytes = 4 << 10, .dir_fd = dir.fd, .dictionary_after = 256});
  for (int i = 0; i < 1000; i += 37) CHECK(again.get(handles[size_t(i)]).bytes == log_line(i));
  CHECK(again.get(handles[999]).bytes == log_line(999));  // compressed with the dictionary, which was kept

  dir.t.write(handles[1] + ".zst", "not a zstd frame");
  CHECK(again.get(handles[1]).status == ElisionStore::Status::Corrupt);
  dir.t.write(handles[2] + ".zst", "");
  CHECK(again.get(handles[2]).status == ElisionStore::Status::Corrupt);
  // A frame of other bytes under this handle's name is refused too: the handle names its bytes.
  std::filesystem::copy_file(dir.t / (handles[4] + ".zst"), dir.t / (handles[3] + ".zst"), std::filesystem::copy_options::overwrite_existing);
  CHECK(again.get(handles[3]).status == ElisionStore::Status::Corrupt);
  test::TempDir outside;
  outside.write("secret", "outside");
  std::filesystem::remove(dir.t / (handles[5] + ".zst"));
  std::filesystem::create_symlink(outside / "secret", dir.t / (handles[5] + ".zst"));
  CHECK(again.get(handles[5]).status == ElisionStore::Status::Unknown);
}

TEST_CASE("store: two stores sharing a directory train their own dictionaries, each one's entries still read back", "[store]") {
  Dir dir;
  auto other_line = [](int i) {
    return "{\"level\":\"debug\",\"span\":" + std::to_string(i * 31) + ",\"msg\":\"cache miss for key user:" + std::to_string(i * 17) + "\"}\n";
  };
  std::vector<std::string> first, second;
  {
    // Both open the directory before either has a dictionary, as two processes started together.
    ElisionStore a({.max_bytes = 1 << 10, .dir_fd = dir.fd, .dictionary_after = 256});
    ElisionStore b({.max_bytes = 1 << 10, .dir_fd = dir.fd, .dictionary_after = 256});
    for (int i = 0; i < 600; ++i) first.push_back(a.put(log_line(i)));
    for (int i = 0; i < 600; ++i) second.push_back(b.put(other_line(i)));
    REQUIRE(a.stats().dictionary);
    REQUIRE(b.stats().dictionary);  // b wrote the directory's dictionary last
  }
  ElisionStore again({.max_bytes = 1 << 10, .dir_fd = dir.fd, .dictionary_after = 256});
  for (int i = 0; i < 600; i += 13) {
    CHECK(again.get(first[size_t(i)]).bytes == log_line(i));
    CHECK(again.get(second[size_t(i)]).bytes == other_line(i));
  }
  CHECK(again.get(first[599]).bytes == log_line(599));
}

TEST_CASE("store: the directory is capped too, the oldest entries go first, and a restart keeps the count", "[store]") {
  Dir dir;
  auto noise = [](int i) {  // incompressible: each frame is about its span's size
    std::string s;
    uint64_t x = 0x9e3779b97f4a7c15ull * uint64_t(i + 1);
    for (int k = 0; k < 1000; ++k) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      s += char('!' + x % 90);
    }
    return s;
  };
  auto dir_bytes = [&] {
    size_t total = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.t.path()))
      if (e.path().extension() == ".zst") total += e.file_size();
    return total;
  };
  std::vector<std::string> handles;
  {
    ElisionStore store({.max_bytes = 2 << 10, .dir_fd = dir.fd, .max_dir_bytes = 10 << 10, .dictionary_after = 1 << 20});
    for (int i = 0; i < 40; ++i) handles.push_back(store.put(noise(i)));
    CHECK(dir_bytes() <= (10 << 10));
    ElisionStore::Got first = store.get(handles[0]);
    CHECK(first.status == ElisionStore::Status::Evicted);
    CHECK(first.reason.find("on disk") != std::string::npos);
    CHECK(store.get(handles[39]).bytes == noise(39));
  }
  // A new store counts what the directory holds, so the cap holds across restarts.
  ElisionStore again({.max_bytes = 2 << 10, .dir_fd = dir.fd, .max_dir_bytes = 10 << 10, .dictionary_after = 1 << 20});
  CHECK(again.get(handles[39]).bytes == noise(39));
  for (int i = 40; i < 60; ++i) handles.push_back(again.put(noise(i)));
  CHECK(dir_bytes() <= (10 << 10));
  CHECK(again.get(handles[59]).bytes == noise(59));
  CHECK(again.get(handles[39]).status != ElisionStore::Status::Found);
}
