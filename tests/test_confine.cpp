// Confinement (indexer/confine.h): links to files and directories outside the root, links inside
// pointing out, `..` through a link, absolute paths, and a link swapped in while requests run,
// against the module itself (both implementations), the live tree and the method table.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "helpers.h"
#include "indexer/confine.h"
#include "indexer/live_tree.h"
#include "server/registry.h"
#include "server/service.h"

namespace {

using indexer::confine::Refusal;
namespace fs = std::filesystem;

// A root beside a directory it must never read: `outside/secret.py` holds kSecret.
constexpr const char* kSecret = "OUTSIDE_BYTES_7f3a";

struct Layout {
  test::TempDir t;
  fs::path root = t / "root";
  Layout() {
    t.write("outside/secret.py", std::string("def outside_secret_fn():\n    return '") + kSecret + "'\n");
    t.write("outside/passwd", std::string("root:x:0:0:") + kSecret + "\n");
    t.write("root/a.py", "def alpha():\n    pass\n");
    t.write("root/inside/real.py", "def inside_real():\n    pass\n");
    fs::create_directory_symlink(t / "outside", root / "etc_link");     // absolute link to a directory outside
    fs::create_directory_symlink("../outside", root / "out");           // relative link out
    fs::create_symlink(t / "outside/secret.py", root / "file_link.py");  // a file outside
    fs::create_directory_symlink("inside", root / "inside_link");       // a link that stays inside
    fs::create_directory_symlink("../../outside", root / "inside/up");  // a link inside pointing out
  }
};

std::unique_ptr<indexer::LiveTree> open_tree(const fs::path& root) {
  std::string warning;
  auto tree = indexer::LiveTree::open(root, {}, indexer::default_snapshot_path(root), {}, warning);
  REQUIRE(tree.ok());
  return std::move(*tree);
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
  return out;
}

bool leaks(const std::string& s) { return s.find(kSecret) != std::string::npos || s.find("outside_secret") != std::string::npos; }

}  // namespace

TEST_CASE("confine: each component is checked, by openat2 and by the walk alike", "[confine]") {
  Layout l;
  indexer::confine::Opened root = indexer::confine::open_root(l.root.string());
  REQUIRE(root);
  for (bool walk : {false, true}) {
    INFO((walk ? "walk" : "openat2"));
    auto open = [&](std::string_view rel, int flags = O_RDONLY) {
      return walk ? indexer::confine::open_by_walk(root.fd.get(), rel, flags) : indexer::confine::open_beneath(root.fd.get(), rel, flags);
    };
    auto refusal = [&](std::string_view rel, int flags = O_RDONLY) { return open(rel, flags).refusal; };
    auto opened = open("a.py");
    REQUIRE(opened);
    CHECK(read_all(opened.fd.get()) == "def alpha():\n    pass\n");
    CHECK(refusal("inside/real.py") == Refusal::None);
    CHECK(refusal("./inside//real.py") == Refusal::None);
    CHECK(refusal("inside", O_RDONLY | O_DIRECTORY) == Refusal::None);
    CHECK(refusal("", O_RDONLY | O_DIRECTORY) == Refusal::None);

    CHECK(refusal("etc_link/secret.py") == Refusal::Symlink);
    CHECK(refusal("etc_link/passwd") == Refusal::Symlink);
    CHECK(refusal("out/secret.py") == Refusal::Symlink);
    CHECK(refusal("out", O_RDONLY | O_DIRECTORY) == Refusal::Symlink);
    CHECK(refusal("file_link.py") == Refusal::Symlink);
    CHECK(refusal("inside/up/secret.py") == Refusal::Symlink);
    CHECK(refusal("inside_link/real.py") == Refusal::Symlink);  // no link is followed, even one that stays inside
    CHECK(refusal("etc_link/no-such-file") == Refusal::Symlink);  // says nothing of what lies beyond

    CHECK(refusal("../outside/secret.py") == Refusal::Outside);
    CHECK(refusal("inside/../../outside/secret.py") == Refusal::Outside);
    CHECK(refusal("out/../a.py") == Refusal::Outside);  // `..` through a link
    CHECK(refusal((l.t.path() / "outside/secret.py").string()) == Refusal::Outside);
    CHECK(refusal("/etc/passwd") == Refusal::Outside);

    CHECK(refusal("missing.py") == Refusal::NotFound);
    CHECK(refusal("a.py/x") == Refusal::NotFound);
    CHECK(refusal(std::string_view("a.py\0/../x", 10)) == Refusal::Outside);
  }
  struct stat st;
  CHECK(indexer::confine::stat_beneath(root.fd.get(), "file_link.py", st) == Refusal::None);
  CHECK(S_ISLNK(st.st_mode));  // the trailing link itself, as lstat says
  CHECK(indexer::confine::stat_beneath(root.fd.get(), "out", st) == Refusal::None);
  CHECK(S_ISLNK(st.st_mode));
  CHECK(indexer::confine::stat_beneath(root.fd.get(), "out/secret.py", st) == Refusal::Symlink);
  CHECK(indexer::confine::stat_beneath(root.fd.get(), "inside/real.py", st) == Refusal::None);
  CHECK(S_ISREG(st.st_mode));
  CHECK(indexer::confine::stat_beneath(root.fd.get(), "", st) == Refusal::None);
  CHECK(S_ISDIR(st.st_mode));
}

