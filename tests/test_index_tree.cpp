// index_tree over real files, including every kind of bad input, with the counted reasons.
#include <catch2/catch.hpp>

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "indexer/indexer.h"

using indexer::SkipReason;

namespace {
size_t skipped(const indexer::Summary& s, SkipReason r) { return s.skipped[size_t(r)]; }

std::vector<std::string> all_names(const query::Index& index) {
  std::vector<std::string> out;
  for (uint32_t i = 0; i < index.symbol_count(); ++i) out.emplace_back(index.symbol(i).name);
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

TEST_CASE("index_tree: a bad-input tree is indexed without a crash and with the right skip counts", "[index][bad-input]") {
  test::TempDir t;
  t.write("good.py", "def good():\n    pass\n");
  t.write("binary.py", std::string("def hidden():\n\0\0\0binary", 24));
  t.write("huge.py", "x = 1\n" + std::string(7000, '#') + "\n");
  t.write("web/bundle.min.js", "function a(){}\n");
  t.write("web/packed.js", "var a=1;" + std::string(5000, 'b') + "\n");  // one 5 KB line: minified
  // A syntax error, an unclosed class and invalid UTF-8: tree-sitter recovers what follows.
  t.write("broken.py", "def ok():\n    pass\n\ndef broken(:\n    return \xff\xfe\n\nclass Half(\n\ndef after_error():\n    pass\n");
  t.write("README.md", "# not code\n");
  t.write("empty.go", "");
  t.write("tool", "#!/usr/bin/env python3\ndef from_shebang():\n    pass\n");
  t.write("ignored/skip.py", "def must_not_appear(): pass\n");
  t.write(".gitignore", "ignored/\n");
  test::fs::create_directory_symlink(t.path(), t / "loop");   // a symlink loop back to the root
  test::fs::create_symlink(t / "good.py", t / "link.py");
  REQUIRE(::mkfifo((t / "pipe.py").c_str(), 0644) == 0);     // reading it would block forever

  indexer::Options opt;
  opt.max_file_size = 6000;
  auto r = indexer::index_tree(t.path(), opt);
  REQUIRE(r.index);
  const auto& s = r.summary;
  CHECK(s.files_indexed == 4);  // good.py, broken.py, empty.go, tool
  CHECK(skipped(s, SkipReason::Binary) == 1);
  CHECK(skipped(s, SkipReason::TooLarge) == 1);
  CHECK(skipped(s, SkipReason::Minified) == 2);
  CHECK(skipped(s, SkipReason::Unsupported) == 2);  // README.md and .gitignore
  CHECK(skipped(s, SkipReason::Symlink) == 2);
  CHECK(skipped(s, SkipReason::Special) == 1);
  CHECK(s.parse_error_files == 1);

  auto names = all_names(*r.index);
  CHECK(std::count(names.begin(), names.end(), "good") == 1);
  CHECK(std::count(names.begin(), names.end(), "from_shebang") == 1);
  CHECK(std::count(names.begin(), names.end(), "after_error") == 1);  // recovered past the error
  CHECK(std::count(names.begin(), names.end(), "must_not_appear") == 0);
  CHECK(std::count(names.begin(), names.end(), "hidden") == 0);
  auto tool = r.index->find_file("tool");
  REQUIRE(tool);
  CHECK(r.index->file(*tool).language == query::Language::Python);
}

TEST_CASE("index_tree: unreadable files and directories are counted, not fatal", "[index][bad-input]") {
  test::TempDir t;
  t.write("ok.py", "def ok(): pass\n");
  t.write("secret.py", "def secret(): pass\n");
  t.write("locked/inner.py", "def inner(): pass\n");
  ::chmod((t / "secret.py").c_str(), 0);
  ::chmod((t / "locked").c_str(), 0);
  ::chmod(t.path().c_str(), 0755);

  // Root reads everything, so when we are root the indexing runs in a child as nobody.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)) _exit(3);
    auto r = indexer::index_tree(t.path(), {});
    size_t v[2] = {r.summary.files_indexed, r.summary.skipped[size_t(SkipReason::Unreadable)]};
    if (::write(fds[1], v, sizeof v) != sizeof v) _exit(4);
    _exit(r.index ? 0 : 5);
  }
  ::close(fds[1]);
  size_t v[2] = {0, 0};
  REQUIRE(::read(fds[0], v, sizeof v) == sizeof v);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(v[0] == 1);  // ok.py
  CHECK(v[1] == 2);  // secret.py and the locked directory
}

TEST_CASE("index_tree: a missing or non-directory root is an error, not a crash", "[index][bad-input]") {
  test::TempDir t;
  t.write("file.py", "x = 1\n");
  auto missing = indexer::index_tree(t / "nope", {});
  CHECK_FALSE(missing.index);
  CHECK(missing.error.find("No such file") != std::string::npos);
  auto file = indexer::index_tree(t / "file.py", {});
  CHECK_FALSE(file.index);
  CHECK(file.error.find("not a directory") != std::string::npos);
}

TEST_CASE("index_tree: results do not depend on the number of threads", "[index]") {
  test::TempDir t;
  for (int i = 0; i < 40; ++i)
    t.write("pkg" + std::to_string(i % 5) + "/m" + std::to_string(i) + ".py",
            "class C" + std::to_string(i) + ":\n    def run(self):\n        pass\n");
  indexer::Options one, many;
  one.threads = 1;
  many.threads = 4;
  auto a = indexer::index_tree(t.path(), one);
  auto b = indexer::index_tree(t.path(), many);
  REQUIRE(a.index);
  REQUIRE(b.index);
  REQUIRE(a.index->symbol_count() == 80);
  REQUIRE(b.index->symbol_count() == 80);
  for (uint32_t i = 0; i < 80; ++i) {
    CHECK(a.index->symbol(i).path == b.index->symbol(i).path);
    CHECK(a.index->symbol(i).name == b.index->symbol(i).name);
  }
}
