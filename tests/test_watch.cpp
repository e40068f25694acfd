// The live tree under real filesystem events (inotify, a real `git checkout`): after each change
// settles, the live index must hold exactly what a fresh index of the tree holds.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "helpers.h"
#include "indexer/live_tree.h"
#include "indexer/watcher.h"
#include "query/snapshot.h"

namespace {

using namespace std::chrono_literals;
using What = indexer::LiveTree::Change::What;

// Every file with its symbols ("path name@line ..."), sorted: what outline and export see.
std::vector<std::string> contents(const query::Index& index) {
  std::vector<std::string> out;
  for (uint32_t f = 0; f < index.file_count(); ++f) {
    std::string line(index.file(f).path);
    auto [begin, end] = index.file_symbols(f);
    for (uint32_t id = begin; id < end; ++id) {
      query::Symbol s = index.symbol(id);
      line += " " + std::string(s.name) + "@" + std::to_string(s.range.start.line + 1);
    }
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> fresh_contents(const test::fs::path& root) {
  auto r = indexer::index_tree(root, {});
  REQUIRE(r.index);
  return contents(*r.index);
}

// A tree with a live index and a watcher on it, as `indexer watch` runs them.
struct Live {
  test::TempDir dir;
  std::unique_ptr<indexer::LiveTree> tree;
  std::unique_ptr<indexer::Watcher> watcher;
  size_t batches = 0, parses = 0;
  std::vector<std::string> warnings;
  bool saw_rescan = false;

  explicit Live(const std::function<void(test::TempDir&)>& setup = {}, size_t max_watches = 0) {
    if (setup) setup(dir);
    std::string warning;
    auto opened = indexer::LiveTree::open(dir.path(), {}, indexer::default_snapshot_path(dir.path()), {}, warning);
    REQUIRE(opened.ok());
    tree = std::move(*opened);
    watcher = std::make_unique<indexer::Watcher>(dir.path(), [this](const std::string& d) { return tree->ignored_dir(d); },
                                                 max_watches);
  }

  // Applies batches until the tree has been quiet for `quiet`.
  void settle(std::chrono::milliseconds quiet = 300ms) {
    for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;) {
      indexer::Watcher::Batch b = watcher->next(quiet);
      for (auto& w : b.warnings) warnings.push_back(w);
      if (b.empty()) return;
      indexer::LiveTree::Report r;
      if (b.root_gone) r = tree->refresh({""});
      else if (b.rescan) r = tree->rescan(), watcher->rewatch(), saw_rescan = true;
      else if (!b.paths.empty()) r = tree->refresh(b.paths);
      if (r.rescanned) watcher->rewatch(), saw_rescan = true;
      ++batches;
      for (const auto& c : r.changes) parses += c.what == What::Indexed;
      // Polling, a rescan that finds nothing new is as quiet as it gets.
      if (watcher->polling() && b.rescan && r.changes.empty()) return;
    }
    FAIL("the tree never settled");
  }

  void check() {
    settle();
    CHECK(contents(*tree->index()) == fresh_contents(dir.path()));
  }
  std::vector<std::string> now() { return contents(*tree->index()); }
};

std::string def(const std::string& name) { return "def " + name + "():\n    pass\n"; }

void sh(const test::fs::path& cwd, const std::string& cmd) {
  std::string full = "cd '" + cwd.string() + "' && " + cmd + " >/dev/null 2>&1";
  REQUIRE(std::system(full.c_str()) == 0);
}

}  // namespace

TEST_CASE("watch: create, modify, rename, delete, deep mkdir, save-by-rename", "[watch]") {
  Live live([](test::TempDir& t) { t.write("a.py", def("alpha")); });
  live.dir.write("b.py", def("beta"));
  live.check();
  CHECK(live.now() == std::vector<std::string>{"a.py alpha@1", "b.py beta@1"});

  live.dir.write("a.py", def("alpha2") + def("alpha3"));
  live.check();

  test::fs::rename(live.dir / "b.py", live.dir / "c.py");
  live.check();
  CHECK(live.now() == std::vector<std::string>{"a.py alpha2@1 alpha3@3", "c.py beta@1"});

  test::fs::remove(live.dir / "c.py");
  live.check();

  // mkdir -p and a file at once: the new directories are watched as they appear, and the file
  // written before its directory's watch existed is found by the refresh's walk.
  test::fs::create_directories(live.dir / "d1/d2/d3/d4");
  live.dir.write("d1/d2/d3/d4/deep.py", def("deep"));
  live.check();
  live.dir.write("d1/d2/d3/d4/deeper.py", def("deeper"));  // through the new watch
  live.check();
  CHECK(live.now().size() == 3);

  // An editor's save: write a temporary file, rename it over the original.
  live.dir.write("d1/.deep.py.swp", def("saved"));
  test::fs::rename(live.dir / "d1/.deep.py.swp", live.dir / "d1/d2/d3/d4/deep.py");
  live.check();
  CHECK(live.now() == std::vector<std::string>{"a.py alpha2@1 alpha3@3", "d1/d2/d3/d4/deep.py saved@1", "d1/d2/d3/d4/deeper.py deeper@1"});
}

TEST_CASE("watch: directories moved in, out and within the tree", "[watch]") {
  test::TempDir outside;
  outside.write("pkg/mod.py", def("moved_in"));
  outside.write("pkg/sub/inner.py", def("inner"));
  Live live([](test::TempDir& t) { t.write("src/keep.py", def("keep")); t.write("src/lib/util.py", def("util")); });

  test::fs::rename(outside / "pkg", live.dir / "pkg");  // into the tree
  live.check();
  CHECK(live.now().size() == 4);
  live.dir.write("pkg/sub/new.py", def("under_moved_in"));  // the moved-in directory is watched
  live.check();

  test::fs::rename(live.dir / "src/lib", live.dir / "pkg/lib");  // within the tree
  live.check();
  live.dir.write("pkg/lib/after.py", def("after_move"));
  live.check();

  test::fs::rename(live.dir / "pkg", outside / "gone");  // out of the tree
  live.check();
  CHECK(live.now() == std::vector<std::string>{"src/keep.py keep@1"});
  outside.write("gone/lib/ignored_now.py", def("outside"));  // events from outside are not ours
  live.check();
}

TEST_CASE("watch: a git checkout of another branch is coalesced, and the index matches it", "[watch][git]") {
  Live live([](test::TempDir& t) {
    for (int i = 0; i < 300; ++i) t.write("m/f" + std::to_string(i) + ".py", def("main_" + std::to_string(i)));
    t.write("shared.py", def("shared"));
    sh(t.path(), "git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm main");
    sh(t.path(), "git checkout -q -b other");
    for (int i = 0; i < 300; i += 2) t.write("m/f" + std::to_string(i) + ".py", def("other_" + std::to_string(i)));
    for (int i = 0; i < 100; ++i) t.write("o/n" + std::to_string(i) + ".py", def("new_" + std::to_string(i)));
    test::fs::remove(t / "shared.py");
    sh(t.path(), "git add -A && git -c user.name=t -c user.email=t@t commit -qm other && git checkout -q main");
  });
  CHECK(live.now().size() == 301);
  sh(live.dir.path(), "git checkout -q other");
  live.check();
  CHECK(live.now().size() == 400);
  // 250 files changed; each is parsed about once, not once per event.
  CHECK(live.parses <= 2 * 250);
  sh(live.dir.path(), "git checkout -q main");
  live.check();
  CHECK(live.now().size() == 301);
}

TEST_CASE("watch: a changed .gitignore changes what is indexed", "[watch]") {
  Live live([](test::TempDir& t) {
    t.write("app.py", def("app"));
    t.write("gen/out.py", def("generated"));
    t.write(".gitignore", "gen/\n");
  });
  CHECK(live.now() == std::vector<std::string>{"app.py app@1"});
  live.dir.write(".gitignore", "");
  live.check();
  CHECK(live.now() == std::vector<std::string>{"app.py app@1", "gen/out.py generated@1"});
  live.dir.write("gen/more.py", def("more"));  // the newly included directory is watched
  live.check();
  CHECK(live.now().size() == 3);
  live.dir.write(".gitignore", "gen/\n*.log\n");
  live.check();
  CHECK(live.now() == std::vector<std::string>{"app.py app@1"});
}

TEST_CASE("watch: bad input keeps the index consistent", "[watch][bad-input]") {
  test::TempDir outside;
  outside.write("target.py", def("outside_target"));
  Live live([](test::TempDir& t) { t.write("flip.py", def("flip")); t.write("x/inner.py", def("inner")); });

  // A file that flips between text and binary.
  live.dir.write("flip.py", std::string("def hidden():\n\0\0binary", 22));
  live.check();
  CHECK(live.now() == std::vector<std::string>{"x/inner.py inner@1"});
  live.dir.write("flip.py", def("flip_back"));
  live.check();

  // A directory replaced by a file of the same name, and back.
  test::fs::remove_all(live.dir / "x");
  live.dir.write("x", "#!/usr/bin/env python3\n" + def("now_a_file"));
  live.check();
  CHECK(live.now() == std::vector<std::string>{"flip.py flip_back@1", "x now_a_file@2"});
  test::fs::remove(live.dir / "x");
  live.dir.write("x/again.py", def("again"));
  live.check();

  // Symlinks into and out of the tree are not followed.
  test::fs::create_symlink(outside / "target.py", live.dir / "out_link.py");
  test::fs::create_symlink(live.dir / "flip.py", live.dir / "in_link.py");
  test::fs::create_directory_symlink(live.dir.path(), live.dir / "x/loop");
  live.check();
  CHECK(live.now() == std::vector<std::string>{"flip.py flip_back@1", "x/again.py again@1"});

  // A FIFO never blocks the refresh.
  REQUIRE(::mkfifo((live.dir / "pipe.py").c_str(), 0644) == 0);
  live.check();

  // A huge file is skipped; trimmed below the limit, it is indexed.
  live.dir.write("big.py", def("big") + std::string(5 << 20, '#'));
  live.check();
  live.dir.write("big.py", def("big"));
  live.check();
  CHECK(live.now().size() == 3);
}

TEST_CASE("watch: a deleted root empties the index, and its return is picked up", "[watch][bad-input]") {
  Live live([](test::TempDir& t) { t.write("a.py", def("alpha")); });
  test::fs::path moved = live.dir.path().string() + "-away";
  test::fs::rename(live.dir.path(), moved);
  live.settle();
  CHECK(live.now().empty());
  test::fs::create_directories(live.dir.path());
  live.dir.write("b.py", def("beta"));
  live.settle();
  CHECK(live.now() == std::vector<std::string>{"b.py beta@1"});
  live.dir.write("c.py", def("gamma"));  // watched again
  live.check();
  test::fs::remove_all(moved);
}

TEST_CASE("watch: past the watch limit, rescans keep the index current", "[watch][bad-input]") {
  Live live([](test::TempDir& t) {
    for (int i = 0; i < 5; ++i) t.write("d" + std::to_string(i) + "/m.py", def("m" + std::to_string(i)));
  }, /*max_watches=*/2);
  CHECK(live.watcher->polling());
  live.dir.write("d4/late.py", def("late"));  // d4 has no watch
  live.settle(3500ms);                         // a rescan comes every 3 s
  CHECK(live.saw_rescan);
  CHECK_FALSE(live.warnings.empty());
  CHECK(live.now() == fresh_contents(live.dir.path()));
}

TEST_CASE("watch: an event-queue overflow falls back to a rescan", "[watch][bad-input]") {
  Live live([](test::TempDir& t) { t.write("a.py", def("alpha")); });
  test::fs::create_directory(live.dir / "many");
  live.settle();
  // Far more events than the kernel queues (16384 by default), while nobody reads them.
  for (int i = 0; i < 6000; ++i) live.dir.write("many/f" + std::to_string(i) + ".py", def("f" + std::to_string(i)));
  live.check();
  CHECK(live.saw_rescan);
  CHECK(live.warnings.size() == 1);
  CHECK(live.now().size() == 6001);
}

TEST_CASE("watch: an unsaved buffer replaces its file until it is closed", "[watch]") {
  Live live([](test::TempDir& t) { t.write("a.py", def("on_disk")); });
  live.tree->set_buffer("a.py", def("unsaved") + def("typing"));
  CHECK(live.now() == std::vector<std::string>{"a.py unsaved@1 typing@3"});
  live.dir.write("a.py", def("on_disk_changed"));  // the buffer wins while open
  live.settle();
  CHECK(live.now() == std::vector<std::string>{"a.py unsaved@1 typing@3"});
  live.tree->close_buffer("a.py");
  CHECK(live.now() == std::vector<std::string>{"a.py on_disk_changed@1"});
}

TEST_CASE("watch: indexer watch prints each re-index and keeps the snapshot current", "[watch][cli]") {
  test::TempDir t;
  t.write("a.py", def("alpha"));
  int out[2];
  REQUIRE(::pipe(out) == 0);
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    std::string bin = INDEXER_BINARY, cmd = "watch", root = t.path().string();
    char* argv[] = {bin.data(), cmd.data(), root.data(), nullptr};
    ::execv(bin.c_str(), argv);
    _exit(127);
  }
  ::close(out[1]);
  std::string seen;
  auto wait_for = [&](const std::string& text) {
    for (auto deadline = std::chrono::steady_clock::now() + 20s; seen.find(text) == std::string::npos;) {
      pollfd p{out[0], POLLIN, 0};
      if (std::chrono::steady_clock::now() > deadline || ::poll(&p, 1, 100) < 0) return false;
      char buf[4096];
      if (p.revents & (POLLIN | POLLHUP)) {
        ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n <= 0) return false;
        seen.append(buf, size_t(n));
      }
    }
    return true;
  };
  REQUIRE(wait_for("directories watched"));
  t.write("b.py", def("beta") + def("gamma"));
  CHECK(wait_for("indexed b.py: 2 symbols"));
  CHECK(wait_for("snapshot saved"));
  query::Result<query::Snapshot> snap = query::load_snapshot(indexer::default_snapshot_path(t.path()));
  REQUIRE(snap.ok());
  CHECK(contents(*snap->index) == std::vector<std::string>{"a.py alpha@1", "b.py beta@1 gamma@3"});
  ::kill(pid, SIGINT);
  CHECK(wait_for("stopped"));
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  ::close(out[0]);
  INFO(seen);
}

