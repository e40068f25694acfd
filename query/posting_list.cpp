#include "query/posting_list.h"

#include <algorithm>
#include <cassert>
#include <functional>
#include <stdexcept>

namespace query::detail {
namespace {

void put_varint(std::vector<uint8_t>& out, uint32_t v) {
  while (v >= 0x80) {
    out.push_back(uint8_t(0x80 | (v & 0x7f)));
    v >>= 7;
  }
  out.push_back(uint8_t(v));
}

void put_u32(std::vector<uint8_t>& out, size_t at, uint32_t v) { std::memcpy(out.data() + at, &v, 4); }

// The body of one block (the ids after its first): gaps in nibbles or a bitmap, whichever is
// smaller. Returns whether it is a bitmap.
bool encode_body(std::span<const uint32_t> ids, std::vector<uint8_t>& out) {
  size_t start = out.size();
  if (ids.size() < 2) return false;
  size_t nibbles = 0;
  auto put_nibble = [&](uint32_t n) {
    if (nibbles++ % 2 == 0) out.push_back(uint8_t(n));
    else out.back() |= uint8_t(n << 4);
  };
  for (size_t i = 1; i < ids.size(); ++i) {
    uint32_t gap = ids[i] - ids[i - 1];
    for (; gap >= 8; gap >>= 3) put_nibble(8 | (gap & 7));
    put_nibble(gap);
  }
  size_t varint_bytes = out.size() - start;
  size_t span = ids.back() - ids.front() - 1;  // bit positions 0..span
  size_t bitmap_bytes = span / 8 + 1;
  if (bitmap_bytes >= varint_bytes) return false;
  out.resize(start);
  out.resize(start + bitmap_bytes, 0);
  for (size_t i = 1; i < ids.size(); ++i) {
    size_t bit = ids[i] - ids[0] - 1;
    out[start + bit / 8] |= uint8_t(1u << (bit % 8));
  }
  return true;
}

// Bounds-checked varint for validation: false on overrun or more than five bytes.
bool safe_varint(const uint8_t*& p, const uint8_t* end, uint32_t& v) {
  v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (p == end) return false;
    uint32_t b = *p++;
    v |= (b & 0x7f) << shift;
    if (b < 0x80) return shift < 28 || b < 0x10;
  }
  return false;
}

}  // namespace

PostingList::PostingList(const uint8_t* begin, const uint8_t* end) : end_(end) {
  const uint8_t* p = begin;
  count_ = read_varint(p);
  blocks_ = (count_ + kBlock - 1) / kBlock;
  if (blocks_ == 1) {
    uint32_t v = read_varint(p);
    single_first_ = v >> 1;
    single_bitmap_ = v & 1;
    body_ = p;
  } else if (blocks_ > 1) {
    skip_ = p;
    body_ = p + 8 * size_t(blocks_);
  }
}

PostingList::Block PostingList::block(uint32_t b) const {
  uint32_t count = b + 1 < blocks_ ? kBlock : count_ - b * kBlock;
  if (!skip_) return {single_first_, count, single_bitmap_, body_, end_};
  uint32_t first, at, next = 0;
  std::memcpy(&first, skip_ + 8 * size_t(b), 4);
  std::memcpy(&at, skip_ + 8 * size_t(b) + 4, 4);
  if (b + 1 < blocks_) std::memcpy(&next, skip_ + 8 * size_t(b + 1) + 4, 4);
  const uint8_t* body_end = b + 1 < blocks_ ? body_ + (next & ~kBitmapFlag) : end_;
  return {first, count, (at & kBitmapFlag) != 0, body_ + (at & ~kBitmapFlag), body_end};
}

uint32_t PostingList::find_block(uint32_t id, uint32_t from) const {
  if (!skip_) return 0;
  // Gallop from `from` (cursors move forward in small steps), then binary search.
  uint32_t lo = from, step = 1, hi = from + 1;
  while (hi < blocks_ && block_first(hi) <= id) {
    lo = hi;
    hi = lo + step;
    step *= 2;
  }
  hi = std::min(hi, blocks_);
  while (hi - lo > 1) {  // block_first(lo) <= id (or lo == from), block_first(hi) > id or hi == blocks_
    uint32_t mid = lo + (hi - lo) / 2;
    if (block_first(mid) <= id) lo = mid;
    else hi = mid;
  }
  return lo;
}

