// compress/tokens.h: the API's contracts on small literal texts (the ids themselves are compared
// with tiktoken's by tests/clients/tokens.test.mjs on a large generated corpus).
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress/tokens.h"
#include "server/registry.h"

using namespace compress::tokens;

namespace {

const Encoding kBoth[] = {Encoding::Cl100k, Encoding::O200k};

// Prose, code, scripts, emoji, white space runs and contractions: every kind of piece.
std::string mixed_text() {
  std::string s;
  for (int i = 0; i < 6; ++i) {
    s += "It's the tokenizer's job; they'LL say we'd SEE. Don't PANIC!\n";
    s += "def f(x):\n    return x * 1234567 + 0.5  # comment\n\n\n";
    s += "Größe  \t Ελληνικά русский 中文字符串 日本語 한국어 مرحبا שלום हिन्दी\r\n";
    s += "👨‍👩‍👧‍👦 👍🏽 e\xCC\x81 \xEF\xBB\xBF" "BOM   \n   \n";
    s += std::string(static_cast<size_t>(i * 7), ' ') + "x" + std::string(static_cast<size_t>(i * 3), '\n');
  }
  return s;
}

bool is_char_boundary(const std::string& s, size_t i) { return i == s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80; }

}  // namespace

TEST_CASE("tokens: ids of a literal text, both encodings", "[tokens]") {
  CHECK(tokenizer(Encoding::Cl100k).encode("Hello world, it's") == std::vector<uint32_t>{9906, 1917, 11, 433, 596});
  CHECK(tokenizer(Encoding::O200k).encode("Hello world, it's") == std::vector<uint32_t>{13225, 2375, 11, 4275});
  CHECK(tokenizer(Encoding::Cl100k).vocabulary_size() == 100256);
  CHECK(tokenizer(Encoding::O200k).vocabulary_size() == 199998);
  CHECK(encoding_named("o200k_base") == Encoding::O200k);
  CHECK(encoding_named("cl100k_base") == Encoding::Cl100k);
  CHECK(!encoding_named("p50k_base"));
  for (Encoding e : kBoth) {
    CHECK(tokenizer(e).count("") == 0);
    CHECK(tokenizer(e).encode("").empty());
  }
}

TEST_CASE("tokens: special tokens are plain text when counted, and decode to their text", "[tokens]") {
  const Tokenizer& t = tokenizer(Encoding::Cl100k);
  CHECK(t.count("<|endoftext|>") > 1);
  uint32_t eot[] = {100257};
  CHECK(t.decode(eot).bytes == "<|endoftext|>");
  uint32_t unknown[] = {9906, 100300, 1917};
  auto d = t.decode(unknown);
  CHECK(d.unknown == 100300u);
  CHECK(d.bytes == "Hello");
}

TEST_CASE("tokens: decode gives back the bytes, also of a token ending inside a character", "[tokens]") {
  std::string text = mixed_text();
  for (Encoding e : kBoth) {
    const Tokenizer& t = tokenizer(e);
    auto ids = t.encode(text);
    CHECK(ids.size() == t.count(text));
    CHECK(t.decode(ids).bytes == text);
    // Some token of the emoji holds only part of its UTF-8 sequence.
    bool partial = false;
    for (uint32_t id : ids) partial |= !is_valid_utf8(t.decode(std::span<const uint32_t>(&id, 1)).bytes);
    CHECK(partial);
  }
}

