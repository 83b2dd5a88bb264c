// The text decoder's keys and values, in pages. A page holds P tokens of one layer: K as
// [kv_heads][head_dim][P] (each head's keys transposed, so attention loads several keys' terms at once and
// sums scores without horizontal adds) and V as [kv_heads][P][head_dim] in f32 (bf16 packs pairs: KvPool);
// each head's part is one contiguous run per page. Pages come from one pool per engine: its address space is reserved once (capped by --kv-memory) and touched only as pages
// are first used, pages are recycled through a free list, and the decode loop never calls malloc. A page may
// be held by several sequences (a shared prompt prefix, Fork): it is reference-counted and written only by
// a sequence that holds it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "io/status.h"

namespace glmv {

// Element type of the cache (--kv-type). f32 keeps the reference's arithmetic (check-golden at 1e-4); bf16
// halves the bytes attention streams and lets AVX512-BF16 dot products do two multiply-adds per lane; int8
// (each token's key and value of a head with its own scale, absmax / 127) halves them again, and AVX512-VNNI
// does four multiply-adds per lane.
enum class KvType : uint8_t { kF32, kBF16, kInt8 };
const char* KvTypeName(KvType t);  // "f32", "bf16", "int8"
// "f32", "bf16" or "int8"; anything else is an error naming what is accepted.
Result<KvType> ParseKvType(std::string_view name);
// Bytes of keys and values one token takes in one layer, padding and scales included (bf16 pads an odd
// head_dim to pairs, int8 to quads).
size_t KvBytesPerTokenLayer(KvType t, size_t kv_heads, size_t head_dim);
// Bytes of one page of `page_tokens` tokens (one layer's keys and values of every kv-head).
size_t KvPageBytes(KvType t, size_t kv_heads, size_t head_dim, size_t page_tokens);

// Page layouts, per kv-head h (each head's part one contiguous run of the page):
//   f32:  K [head_dim][P] (keys transposed), V [P][head_dim].
//   bf16: pairs of bf16 in 32-bit words, the unit of AVX512-BF16's dot product (element 2i in the low half):
//         K [⌈head_dim/2⌉][P] words, word (r, j) = dims 2r, 2r+1 of key j (an odd head_dim pads a zero);
//         V [⌈P/2⌉][head_dim] words, word (i, e) = dim e of positions 2i, 2i+1 of the page.
//   int8: quads of bytes in 32-bit words, the unit of AVX512-VNNI's dot product (the lowest byte first):
//         K [⌈head_dim/4⌉][P] words, word (r, j) = dims 4r..4r+3 of key j as x + 128 (a pad stores 128), then
//         P f32 key scales; V [⌈P/4⌉][head_dim] words, word (i, e) = dim e of positions 4i..4i+3 as signed
//         bytes, then P f32 value scales (simd/attention.h, KvHeadPagesInt8).
class KvPool {
 public:
  // Reserves room for at most `max_bytes` of pages (rounded down to whole pages, at least one) of
  // `page_tokens` tokens, `kv_heads` × `head_dim` each. Nothing is touched until a page is first written.
  static Result<KvPool> Create(size_t kv_heads, size_t head_dim, size_t page_tokens, size_t max_bytes,
                               KvType type = KvType::kF32);
  KvPool() = default;
  KvPool(KvPool&& other) noexcept { *this = std::move(other); }
  KvPool& operator=(KvPool&& other) noexcept;
  KvPool(const KvPool&) = delete;
  KvPool& operator=(const KvPool&) = delete;
  ~KvPool();

  KvType type() const { return type_; }
  size_t page_tokens() const { return page_tokens_; }
  size_t kv_heads() const { return kv_heads_; }
  size_t head_dim() const { return head_dim_; }
  // Bytes of one kv-head's keys (values) within a page; head h's part starts at h times this.
  size_t k_head_bytes() const { return k_head_bytes_; }
  size_t v_head_bytes() const { return v_head_bytes_; }
  size_t page_bytes() const { return kv_heads_ * (k_head_bytes_ + v_head_bytes_); }
  size_t capacity_pages() const { return capacity_pages_; }
  size_t pages_in_use() const { return in_use_; }
  size_t bytes_in_use() const { return in_use_ * page_bytes(); }