TEST_CASE("confine: the live tree never indexes or reads a file outside the root", "[confine][watch]") {
  Layout l;
  auto tree = open_tree(l.root);
  auto search = [&](const char* name) { return tree->index()->find_exact(name).size(); };
  REQUIRE(search("alpha") == 1);
  REQUIRE(search("inside_real") == 1);
  CHECK(search("outside_secret_fn") == 0);  // the full walk skipped every link

  for (const char* p : {"out/secret.py", "etc_link/secret.py", "inside/up/secret.py", "file_link.py", "out", "etc_link",
                        "inside/up", "inside_link/real.py", "out/../out/secret.py", "../outside/secret.py"}) {
    INFO(p);
    tree->refresh({p});
    CHECK(search("outside_secret_fn") == 0);
    CHECK(!leaks(tree->text_of(p)));
    CHECK(tree->text_of(p).empty());
    // An editor's buffer under such a path is not indexed either, and closing it reads nothing.
    tree->set_buffer(p, "def buffer_through_link():\n    pass\n");
    CHECK(search("buffer_through_link") == 0);
    tree->close_buffer(p);
    CHECK(search("outside_secret_fn") == 0);
  }
  tree->rescan();
  CHECK(search("outside_secret_fn") == 0);
  CHECK(tree->index()->find_file("out/secret.py") == std::nullopt);

  // A directory of the tree replaced by a link: what it held goes, nothing comes through it.
  fs::rename(l.root / "inside", l.t / "moved_away");
  fs::create_directory_symlink(l.t / "outside", l.root / "inside");
  tree->refresh({"inside/real.py", "inside/secret.py", "inside"});
  CHECK(search("inside_real") == 0);
  CHECK(search("outside_secret_fn") == 0);

  // Still serving: a normal edit is picked up.
  l.t.write("root/b.py", "def beta():\n    pass\n");
  tree->refresh({"b.py"});
  CHECK(search("beta") == 1);
  CHECK(tree->text_of("a.py") == "def alpha():\n    pass\n");
}

TEST_CASE("confine: index/refresh and symbols/definition through links answer nothing of the outside", "[confine][service]") {
  Layout l;
  auto tree = open_tree(l.root);
  server::Service service(*tree);
  using nlohmann::json;
  auto outside_hits = [&] { return server::call_json(service, "symbols/search", json{{"pattern", "outside_secret"}}).size(); };
  for (const std::string& p : std::vector<std::string>{"out/secret.py", "etc_link/secret.py", "inside/up/secret.py", "file_link.py", (l.t / "outside/secret.py").string()}) {
    INFO(p);
    server::call_json(service, "index/refresh", json{{"paths", {p}}});
    CHECK(outside_hits() == 0);
  }
  // The word under the cursor, and a line past the end: a file through a link reads as no file,
  // so neither its words nor its length come back.
  auto ask = [&](const std::string& path, unsigned line, unsigned column) {
    try {
      return server::call_json(service, "symbols/definition", json{{"path", path}, {"line", line}, {"column", column}}).dump();
    } catch (const server::RpcError& e) {
      std::string m = e.message;
      return "error: " + m.substr(m.find(':'));  // without the path, to compare with a missing file's
    }
  };
  for (const char* p : {"etc_link/passwd", "etc_link/secret.py", "out/secret.py", "file_link.py"}) {
    INFO(p);
    for (unsigned line : {1u, 2u, 3u, 500u}) {
      std::string got = ask(p, line, 5);
      CHECK(!leaks(got));
      CHECK(got == ask("no-such-file.py", line, 5));
    }
  }
  auto normal = server::call_json(service, "symbols/definition", json{{"path", "a.py"}, {"line", 1}, {"column", 5}});
  REQUIRE(normal.size() == 1);
  CHECK(normal[0]["name"] == "alpha");
}

TEST_CASE("confine: a link swapped in and out while refreshes and reads run never lets a byte through", "[confine][watch]") {
  Layout l;
  // `flip` is a real directory of the tree one moment and a link to the outside the next: the two
  // names are exchanged atomically, over and over.
  l.t.write("root/flip/secret.py", "def inside_flip():\n    return 'inside, and longer than the outside file'\n");
  fs::create_directory_symlink(l.t / "outside", l.root / "flop");
  auto tree = open_tree(l.root);
  server::Service service(*tree);
  std::atomic<bool> stop{false};
  std::atomic<size_t> swaps{0};
  struct Joined {  // stops the flipper however the test ends
    std::atomic<bool>& stop;
    std::thread t;
    ~Joined() {
      stop = true;
      t.join();
    }
  } flipper{stop, std::thread([&] {
              std::string a = (l.root / "flip").string(), b = (l.root / "flop").string();
              while (!stop)
                if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0) ++swaps;
            })};
  using nlohmann::json;
  auto definition = [&](const char* p) {
    try {
      return server::call_json(service, "symbols/definition", json{{"path", p}, {"line", 2}, {"column", 13}}).dump();
    } catch (const server::RpcError& e) {
      return e.message;
    }
  };
  size_t inside_reads = 0;
  for (int i = 0; i < 1500; ++i) {
    for (const char* p : {"flip/secret.py", "flop/secret.py"}) {
      tree->refresh({p});
      std::string text = tree->text_of(p);
      REQUIRE(!leaks(text));
      inside_reads += !text.empty();
      REQUIRE(!leaks(definition(p)));
    }
    if (i % 100 == 0) tree->rescan();
    REQUIRE(tree->index()->find_exact("outside_secret_fn").empty());
  }
  stop = true;
  INFO("swaps " << swaps << ", reads that found the inside file " << inside_reads);
  CHECK(swaps > 0);
  CHECK(inside_reads > 0);  // the race was real: the same names did read the inside file
  tree->rescan();
  CHECK(tree->index()->find_exact("outside_secret_fn").empty());
  CHECK(tree->index()->find_exact("alpha").size() == 1);
}
