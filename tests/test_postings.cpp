// Posting lists (query/posting_list.h) against a plain sorted vector: by example, on generated
// lists of every shape, and on the trigram lists of a real index.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>

#include "indexer/indexer.h"
#include "query/index_impl.h"

using query::detail::PostingList;
using query::detail::Postings;

namespace query::detail {
struct PostingsTestAccess {
  static std::vector<uint8_t>& bytes(Postings& p) { return p.bytes_; }
};
}  // namespace query::detail

namespace {

// Every way of reading `list` agrees with `ids`, including ids it does not hold.
void check_list(const PostingList& list, const std::vector<uint32_t>& ids) {
  REQUIRE(list.size() == ids.size());
  std::vector<uint32_t> decoded;
  list.decode(decoded);
  REQUIRE(decoded == ids);
  uint32_t top = ids.empty() ? 10 : ids.back() + 10;
  std::vector<uint32_t> probes;
  for (uint32_t id = 0; id < top; id += 1 + id / 512) probes.push_back(id);
  probes.insert(probes.end(), ids.begin(), ids.end());
  std::sort(probes.begin(), probes.end());
  PostingList::Cursor cursor(list);
  for (uint32_t id : probes) {
    bool want = std::binary_search(ids.begin(), ids.end(), id);
    INFO("id " << id);
    REQUIRE(list.contains(id) == want);
    REQUIRE(cursor.has(id) == want);
    REQUIRE(cursor.has(id) == want);  // asking twice is fine
  }
}

}  // namespace

TEST_CASE("postings: small lists by example", "[postings]") {
  Postings p;
  std::vector<std::vector<uint32_t>> lists = {
      {},                                  // no ids
      {7},                                 // one
      {0, 1, 2, 3, 5, 8, 13, 21},          // dense: a bitmap body
      {3, 300, 70000, 2000000000},         // sparse: varint gaps
  };
  for (const auto& l : lists) p.add(l);
  REQUIRE(p.size() == lists.size());
  CHECK(p.validate(2000000001).ok());
  CHECK(p.validate(2000000000).error() == "ids");  // an id at the limit is refused
  for (size_t i = 0; i < lists.size(); ++i) check_list(p.get(i), lists[i]);
}

TEST_CASE("postings: generated lists of every length and density", "[postings]") {
  std::mt19937 rng(42);
  Postings p;
  std::vector<std::vector<uint32_t>> lists;
  for (uint32_t n : {1u, 2u, 127u, 128u, 129u, 255u, 256u, 257u, 1000u, 5000u})
    for (uint32_t mean_gap : {1u, 2u, 7u, 8u, 9u, 100u, 5000u}) {
      std::vector<uint32_t> ids;
      uint32_t id = rng() % 50;
      for (uint32_t i = 0; i < n; ++i) {
        ids.push_back(id);
        id += 1 + rng() % (2 * mean_gap);
      }
      // Runs mixed with gaps: bitmap blocks next to varint blocks in one list.
      if (n > 200 && mean_gap == 100)
        for (uint32_t& v : ids) v = (&v - ids.data()) % 300 < 150 ? uint32_t(&v - ids.data()) : v + 1000;
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      lists.push_back(ids);
      p.add(ids);
    }
  CHECK(p.validate(UINT32_MAX / 2).ok());
  for (size_t i = 0; i < lists.size(); ++i) {
    INFO("list " << i << " of " << lists[i].size());
    check_list(p.get(i), lists[i]);
  }
}

TEST_CASE("postings: damaged bytes are refused, never read out of bounds", "[postings]") {
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < 600; ++i) ids.push_back(i * 3 + (i % 3));
  Postings good;
  good.add(ids);
  good.add(std::vector<uint32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  REQUIRE(good.validate(100000).ok());
  // Every single-byte change either still validates or is refused; those that validate decode
  // within bounds (ASan checks this in the sanitizer build).
  size_t refused = 0, total = 0;
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    Postings damaged = good;
    auto& raw = query::detail::PostingsTestAccess::bytes(damaged);
    size_t at = rng() % raw.size();
    raw[at] ^= uint8_t(1 + rng() % 255);
    ++total;
    if (!damaged.validate(100000).ok()) {
      ++refused;
      continue;
    }
    for (size_t i = 0; i < damaged.size(); ++i) {
      std::vector<uint32_t> out;
      damaged.get(i).decode(out);
      CHECK(std::is_sorted(out.begin(), out.end()));
      PostingList::Cursor c(damaged.get(i));
      for (uint32_t id = 0; id < 3000; id += 5) (void)c.has(id), (void)damaged.get(i).contains(id);
    }
  }
  CHECK(refused > total / 2);
}

TEST_CASE("postings: an index's trigram and segment lists equal the lists built the plain way", "[postings]") {
  // Real names: the symbol fixtures and this project's own sources.
  for (const char* dir : {FIXTURES_DIR "/symbols", FIXTURES_DIR "/../../query", FIXTURES_DIR "/../../indexer"}) {
    auto r = indexer::index_tree(dir, {});
    REQUIRE(r.index);
    const auto& d = query::detail::data_of(*r.index);
    std::map<query::Token, std::vector<uint32_t>> want;
    std::vector<query::Token> tokens;
    const uint32_t names = uint32_t(r.index->name_count());
    for (uint32_t id = 0; id < names; ++id) {
      tokens.clear();
      query::identifier_tokens(d.name(id), tokens);
      for (query::Token t : tokens) want[t].push_back(id);
    }
    INFO(dir);
    REQUIRE(d.token_keys.size() == want.size());
    size_t i = 0;
    for (const auto& [token, ids] : want) {
      REQUIRE(d.token_keys[i] == token);
      check_list(d.token(token), ids);
      ++i;
    }
    CHECK(d.token_postings.validate(names).ok());
    CHECK(d.segment_postings.validate(names).ok());
    // Container members: the symbols whose container is that chain, ascending.
    std::map<std::string, std::vector<uint32_t>> members;
    for (uint32_t id = 0; id < r.index->symbol_count(); ++id)
      if (auto s = r.index->symbol(id); !s.container.empty()) members[std::string(s.container)].push_back(id);
    REQUIRE(d.container_members.size() == members.size() + 1);
    check_list(d.container_members.get(0), {});
    for (uint32_t c = 1; c < d.containers.size(); ++c) check_list(d.container_members.get(c), members[std::string(d.strings.get(d.containers[c]))]);
  }
}