TEST_CASE("watch: incremental reparses of an edited file give what a full parse gives", "[watch]") {
  // Edits anywhere in a file (the live tree reparses its recent files incrementally): inserted and
  // deleted lines, renamed and re-indented definitions, a syntax error and its repair.
  std::vector<std::string> lines;
  for (int i = 0; i < 60; ++i) {
    lines.push_back("class C" + std::to_string(i) + ":");
    lines.push_back("    def m" + std::to_string(i) + "(self):");
    lines.push_back("        return " + std::to_string(i));
  }
  auto text = [&] {
    std::string t;
    for (const auto& l : lines) t += l + "\n";
    return t;
  };
  Live live([&](test::TempDir& t) { t.write("f.py", text()); });
  std::mt19937 rng(11);
  for (int step = 0; step < 150; ++step) {
    size_t at = rng() % lines.size();
    switch (rng() % 5) {
      case 0: lines.insert(lines.begin() + long(at), "def inserted_" + std::to_string(step) + "(): pass"); break;
      case 1: if (lines.size() > 10) lines.erase(lines.begin() + long(at)); break;
      case 2: lines[at] += "_" + std::to_string(step); break;  // renames, or breaks the syntax
      case 3: lines[at] = "    " + lines[at]; break;         // moves a definition into another
      default: lines.insert(lines.begin() + long(at), "x" + std::to_string(step) + " = (");  // unclosed
    }
    live.dir.write("f.py", text());  // what the fresh index reads
    if (step % 7 == 0) live.tree->set_buffer("f.py", text());  // an editor's buffer, same path
    else live.tree->refresh({"f.py"});
    INFO("step " << step);
    REQUIRE(live.now() == fresh_contents(live.dir.path()));
    if (step % 7 == 0) live.tree->close_buffer("f.py");
  }
}