bool PostingList::contains(uint32_t id) const {
  if (count_ == 0) return false;
  Block blk = block(find_block(id, 0));
  if (id <= blk.first) return id == blk.first;
  if (blk.bitmap) {
    size_t bit = id - blk.first - 1;
    return bit / 8 < size_t(blk.body_end - blk.body) && (blk.body[bit / 8] >> (bit % 8) & 1);
  }
  NibbleReader r{blk.body};
  uint32_t v = blk.first;
  for (uint32_t i = 1; i < blk.count; ++i) {
    v += r.gap();
    if (v >= id) return v == id;
  }
  return false;
}

bool PostingList::Cursor::has(uint32_t id) {
  const PostingList& l = list_;
  if (l.count_ == 0) return false;
  if (block_ == UINT32_MAX || (l.skip_ && block_ + 1 < l.blocks_ && l.block_first(block_ + 1) <= id)) {
    uint32_t b = l.find_block(id, block_ == UINT32_MAX ? 0 : block_);
    if (b != block_) {
      Block blk = l.block(b);
      block_ = b;
      current_ = blk.first;
      left_ = blk.count - 1;
      p_ = blk.body;
      gaps_ = {blk.body};
      bitmap_ = blk.bitmap;
      body_end_ = blk.body_end;
    }
  }
  if (bitmap_) {
    if (id <= current_) return id == current_;  // current_ stays the block's first id
    size_t bit = id - current_ - 1;
    return bit / 8 < size_t(body_end_ - p_) && (p_[bit / 8] >> (bit % 8) & 1);
  }
  while (current_ < id && left_) {
    current_ += gaps_.gap();
    --left_;
  }
  return current_ == id;
}

void Postings::add(std::span<const uint32_t> ids) {
  const uint32_t n = uint32_t(ids.size());
  put_varint(bytes_, n);
  const uint32_t blocks = (n + PostingList::kBlock - 1) / PostingList::kBlock;
  assert(std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<uint32_t>()) == ids.end() && "ids ascend strictly");
  if (n && ids.back() >= PostingList::kBitmapFlag) throw std::length_error("posting ids exceed 2^31");
  if (blocks == 1) {
    std::vector<uint8_t> body;
    bool bitmap = encode_body(ids, body);
    put_varint(bytes_, (ids[0] << 1) | (bitmap ? 1 : 0));
    bytes_.insert(bytes_.end(), body.begin(), body.end());
  } else if (blocks > 1) {
    size_t table = bytes_.size();
    bytes_.resize(table + 8 * size_t(blocks));
    size_t body = bytes_.size();
    for (uint32_t b = 0; b < blocks; ++b) {
      auto block = ids.subspan(size_t(b) * PostingList::kBlock, std::min<size_t>(PostingList::kBlock, n - size_t(b) * PostingList::kBlock));
      uint32_t at = uint32_t(bytes_.size() - body);
      bool bitmap = encode_body(block, bytes_);
      put_u32(bytes_, table + 8 * size_t(b), block[0]);
      put_u32(bytes_, table + 8 * size_t(b) + 4, at | (bitmap ? PostingList::kBitmapFlag : 0));
    }
  }
  // Offsets are 32-bit, and so are bodies within a list (less the flag bit).
  if (bytes_.size() >= UINT32_MAX / 2) throw std::length_error("posting lists exceed 2 GiB");
  offsets_.push_back(uint32_t(bytes_.size()));
}

