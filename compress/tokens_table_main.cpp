// Build step: a tiktoken rank file ("base64 rank" lines) to the table of tokens_table.h.
//   tokens_table IN.tiktoken OUT.bin
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "compress/tokens_table.h"

using namespace compress::tokens::table;

namespace {

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "tokens_table: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return fail("usage: tokens_table IN.tiktoken OUT.bin");
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) return fail(std::string("cannot read ") + argv[1]);
  std::string bytes, line;
  std::vector<uint32_t> offset{0};
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    size_t space = line.find(' ');
    if (space == std::string::npos) return fail(std::string(argv[1]) + ":" + std::to_string(number) + ": no rank");
    uint32_t acc = 0;
    int bits = 0;
    for (size_t k = 0; k < space; ++k) {
      int v = base64_value(line[k]);
      if (v < 0) {
        if (line[k] == '=') continue;
        return fail(std::string(argv[1]) + ":" + std::to_string(number) + ": not base64");
      }
      acc = acc << 6 | static_cast<uint32_t>(v);
      bits += 6;
      if (bits >= 8) bits -= 8, bytes.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
    // The ranks are the line order in both files: the tables rely on it.
    if (std::stoul(line.substr(space + 1)) != offset.size() - 1)
      return fail(std::string(argv[1]) + ":" + std::to_string(number) + ": rank out of order");
    offset.push_back(static_cast<uint32_t>(bytes.size()));
  }
  uint32_t ranks = static_cast<uint32_t>(offset.size() - 1), slots = 1;
  while (slots < ranks * 2) slots <<= 1;
  std::vector<uint64_t> slot(slots, 0);
  for (uint32_t r = 0; r < ranks; ++r) {
    uint64_t h = hash_bytes(reinterpret_cast<const uint8_t*>(bytes.data()) + offset[r], offset[r + 1] - offset[r]);
    uint64_t i = h & (slots - 1);
    while (slot[i]) i = (i + 1) & (slots - 1);
    slot[i] = (h >> 32) << 32 | (uint64_t{r} + 1);
  }
  std::vector<uint32_t> pair(65536, UINT32_MAX);
  for (uint32_t r = 0; r < ranks; ++r)
    if (offset[r + 1] - offset[r] == 2)
      pair[static_cast<uint8_t>(bytes[offset[r]]) << 8 | static_cast<uint8_t>(bytes[offset[r] + 1])] = r;
  std::vector<uint32_t> shorts;
  for (uint32_t r = 0; r < ranks; ++r)
    if (offset[r + 1] - offset[r] <= kShortMax) shorts.push_back(r);
  if (ranks >= (1u << 21) - 1) return fail("too many ranks for the short slots");
  uint32_t short_slots = 1;
  while (short_slots < shorts.size() * 2) short_slots <<= 1;
  std::vector<uint64_t> short_slot(short_slots, 0);
  for (uint32_t r : shorts) {
    uint64_t key = short_key(reinterpret_cast<const uint8_t*>(bytes.data()) + offset[r], offset[r + 1] - offset[r]);
    uint64_t i = short_hash(key) & (short_slots - 1);
    while (short_slot[i]) i = (i + 1) & (short_slots - 1);
    short_slot[i] = key | (uint64_t{r} + 1) << 43;
  }
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.version = kVersion, header.ranks = ranks, header.slots = slots, header.bytes = static_cast<uint32_t>(bytes.size());
  header.short_slots = short_slots;
  std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(&header), sizeof header);
  out.write(reinterpret_cast<const char*>(offset.data()), static_cast<std::streamsize>(offset.size() * 4));
  if (offset.size() % 2) out.write("\0\0\0\0", 4);  // slots 8-aligned
  out.write(reinterpret_cast<const char*>(slot.data()), static_cast<std::streamsize>(slot.size() * 8));
  out.write(reinterpret_cast<const char*>(pair.data()), static_cast<std::streamsize>(pair.size() * 4));
  out.write(reinterpret_cast<const char*>(short_slot.data()), static_cast<std::streamsize>(short_slot.size() * 8));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) return fail(std::string("cannot write ") + argv[2]);
  return 0;
}