  // A free page with one holder, or -1 when the pool is full.
  int32_t Acquire();
  void Retain(int32_t page) { ++refs_[static_cast<size_t>(page)]; }
  void Release(int32_t page);
  uint32_t holders(int32_t page) const { return refs_[static_cast<size_t>(page)]; }

  // Keys of `page` (every head's, laid out as above), then its values.
  std::byte* K(int32_t page) const { return base_ + static_cast<size_t>(page) * page_bytes(); }
  std::byte* V(int32_t page) const { return K(page) + kv_heads_ * k_head_bytes_; }

 private:
  std::byte* base_ = nullptr;
  KvType type_ = KvType::kF32;
  size_t mapped_bytes_ = 0;
  size_t kv_heads_ = 0, head_dim_ = 0, page_tokens_ = 0, k_head_bytes_ = 0, v_head_bytes_ = 0;
  size_t capacity_pages_ = 0, next_fresh_ = 0, in_use_ = 0;
  std::vector<uint32_t> refs_;      // holders per page (grows as fresh pages are handed out)
  std::vector<int32_t> free_list_;  // released pages, reused first (reserved to capacity: no malloc later)
};

// One sequence's keys and values: per layer, the pages that hold its tokens [0, length) in order.
class KvSequence {
 public:
  KvSequence() = default;
  // `max_tokens` caps the sequence (the context length); pages come from `pool`, which must outlive it.
  KvSequence(KvPool* pool, size_t layers, size_t max_tokens);
  // A moved-from sequence holds nothing and no pool (its destructor must not touch a pool that may be gone).
  KvSequence(KvSequence&& other) noexcept;
  KvSequence& operator=(KvSequence&& other) noexcept;
  KvSequence(const KvSequence&) = delete;
  KvSequence& operator=(const KvSequence&) = delete;
  ~KvSequence() { Clear(); }

  size_t length() const { return length_; }
  size_t max_tokens() const { return max_tokens_; }
  size_t layers() const { return pages_.size(); }
  const KvPool& pool() const { return *pool_; }

  // Makes room for `n` more tokens: every layer gets the pages they need, each writable by this sequence
  // alone (a shared partial last page is copied first). Errors, taking nothing, when the sequence would pass
  // max_tokens or the pool runs out of pages ("context full").
  Status Reserve(size_t n);
  // Counts the reserved tokens as written (after the forward that wrote them).
  void Advance(size_t n) { length_ += n; }
  // Forgets tokens past `tokens` (≤ length), releasing whole pages beyond them.
  void Truncate(size_t tokens);
  void Clear() { Truncate(0); }

  // Shares the first `tokens` tokens of `other` (same pool and layer count): whole pages are held by both;
  // a partial last page is shared too and copied by whichever sequence writes it first. This sequence must
  // be empty.
  Status ShareFrom(const KvSequence& other, size_t tokens);

  // Page `i` of layer `layer` (tokens [i·P, (i+1)·P)).
  int32_t page(size_t layer, size_t i) const { return pages_[layer][i]; }
  std::span<const int32_t> pages(size_t layer) const { return pages_[layer]; }
  // Writes token `pos`'s keys and values of layer `layer` (reserved, not necessarily advanced over):
  // k and v are [kv_heads][head_dim] f32 rows, rounded to nearest even for bf16, quantized for int8.
  void Store(size_t layer, size_t pos, const float* k, const float* v) const;
  // Element e of kv-head h's key or value of token `pos`, as stored (reads, for tests and tools).
  float Key(size_t layer, size_t pos, size_t h, size_t e) const;
  float Value(size_t layer, size_t pos, size_t h, size_t e) const;

 private:
  KvPool* pool_ = nullptr;
  size_t max_tokens_ = 0, length_ = 0;
  std::vector<std::vector<int32_t>> pages_;  // [layer][page index]
};

}  // namespace glmv