TEST_CASE("tokens: invalid UTF-8 counts as its U+FFFD replacement", "[tokens]") {
  CHECK(to_valid_utf8("a\xC3(b") == "a\xEF\xBF\xBD(b");
  CHECK(to_valid_utf8("x\xE2\x82") == "x\xEF\xBF\xBD");                          // one maximal subpart
  CHECK(to_valid_utf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate: three
  CHECK(to_valid_utf8("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");
  CHECK(!is_valid_utf8("\xC0\xAF"));
  for (Encoding e : kBoth) {
    const Tokenizer& t = tokenizer(e);
    for (std::string bad : std::vector<std::string>{"a\xC3(b", "x\xE2\x82", "\xFF\xFE\x41 it's", "\x80\x80\x80'S", "\xF0\x9F\x98"}) {
      CHECK(t.encode(bad) == t.encode(to_valid_utf8(bad)));
      CHECK(t.count(bad) == t.count(to_valid_utf8(bad)));
    }
  }
}

TEST_CASE("tokens: count_range counts a byte range on its own, never splitting a character", "[tokens]") {
  const Tokenizer& t = tokenizer(Encoding::O200k);
  std::string text = "naïve café: 中文 text";
  CHECK(t.count_range(text, 0, text.size()) == t.count(text));
  CHECK(t.count_range(text, 6, 12) == t.count(" café"));
  CHECK(t.count_range(text, 6, 11) == t.count(" caf"));  // 11 is inside "é"
  // "ï" is bytes 2..3: an end at 3 falls inside it and moves back to 2.
  CHECK(t.count_range(text, 0, 3) == t.count("na"));
  CHECK(t.count_range(text, 3, 3) == 0);
  CHECK(t.count_range(text, 5, 1000) == t.count(text.substr(5)));
}

TEST_CASE("tokens: truncate keeps the longest prefix found within the budget", "[tokens]") {
  std::string text = mixed_text();
  for (Encoding e : kBoth) {
    const Tokenizer& t = tokenizer(e);
    size_t total = t.count(text);
    CHECK(t.truncate(text, total) == text.size());
    CHECK(t.truncate(text, total + 10) == text.size());
    CHECK(t.truncate(text, 0) == 0);
    for (size_t n : {1, 2, 3, 5, 17, 64, 100, 333}) {
      size_t cut = t.truncate(text, n);
      INFO("max " << n << ", cut " << cut);
      CHECK(is_char_boundary(text, cut));
      CHECK(t.count(text.substr(0, cut)) <= n);
      CHECK(cut > 0);
      // Not needlessly short: the prefix covers at least n - 4 tokens (a character is at most 4).
      CHECK(t.count(text.substr(0, cut)) + 4 >= n);
    }
  }
}

TEST_CASE("tokens: split covers the text with chunks within the budget, cut at line ends", "[tokens]") {
  std::string text = mixed_text();
  for (Encoding e : kBoth) {
    const Tokenizer& t = tokenizer(e);
    for (size_t n : {1, 3, 8, 40, 200, 100000}) {
      auto chunks = t.split(text, n);
      INFO("max " << n << ", " << chunks.size() << " chunks");
      REQUIRE(!chunks.empty());
      CHECK(chunks.front().first == 0);
      CHECK(chunks.back().second == text.size());
      for (size_t i = 0; i < chunks.size(); ++i) {
        auto [b, end] = chunks[i];
        CHECK(b < end);
        if (i) CHECK(chunks[i - 1].second == b);
        CHECK(is_char_boundary(text, end));
        std::string chunk = text.substr(b, end - b);
        size_t c = t.count(chunk);
        // Only a single character may exceed the budget (it cannot be cut).
        if (c > n) CHECK(std::u32string::size_type(chunk.size()) <= 4);
        else CHECK(c <= n);
      }
      if (n == 100000) CHECK(chunks.size() == 1);
    }
    // Lines that fit are never cut: every chunk but the last ends with a newline.
    std::string lines;
    for (int i = 0; i < 50; ++i) lines += "line number " + std::to_string(i) + " of the file\n";
    auto chunks = t.split(lines, 30);
    CHECK(chunks.size() > 3);
    for (size_t i = 0; i + 1 < chunks.size(); ++i) CHECK(lines[chunks[i].second - 1] == '\n');
  }
}

TEST_CASE("tokens: the incremental count equals the full count after every append", "[tokens]") {
  std::string text = mixed_text();
  text += "trailing spaces   \n\n\n   and an unfinished emoji \xF0\x9F\x98";
  for (Encoding e : kBoth) {
    const Tokenizer& t = tokenizer(e);
    SECTION(std::string(name_of(e)) + ": byte by byte") {
      Counter counter(e);
      for (size_t i = 0; i < text.size(); ++i) {
        counter.append(text.substr(i, 1));
        REQUIRE(counter.count() == t.count(text.substr(0, i + 1)));
      }
    }
    SECTION(std::string(name_of(e)) + ": in random pieces") {
      std::mt19937 random(7);
      Counter counter(e);
      size_t at = 0;
      while (at < text.size()) {
        size_t n = std::min<size_t>(random() % 23, text.size() - at);
        counter.append(text.substr(at, n));
        at += n;
        REQUIRE(counter.count() == t.count(text.substr(0, at)));
      }
    }
  }
  SECTION("only the tail is re-scanned") {
    Counter counter(Encoding::O200k);
    size_t most = 0;
    for (int i = 0; i < 200; ++i) {
      counter.append("The quick brown fox jumps over the lazy dog, line " + std::to_string(i) + ".\n");
      most = std::max(most, counter.tail_bytes());
    }
    CHECK(most < 64);
  }
}

TEST_CASE("tokens: random texts keep every invariant (count, decode, truncate, split, the counter)", "[tokens]") {
  // Atoms of every class the scanners tell apart, and raw bytes that are not UTF-8 at all.
  const std::vector<std::string> atoms = {"a", "Z", "é", "É", "ǅ", "ʰ", "中", "\xCC\x81", "7", "٣", "Ⅻ", " ", "  ", "\t", "\n", "\r\n",
                                          "\xC2\xA0", "'", "'s", "'LL", "'ſ", "!", "/", "😀", "👍🏽", "\xEF\xBB\xBF", "_", "\x80", "\xF0\x9F",
                                          "\xFF", "Word", "HTTP", "camelCase", "1234567"};
  std::mt19937 random(99);
  for (int round = 0; round < 60; ++round) {
    std::string text;
    for (size_t k = 0, n = random() % 200; k < n; ++k) text += atoms[random() % atoms.size()];
    for (Encoding e : kBoth) {
      const Tokenizer& t = tokenizer(e);
      std::string valid = to_valid_utf8(text);
      INFO(name_of(e) << " round " << round);
      auto ids = t.encode(text);
      REQUIRE(ids == t.encode(valid));
      REQUIRE(t.count(text) == ids.size());
      REQUIRE(t.decode(ids).bytes == valid);
      Counter counter(e);
      for (size_t at = 0; at < text.size();) {
        size_t n = std::min<size_t>(random() % 9, text.size() - at);
        counter.append(text.substr(at, n));
        at += n;
        REQUIRE(counter.count() == t.count(text.substr(0, at)));
      }
      size_t budget = 1 + random() % 20;
      REQUIRE(t.count(valid.substr(0, t.truncate(valid, budget))) <= budget);
      size_t covered = 0;
      for (auto [b, end] : t.split(valid, budget + 3)) {
        REQUIRE(b == covered);
        REQUIRE(t.count(valid.substr(b, end - b)) <= budget + 3);
        covered = end;
      }
      REQUIRE(covered == valid.size());
    }
  }
}

TEST_CASE("tokens: one 80,000-character word and long runs are tokenized", "[tokens]") {
  std::mt19937 random(42);
  std::string letters, same(80000, 'a');
  for (int i = 0; i < 80000; ++i) letters += static_cast<char>('a' + random() % 26);
  for (Encoding e : kBoth) {
    const Tokenizer& t = tokenizer(e);
    for (const std::string* s : {&letters, &same}) {
      auto ids = t.encode(*s);
      CHECK(ids.size() > 1000);
      CHECK(t.decode(ids).bytes == *s);
    }
    std::string spaces = std::string(10000, ' ') + "word";
    CHECK(t.decode(t.encode(spaces)).bytes == spaces);
  }
}

TEST_CASE("tokens: first use from many threads at once loads each encoding once", "[tokens]") {
  std::string text = mixed_text();
  std::vector<size_t> counts(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < counts.size(); ++i)
    threads.emplace_back([&, i] { counts[i] = tokenizer(kBoth[i % 2]).count(text); });
  for (auto& th : threads) th.join();
  for (size_t i = 0; i < counts.size(); ++i) CHECK(counts[i] == tokenizer(kBoth[i % 2]).count(text));
}

namespace {

// A server whose first index is still being built: the tokens methods must not wait for it.
class Indexing : public server::Host {
 public:
  server::Service* index_now() override { return nullptr; }
  server::Service& index_ready(const server::CancelFlag&) override { throw server::RpcError{server::kServerNotReady, "still indexing"}; }
};

nlohmann::json call(const char* method, const nlohmann::json& params) {
  Indexing host;
  server::CancelFlag never{false};
  return server::to_json(server::registry().call(method, params, host, never));
}

std::string refusal(const char* method, const nlohmann::json& params) {
  try {
    call(method, params);
  } catch (const server::RpcError& e) {
    return std::to_string(e.code) + " " + e.message;
  }
  return "answered";
}

}  // namespace

TEST_CASE("tokens: the methods answer while the index is built, and refuse bad params by name", "[tokens]") {
  using nlohmann::json;
  CHECK(call("tokens/count", {{"text", "Hello world, it's"}}) == json{{"count", 4}, {"encoding", "o200k_base"}});
  CHECK(call("tokens/encode", {{"text", "Hello world, it's"}, {"encoding", "cl100k_base"}}) ==
        json{{"tokens", {9906, 1917, 11, 433, 596}}, {"encoding", "cl100k_base"}});
  CHECK(call("tokens/decode", {{"tokens", {9906, 1917}}, {"encoding", "cl100k_base"}}) == json{{"text", "Hello world"}, {"valid_utf8", true}});
  // The first token of a rare character holds part of its UTF-8: U+FFFD, and said so.
  json partial = call("tokens/decode", {{"tokens", json::array({call("tokens/encode", {{"text", "𪚥"}})["tokens"][0]})}});
  CHECK(partial["valid_utf8"] == false);
  json split = call("tokens/split", {{"text", "one\ntwo\nthree\n"}, {"max_tokens", 2}});
  CHECK(split["chunks"] == json::parse(R"([{"text":"one\n","tokens":2,"begin":0,"end":4},{"text":"two\n","tokens":2,"begin":4,"end":8},)"
                                       R"({"text":"three\n","tokens":2,"begin":8,"end":14}])"));

  CHECK(refusal("tokens/count", {{"text", "x"}, {"encoding", "p50k_base"}}) ==
        "-32602 param 'encoding' must be \"cl100k_base\" or \"o200k_base\", not \"p50k_base\"");
  CHECK(refusal("tokens/count", json::object()) == "-32602 missing param 'text'");
  CHECK(refusal("tokens/count", {{"text", std::string((16 << 20) + 1, 'a')}}) ==
        "-32602 param 'text' is 16777217 bytes; tokens methods take at most 16777216 bytes (16 MiB): split it");
  CHECK(refusal("tokens/decode", {{"tokens", {1, -2}}}) == "-32602 param 'tokens' must hold token ids (integers from 0)");
  CHECK(refusal("tokens/decode", {{"tokens", {999999999}}}) == "-32602 token id 999999999 is not in o200k_base");
  CHECK(refusal("tokens/split", {{"text", "x"}}) == "-32602 missing param 'max_tokens'");
  std::string words = "x";
  for (int i = 1; i < 70000; ++i) words += " x";  // 70,000 tokens
  CHECK(refusal("tokens/split", {{"text", words}, {"max_tokens", 1}}) ==
        "-32602 the text splits into 70000 chunks of at most 1 tokens; tokens/split answers at most 65536: raise 'max_tokens'");
  CHECK(refusal("tokens/split", {{"text", "x"}, {"max_tokens", 0}}).starts_with("-32602 param 'max_tokens' must be an integer from 1"));

  const server::Method* method = server::registry().with_tool("count_tokens");
  REQUIRE(method);
  const server::McpTool* tool = &*method->tool;
  Indexing host;
  server::CancelFlag never{false};
  server::Context context{host, nullptr, never};
  CHECK(tool->run({{"text", "Hello world, it's"}, {"encoding", "cl100k_base"}}, context) == "5 tokens (cl100k_base)\n");
}
