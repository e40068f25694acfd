// The vocabulary as the build lays it out (tokens_table_main.cpp writes it from a rank file,
// tokens_data.cpp embeds it): loading an encoding is then taking pointers into the binary, no
// parsing, no hashing, no allocation. Private to compress/.
//
// Layout, little-endian, all offsets from the start:
//   Header | uint32 offset[ranks + 1] (padded to 8) | uint64 slot[slots] | uint32 pair[65536] | token bytes
// Token r is bytes[offset[r], offset[r + 1]). A slot holds (hash >> 32) << 32 | (rank + 1), or 0
// when empty; open addressing with linear probing, slots a power of two at least twice the ranks,
// so a probe compares bytes only when 32 bits of the hash agree. pair[a << 8 | b] is the rank of
// the two bytes a b, or UINT32_MAX: every merge starts from byte pairs, and 256 KB stay in cache
// where the hash table's 2 to 4 MB do not.
//
// Versions: 1, the first.
#pragma once

#include <cstdint>
#include <cstring>

namespace compress::tokens::table {

inline constexpr char kMagic[8] = {'I', 'X', 'T', 'O', 'K', 'E', 'N', 'S'};
inline constexpr uint32_t kVersion = 1;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t ranks;
  uint32_t slots;
  uint32_t bytes;
};

inline uint64_t hash_bytes(const uint8_t* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    p += 8, n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0x94D049BB133111EBull;
  }
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

}  // namespace compress::tokens::table
