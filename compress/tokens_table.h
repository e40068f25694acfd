// The vocabulary as the build lays it out (tokens_table_main.cpp writes it from a rank file,
// tokens_data.cpp embeds it): loading an encoding is then taking pointers into the binary, no
// parsing, no hashing, no allocation. Private to compress/.
//
// Layout, little-endian, all offsets from the start:
//   Header | uint32 offset[ranks + 1] (padded to 8) | uint64 slot[slots] | uint32 pair[65536]
//   | uint64 short_slot[short_slots] | token bytes
// Token r is bytes[offset[r], offset[r + 1]). A slot holds (hash >> 32) << 32 | (rank + 1), or 0
// when empty; open addressing with linear probing, slots a power of two at least twice the ranks,
// so a probe compares bytes only when 32 bits of the hash agree. pair[a << 8 | b] is the rank of
// the two bytes a b, or UINT32_MAX: every merge starts from byte pairs, and 256 KB stay in cache
// where the hash table's 2 to 4 MB do not. A short slot holds a token of at most 5 bytes whole:
// its bytes (bits 0-39), its length (40-42) and its rank + 1 (43-63), or 0; a lookup of a short
// string reads one slot, where the main table also reads the offset and the bytes: three cache
// misses become one on the merges' most frequent question.
//
// Versions: 1, the first; 2 adds the short slots.

#pragma once

#include <cstdint>
#include <cstring>

namespace compress::tokens::table {

inline constexpr char kMagic[8] = {'I', 'X', 'T', 'O', 'K', 'E', 'N', 'S'};
inline constexpr uint32_t kVersion = 2;
inline constexpr size_t kShortMax = 5;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t ranks;
  uint32_t slots;
  uint32_t bytes;
  uint32_t short_slots;
  uint32_t reserved;
};

// The short key of 1 to 5 bytes: the bytes and the length; the rank goes above.
inline uint64_t short_key(const uint8_t* p, size_t n) {
  uint64_t k = 0;
  std::memcpy(&k, p, n);
  return k | uint64_t{n} << 40;
}
inline uint64_t short_hash(uint64_t key) {
  key *= 0x9E3779B97F4A7C15ull;
  return key ^ (key >> 29);
}

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