TEST_CASE("watch: links to a directory outside the root are neither watched nor read through", "[watch][confine]") {
  test::TempDir outside;
  outside.write("secret.py", def("outside_secret"));
  Live live([](test::TempDir& t) {
    t.write("a.py", def("alpha"));
    t.write("dir/d.py", def("delta"));
  });
  const auto root = live.dir.path();
  test::fs::create_directory_symlink(outside.path(), root / "out");
  test::fs::create_directory_symlink("../out", root / "dir/up");
  live.settle();
  // Changes outside, seen through nothing; a watched directory replaced by a link out.
  outside.write("secret.py", def("outside_secret") + def("outside_more"));
  outside.write("new.py", def("outside_new"));
  test::fs::rename(root / "dir", outside.path() / "dir_moved");
  test::fs::create_directory_symlink(outside.path(), root / "dir");
  outside.write("d.py", def("outside_d"));
  live.check();  // what a fresh index holds: nothing through a link
  for (const auto& line : live.now()) CHECK(line.find("outside") == std::string::npos);
  live.dir.write("b.py", def("beta"));
  live.check();
  CHECK(live.now() == std::vector<std::string>{"a.py alpha@1", "b.py beta@1"});
}

// A workspace manifest changed on disk reaches the import graph through the watcher: the importer
// of a renamed package loses its edge, a new member directory gains one.
TEST_CASE("watch: workspace manifests changing re-resolve the import graph", "[watch][imports][workspace]") {
  Live live([](test::TempDir& t) {
    t.write("package.json", "{\"workspaces\": [\"packages/*\"]}");
    t.write("packages/core/package.json", "{\"name\": \"@acme/core\"}");
    t.write("packages/core/src/index.ts", "export const c = 1;\n");
    t.write("app.ts", "import { c } from \"@acme/core\";\nimport { n } from \"@acme/new\";\n");
  });
  auto imports = [&] {
    auto g = live.tree->graph();
    std::vector<std::string> out;
    for (const auto& e : g->imports->imports(*g->imports->find_file("app.ts")))
      out.push_back((g->imports->is_external(e.to) ? "ext:" : "") + std::string(g->imports->name(e.to)));
    return out;
  };
  CHECK(imports() == std::vector<std::string>{"packages/core/src/index.ts", "ext:@acme/new"});
  live.dir.write("packages/core/package.json", "{\"name\": \"@acme/old\"}");
  live.settle();
  CHECK(imports() == std::vector<std::string>{"ext:@acme/core", "ext:@acme/new"});
  live.dir.write("packages/new/package.json", "{\"name\": \"@acme/new\"}");
  live.dir.write("packages/new/src/index.ts", "export const n = 1;\n");
  live.settle();
  CHECK(imports() == std::vector<std::string>{"packages/new/src/index.ts", "ext:@acme/core"});
}
