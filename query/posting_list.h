// Posting lists: sorted name ids per token, all of them in one contiguous byte buffer.
//
// Concept: list i is bytes_[offsets_[i] .. offsets_[i+1]): a varint id count n, then the ids in
// blocks of kBlock. A list of one block stores its first id as a varint (shifted left once, the
// low bit flagging a bitmap body), then the body. A longer list stores a skip table first, one
// fixed 8-byte entry per block (first id; body offset from the end of the table, top bit = bitmap),
// so a cursor finds the block of any id with a binary search (partition_point) and decodes only
// that block. A body is either the gaps to the block's other ids in nibbles (NibbleReader), or a
// bitmap of id - first - 1 over the block's span, whichever is smaller: gaps under 4 (the
// densest trigram lists) cost a bit or two an id.
//
// Invariant: ids ascend strictly within a list; every list decodes within its own bytes (checked
// by validate() when a snapshot is loaded, so a crafted file cannot send a read out of bounds).
//
// Cost: 0.9 bytes an id on real names (CRoaring took 1.8, byte varints 1.1) and 4 bytes a list for its
// offset, with no allocation per list. size() reads one varint; contains() is a binary search in
// the skip table plus at most one block of decoding (or one bit test); a Cursor that moves
// forward decodes each block at most once, so intersecting k ids against a list costs
// O(k log blocks) plus the blocks actually touched. Nothing here allocates on the query path
// except decode(), into a vector the caller owns.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "query/result.h"

namespace query::detail {

// Gaps are written in nibbles, low bits first: three bits of the gap and a continuation bit
// each, so a gap under 8 costs half a byte, under 64 a byte, under 512 a byte and a half.
struct NibbleReader {
  const uint8_t* base;
  size_t pos = 0;  // in nibbles from base
  uint32_t nibble() {
    uint32_t n = (base[pos >> 1] >> ((pos & 1) * 4)) & 0xf;
    ++pos;
    return n;
  }
  uint32_t gap() {
    uint32_t n = nibble(), v = n & 7;
    for (int shift = 3; n & 8; shift += 3) v |= ((n = nibble()) & 7) << shift;
    return v;
  }
};

inline uint32_t read_varint(const uint8_t*& p) {
  uint32_t v = *p++;
  if (v < 0x80) return v;
  v &= 0x7f;
  for (int shift = 7;; shift += 7) {
    uint32_t b = *p++;
    v |= (b & 0x7f) << shift;
    if (b < 0x80) return v;
  }
}

// A read-only view of one list inside a Postings buffer.
class PostingList {
 public:
  static constexpr uint32_t kBlock = 128;
  static constexpr uint32_t kBitmapFlag = 0x80000000u;

  PostingList() = default;
  PostingList(const uint8_t* begin, const uint8_t* end);

  uint32_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  uint32_t blocks() const { return blocks_; }

  // Calls f(id) for every id, ascending.
  template <typename F>
  void for_each(F&& f) const {
    for (uint32_t b = 0; b < blocks_; ++b) {
      Block blk = block(b);
      f(blk.first);
      blk.for_rest(f);
    }
  }
  void decode(std::vector<uint32_t>& out) const {
    out.reserve(out.size() + count_);
    for_each([&](uint32_t id) { out.push_back(id); });
  }
  bool contains(uint32_t id) const;

  class Cursor;  // below

 private:
  friend struct PostingsCheck;
  struct Block {
    uint32_t first;
    uint32_t count;  // ids in the block, first included
    bool bitmap;
    const uint8_t* body;
    const uint8_t* body_end;
    template <typename F>
    void for_rest(F&& f) const {
      if (!bitmap) {
        NibbleReader r{body};
        uint32_t id = first;
        for (uint32_t i = 1; i < count; ++i) f(id += r.gap());
        return;
      }
      uint32_t left = count - 1;
      for (const uint8_t* p = body; left; ++p) {
        for (uint32_t bits = *p; bits && left; bits &= bits - 1, --left)
          f(first + 1 + uint32_t(p - body) * 8 + uint32_t(__builtin_ctz(bits)));
      }
    }
  };
  Block block(uint32_t b) const;
  uint32_t block_first(uint32_t b) const {
    uint32_t v;
    std::memcpy(&v, skip_ + 8 * size_t(b), 4);
    return v;
  }
  // The block that holds `id` if any does: the last whose first id is <= id, from `from` on.
  uint32_t find_block(uint32_t id, uint32_t from) const;

  const uint8_t* skip_ = nullptr;  // k > 1 blocks: the skip table; else null
  const uint8_t* body_ = nullptr;  // after the table (k > 1), or after the first id (k == 1)
  const uint8_t* end_ = nullptr;
  uint32_t count_ = 0;
  uint32_t blocks_ = 0;
  uint32_t single_first_ = 0;  // k == 1
  bool single_bitmap_ = false;
};

// Answers has(id) for ids that never decrease, resuming where the last call stopped. Holds a
// copy of the view (a few words), so a cursor over a temporary get() is fine.
class PostingList::Cursor {
 public:
  explicit Cursor(const PostingList& list) : list_(list) {}
  bool has(uint32_t id);

 private:
  PostingList list_;
  uint32_t block_ = UINT32_MAX;  // the block `p_` walks
  uint32_t current_ = 0;         // the last id decoded from it
  uint32_t left_ = 0;            // ids of the block not decoded yet (gap bodies)
  NibbleReader gaps_{nullptr};
  const uint8_t* p_ = nullptr;
  bool bitmap_ = false;
  const uint8_t* body_end_ = nullptr;
};

// Many posting lists in two flat arrays: no allocation per list, and a snapshot stores and
// loads them as they are.
class Postings {
 public:
  // Appends a list of strictly ascending ids.
  void add(std::span<const uint32_t> sorted_ids);
  // Appends list i of `other` as it is encoded: lists built apart (on other threads) join here.
  void append(const Postings& other, size_t i) {
    if (bytes_.size() + (other.offsets_[i + 1] - other.offsets_[i]) >= UINT32_MAX / 2) throw std::length_error("postings exceed 2 GiB");
    bytes_.insert(bytes_.end(), other.bytes_.begin() + other.offsets_[i], other.bytes_.begin() + other.offsets_[i + 1]);
    offsets_.push_back(uint32_t(bytes_.size()));
  }
  PostingList get(size_t i) const { return {bytes_.data() + offsets_[i], bytes_.data() + offsets_[i + 1]}; }
  size_t size() const { return offsets_.size() - 1; }
  size_t ids_bytes() const { return bytes_.capacity(); }
  size_t bytes() const { return bytes_.capacity() + offsets_.capacity() * 4; }
  void shrink() {
    bytes_.shrink_to_fit();
    offsets_.shrink_to_fit();
  }
  // Whether every list decodes within its bytes to strictly ascending ids below `id_limit`; the
  // error says what is wrong. check() does one list, once offsets_ok(), and raises max_id to the
  // list's largest id.
  Status validate(uint32_t id_limit) const;
  const char* check(size_t list, uint32_t id_limit, uint32_t& max_id) const;
  bool offsets_ok() const;

 private:
  friend struct SnapshotCodec;
  friend struct PostingsTestAccess;  // tests damage the bytes
  std::vector<uint32_t> offsets_{0};
  std::vector<uint8_t> bytes_;
};

}  // namespace query::detail
