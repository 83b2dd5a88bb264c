// The text decoder's keys and values, in pages. A page holds P tokens of one layer: K as
// [kv_heads][head_dim][P] (each head's keys transposed, so attention loads several keys' terms at once and
// sums scores without horizontal adds) and V as [kv_heads][P][head_dim]; each head's part is one contiguous
// run per page. Pages come from
// one pool per engine: its address space is reserved once (capped by --kv-memory) and touched only as pages
// are first used, pages are recycled through a free list, and the decode loop never calls malloc. A page may
// be held by several sequences (a shared prompt prefix, Fork): it is reference-counted and written only by
// a sequence that holds it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "io/status.h"

namespace glmv {

// Element type of the cache. f32 today; the speed issue adds bf16 and int8 with scales.
template <typename T>
class KvPoolT {
 public:
  // Reserves room for at most `max_bytes` of pages (rounded down to whole pages, at least one) of
  // `page_tokens` tokens, `kv_heads` × `head_dim` each. Nothing is touched until a page is first written.
  static Result<KvPoolT> Create(size_t kv_heads, size_t head_dim, size_t page_tokens, size_t max_bytes);
  KvPoolT() = default;
  KvPoolT(KvPoolT&& other) noexcept { *this = std::move(other); }
  KvPoolT& operator=(KvPoolT&& other) noexcept;
  KvPoolT(const KvPoolT&) = delete;
  KvPoolT& operator=(const KvPoolT&) = delete;
  ~KvPoolT();

  size_t page_tokens() const { return page_tokens_; }
  size_t kv_heads() const { return kv_heads_; }
  size_t head_dim() const { return head_dim_; }
  size_t page_bytes() const { return page_elems_ * 2 * sizeof(T); }
  size_t capacity_pages() const { return capacity_pages_; }
  size_t pages_in_use() const { return in_use_; }
  size_t bytes_in_use() const { return in_use_ * page_bytes(); }

  // A free page with one holder, or -1 when the pool is full.
  int32_t Acquire();
  void Retain(int32_t page) { ++refs_[static_cast<size_t>(page)]; }
  void Release(int32_t page);
  uint32_t holders(int32_t page) const { return refs_[static_cast<size_t>(page)]; }

  // K of `page`: [kv_heads][head_dim][P]; V: [kv_heads][P][head_dim].
  T* K(int32_t page) const { return base_ + static_cast<size_t>(page) * 2 * page_elems_; }
  T* V(int32_t page) const { return K(page) + page_elems_; }

 private:
  T* base_ = nullptr;
  size_t mapped_bytes_ = 0;
  size_t kv_heads_ = 0, head_dim_ = 0, page_tokens_ = 0, page_elems_ = 0;
  size_t capacity_pages_ = 0, next_fresh_ = 0, in_use_ = 0;
  std::vector<uint32_t> refs_;      // holders per page (grows as fresh pages are handed out)
  std::vector<int32_t> free_list_;  // released pages, reused first (reserved to capacity: no malloc later)
};
using KvPool = KvPoolT<float>;

// One sequence's keys and values: per layer, the pages that hold its tokens [0, length) in order.
template <typename T>
class KvSequenceT {
 public:
  KvSequenceT() = default;
  // `max_tokens` caps the sequence (the context length); pages come from `pool`, which must outlive it.
  KvSequenceT(KvPoolT<T>* pool, size_t layers, size_t max_tokens);
  // A moved-from sequence holds nothing and no pool (its destructor must not touch a pool that may be gone).
  KvSequenceT(KvSequenceT&& other) noexcept;
  KvSequenceT& operator=(KvSequenceT&& other) noexcept;
  KvSequenceT(const KvSequenceT&) = delete;
  KvSequenceT& operator=(const KvSequenceT&) = delete;
  ~KvSequenceT() { Clear(); }

  size_t length() const { return length_; }
  size_t max_tokens() const { return max_tokens_; }
  size_t layers() const { return pages_.size(); }
  const KvPoolT<T>& pool() const { return *pool_; }

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
  Status ShareFrom(const KvSequenceT& other, size_t tokens);

  // Page `i` of layer `layer` (tokens [i·P, (i+1)·P)).
  int32_t page(size_t layer, size_t i) const { return pages_[layer][i]; }
  std::span<const int32_t> pages(size_t layer) const { return pages_[layer]; }
  // Writes token `pos`'s keys and values of layer `layer` (reserved, not necessarily advanced over):
  // k and v are [kv_heads][head_dim] rows.
  void Store(size_t layer, size_t pos, const T* k, const T* v) const;
  // Element e of kv-head h's key or value of token `pos` (reads, for tests and tools).
  T Key(size_t layer, size_t pos, size_t h, size_t e) const;
  T Value(size_t layer, size_t pos, size_t h, size_t e) const;

 private:
  KvPoolT<T>* pool_ = nullptr;
  size_t max_tokens_ = 0, length_ = 0;
  std::vector<std::vector<int32_t>> pages_;  // [layer][page index]
};
using KvSequence = KvSequenceT<float>;

extern template class KvPoolT<float>;
extern template class KvSequenceT<float>;

}  // namespace glmv