// Decodes every list with bounds checks: what makes the unchecked readers above safe on a file.
struct PostingsCheck {
  static const char* list(const uint8_t* begin, const uint8_t* end, uint32_t id_limit, uint32_t& max_id) {
    const uint8_t* p = begin;
    uint32_t n;
    if (!safe_varint(p, end, n)) return "list header";
    if (n == 0) return p == end ? nullptr : "empty list with bytes";
    const uint32_t blocks = (n + PostingList::kBlock - 1) / PostingList::kBlock;
    if (blocks == 1) {
      uint32_t v;
      if (!safe_varint(p, end, v)) return "list header";
    } else if (size_t(end - p) < 8 * size_t(blocks)) {
      return "skip table";
    }
    PostingList list(begin, end);
    int64_t last = -1;
    for (uint32_t b = 0; b < blocks; ++b) {
      if (list.skip_) {  // entries: bodies in order, within the list
        uint32_t at, next = uint32_t(end - list.body_);
        std::memcpy(&at, list.skip_ + 8 * size_t(b) + 4, 4);
        if (b + 1 < blocks) std::memcpy(&next, list.skip_ + 8 * size_t(b + 1) + 4, 4), next &= ~PostingList::kBitmapFlag;
        at &= ~PostingList::kBitmapFlag;
        if (at > next || next > size_t(end - list.body_)) return "skip table";
      }
      PostingList::Block blk = list.block(b);
      if (int64_t(blk.first) <= last || blk.first >= id_limit) return "ids";
      last = blk.first;
      if (blk.bitmap) {
        size_t bits = 0;
        const uint8_t* top = nullptr;  // the last nonzero byte: it holds the block's last id
        for (const uint8_t* q = blk.body; q < blk.body_end; ++q) {
          bits += size_t(__builtin_popcount(*q));
          if (*q) top = q;
        }
        if (bits != blk.count - 1 || blk.count < 2) return "bitmap block";
        uint64_t max_id = uint64_t(blk.first) + 1 + uint64_t(top - blk.body) * 8 + uint64_t(31 - __builtin_clz(*top));
        if (max_id >= id_limit) return "ids";
        last = int64_t(max_id);
      } else {
        // Branch-free over every nibble (this is most of a snapshot's load checks): exactly
        // count - 1 gaps, none zero, none over 11 nibbles (so the readers' shifts stay under 32),
        // the body ends with the last gap (an odd count leaves one zero nibble of padding), and
        // the last id stays under the limit.
        const size_t bytes = size_t(blk.body_end - blk.body);
        if (blk.count == 1) {
          if (bytes) return "block length";
          continue;  // last is the first id
        }
        if (bytes == 0) return "block length";
        uint64_t sum = 0, acc = 0;
        uint32_t shift = 0, terminators = 0, bad = 0;
        auto step = [&](uint32_t n) {
          uint32_t end = (n >> 3) ^ 1;
          acc |= uint64_t(n & 7) << shift;
          bad |= (end & (acc == 0)) | (shift > 30);
          sum += acc & (0 - uint64_t(end));
          terminators += end;
          acc &= uint64_t(end) - 1;
          shift = std::min<uint32_t>((shift + 3) & (end - 1), 33);
        };
        for (size_t i = 0; i + 1 < bytes; ++i) {
          step(blk.body[i] & 0xf);
          step(blk.body[i] >> 4);
        }
        step(blk.body[bytes - 1] & 0xf);
        if (blk.body[bytes - 1] >> 4) step(blk.body[bytes - 1] >> 4);  // else padding
        if (bad || terminators != blk.count - 1 || shift != 0) return "gaps";
        if (uint64_t(blk.first) + sum >= id_limit) return "ids";
        last = int64_t(blk.first + sum);
      }
    }
    if (last >= 0) max_id = std::max(max_id, uint32_t(last));
    return nullptr;
  }
};

bool Postings::offsets_ok() const {
  if (offsets_.empty() || offsets_.front() != 0 || offsets_.back() != bytes_.size()) return false;
  for (size_t i = 0; i + 1 < offsets_.size(); ++i)
    if (offsets_[i] >= offsets_[i + 1]) return false;  // every list has its count, at least
  return true;
}

const char* Postings::check(size_t i, uint32_t id_limit, uint32_t& max_id) const {
  return PostingsCheck::list(bytes_.data() + offsets_[i], bytes_.data() + offsets_[i + 1], id_limit, max_id);
}

Status Postings::validate(uint32_t id_limit) const {
  if (!offsets_ok()) return Error{"offsets"};
  uint32_t max_id = 0;
  for (size_t i = 0; i < size(); ++i)
    if (const char* bad = check(i, id_limit, max_id)) return Error{bad};
  return {};
}

}  // namespace query::detail
