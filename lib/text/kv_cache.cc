#include "lib/text/kv_cache.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "io/dtype.h"
#include "simd/attention.h"
#include "simd/attention_int8.h"

namespace glmv {

const char* KvTypeName(KvType t) {
  switch (t) {
    case KvType::kF32: return "f32";
    case KvType::kBF16: return "bf16";
    case KvType::kInt8: return "int8";
  }
  return "?";
}

Result<KvType> ParseKvType(std::string_view name) {
  if (name == "f32") return KvType::kF32;
  if (name == "bf16") return KvType::kBF16;
  if (name == "int8") return KvType::kInt8;
  return Status::Error("unknown KV type '" + std::string(name) + "': expected f32, bf16 or int8");
}

namespace {
size_t KHeadBytes(KvType t, size_t head_dim, size_t P) {
  switch (t) {
    case KvType::kF32: return head_dim * P * 4;
    case KvType::kBF16: return (head_dim + 1) / 2 * P * 4;
    case KvType::kInt8: return (simd::Int8KeyScalesOffset(head_dim, P) + P) * 4;
  }
  return 0;
}
size_t VHeadBytes(KvType t, size_t head_dim, size_t P) {
  switch (t) {
    case KvType::kF32: return P * head_dim * 4;
    case KvType::kBF16: return (P + 1) / 2 * head_dim * 4;
    case KvType::kInt8: return (simd::Int8ValueScalesOffset(head_dim, P) + P) * 4;
  }
  return 0;
}
}  // namespace

size_t KvBytesPerTokenLayer(KvType t, size_t kv_heads, size_t head_dim) {
  switch (t) {
    case KvType::kF32: return kv_heads * 2 * head_dim * 4;
    case KvType::kBF16: return kv_heads * ((head_dim + 1) / 2 * 4 + head_dim * 2);
    case KvType::kInt8: return kv_heads * ((head_dim + 3) / 4 * 4 + head_dim + 2 * 4);
  }
  return 0;
}

size_t KvPageBytes(KvType t, size_t kv_heads, size_t head_dim, size_t page_tokens) {
  return kv_heads * (KHeadBytes(t, head_dim, page_tokens) + VHeadBytes(t, head_dim, page_tokens));
}

Result<KvPool> KvPool::Create(size_t kv_heads, size_t head_dim, size_t page_tokens, size_t max_bytes, KvType type) {
  if (kv_heads == 0 || head_dim == 0 || page_tokens == 0) return Status::Error("KV pool: zero-sized pages");
  KvPool pool;
  pool.type_ = type;
  pool.kv_heads_ = kv_heads;
  pool.head_dim_ = head_dim;
  pool.page_tokens_ = page_tokens;
  pool.k_head_bytes_ = KHeadBytes(type, head_dim, page_tokens);
  pool.v_head_bytes_ = VHeadBytes(type, head_dim, page_tokens);
  pool.capacity_pages_ = std::max<size_t>(max_bytes / pool.page_bytes(), 1);
  pool.mapped_bytes_ = pool.capacity_pages_ * pool.page_bytes();
  // Address space only: MAP_NORESERVE and no MAP_POPULATE, so memory is committed page by page as the
  // sequences first write it, and a large --kv-memory costs nothing until it is used.
  void* p = mmap(nullptr, pool.mapped_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    return Status::Error("KV pool: cannot reserve " + std::to_string(pool.mapped_bytes_ >> 20) +
                         " MiB of address space (lower --kv-memory): " + std::strerror(errno));
  }
  pool.base_ = static_cast<std::byte*>(p);
  pool.refs_.reserve(pool.capacity_pages_);
  pool.free_list_.reserve(pool.capacity_pages_);
  return pool;
}

KvPool& KvPool::operator=(KvPool&& o) noexcept {
  if (this != &o) {
    if (base_) munmap(base_, mapped_bytes_);
    base_ = std::exchange(o.base_, nullptr);
    mapped_bytes_ = std::exchange(o.mapped_bytes_, 0);
    kv_heads_ = o.kv_heads_;
    head_dim_ = o.head_dim_;
    type_ = o.type_;
    page_tokens_ = o.page_tokens_;
    k_head_bytes_ = o.k_head_bytes_;
    v_head_bytes_ = o.v_head_bytes_;
    capacity_pages_ = o.capacity_pages_;
    next_fresh_ = o.next_fresh_;
    in_use_ = o.in_use_;
    refs_ = std::move(o.refs_);
    free_list_ = std::move(o.free_list_);
  }
  return *this;
}

KvPool::~KvPool() {
  if (base_) munmap(base_, mapped_bytes_);
}

int32_t KvPool::Acquire() {
  int32_t page;
  if (!free_list_.empty()) {
    page = free_list_.back();
    free_list_.pop_back();
  } else if (next_fresh_ < capacity_pages_) {
    page = static_cast<int32_t>(next_fresh_++);
    refs_.push_back(0);  // within the reserved capacity: no allocation
  } else {
    return -1;
  }
  refs_[static_cast<size_t>(page)] = 1;
  ++in_use_;
  return page;
}

void KvPool::Release(int32_t page) {
  uint32_t& r = refs_[static_cast<size_t>(page)];
  if (--r == 0) {
    free_list_.push_back(page);
    --in_use_;
  }
}

KvSequence::KvSequence(KvPool* pool, size_t layers, size_t max_tokens)
    : pool_(pool), max_tokens_(max_tokens), pages_(layers) {
  const size_t most = (max_tokens + pool->page_tokens() - 1) / pool->page_tokens();
  for (auto& list : pages_) list.reserve(most);  // Reserve never reallocates these in decode
}

KvSequence::KvSequence(KvSequence&& o) noexcept
    : pool_(std::exchange(o.pool_, nullptr)),
      max_tokens_(o.max_tokens_),
      length_(std::exchange(o.length_, 0)),
      pages_(std::move(o.pages_)) {
  o.pages_.clear();
}

KvSequence& KvSequence::operator=(KvSequence&& o) noexcept {
  if (this != &o) {
    Clear();
    pool_ = std::exchange(o.pool_, nullptr);
    max_tokens_ = o.max_tokens_;
    length_ = std::exchange(o.length_, 0);
    pages_ = std::move(o.pages_);
    o.pages_.clear();
  }
  return *this;
}

Status KvSequence::Reserve(size_t n) {
  const size_t P = pool_->page_tokens();
  const size_t need_tokens = length_ + n;
  if (need_tokens > max_tokens_) {
    return Status::Error("context full: " + std::to_string(length_) + " + " + std::to_string(n) +
                         " tokens exceed the context of " + std::to_string(max_tokens_) + " tokens");
  }
  const size_t have = pages_.empty() ? 0 : pages_[0].size();
  const size_t want = (need_tokens + P - 1) / P;
  // A shared partial last page must be copied before this sequence writes into it.
  const bool copy_last = length_ % P != 0 && n > 0 && !pages_.empty() && pool_->holders(pages_[0][length_ / P]) > 1;
  const size_t new_pages = (want - std::min(want, have) + (copy_last ? 1 : 0)) * pages_.size();
  if (new_pages > pool_->capacity_pages() - pool_->pages_in_use()) {
    return Status::Error("context full: the KV pool (" + std::to_string(pool_->capacity_pages() * pool_->page_bytes() >> 20) +
                         " MiB, --kv-memory) has no room for " + std::to_string(n) + " more tokens");
  }
  for (auto& list : pages_) {
    if (copy_last) {
      const int32_t old = list[length_ / P];
      const int32_t copy = pool_->Acquire();
      std::memcpy(pool_->K(copy), pool_->K(old), pool_->page_bytes());  // K then V: one block
      pool_->Release(old);
      list[length_ / P] = copy;
    }
    while (list.size() < want) list.push_back(pool_->Acquire());
  }
  return Status::Ok();
}

void KvSequence::Truncate(size_t tokens) {
  if (!pool_ || pages_.empty()) return;
  tokens = std::min(tokens, length_);
  const size_t P = pool_->page_tokens();
  const size_t keep = (tokens + P - 1) / P;
  for (auto& list : pages_) {
    while (list.size() > keep) {
      pool_->Release(list.back());
      list.pop_back();
    }
  }
  length_ = tokens;
}

Status KvSequence::ShareFrom(const KvSequence& other, size_t tokens) {
  if (length_ != 0 || (!pages_.empty() && !pages_[0].empty())) return Status::Error("ShareFrom needs an empty sequence");
  if (other.pool_ != pool_ || other.pages_.size() != pages_.size()) return Status::Error("ShareFrom across pools");
  if (tokens > other.length_ || tokens > max_tokens_) return Status::Error("ShareFrom past the other sequence's length");
  const size_t P = pool_->page_tokens();
  const size_t count = (tokens + P - 1) / P;
  for (size_t l = 0; l < pages_.size(); ++l) {
    for (size_t i = 0; i < count; ++i) {
      pool_->Retain(other.pages_[l][i]);
      pages_[l].push_back(other.pages_[l][i]);
    }
  }
  length_ = tokens;
  return Status::Ok();
}

namespace {
// Word (row, column) of a bf16 pair layout: `half` 0 is element 2i (the low half), 1 is element 2i + 1.
uint16_t* PairHalf(std::byte* base, size_t row, size_t columns, size_t column, size_t half) {
  return reinterpret_cast<uint16_t*>(base + (row * columns + column) * 4) + half;
}
// Token j of a page's int8 head part (KvPool's layout): quantized key bytes x + 128 (pads 128) and scale,
// value bytes and scale. Scales sit after the quads: the key's at K word ⌈hd/4⌉·P + j, the value's at V word
// ⌈P/4⌉·hd + j.
void StoreInt8(std::byte* kh, std::byte* vh, size_t P, size_t hd, size_t j, const float* k, const float* v) {
  int8_t small[256];
  std::vector<int8_t> large(hd > 256 ? hd : 0);  // no allocation at GLM's head_dim (128)
  int8_t* codes = hd > 256 ? large.data() : small;
  const float k_scale = simd::QuantizeInt8(k, hd, codes);
  std::memcpy(kh + (simd::Int8KeyScalesOffset(hd, P) + j) * 4, &k_scale, 4);
  for (size_t e = 0; e < (hd + 3) / 4 * 4; ++e) {
    const int32_t code = e < hd ? codes[e] : 0;
    kh[((e / 4) * P + j) * 4 + e % 4] = std::byte{static_cast<uint8_t>(code + simd::kInt8KeyBias)};
  }
  const float v_scale = simd::QuantizeInt8(v, hd, codes);
  std::memcpy(vh + (simd::Int8ValueScalesOffset(hd, P) + j) * 4, &v_scale, 4);
  for (size_t e = 0; e < hd; ++e) vh[((j / 4) * hd + e) * 4 + j % 4] = std::byte{static_cast<uint8_t>(codes[e])};
}

// Scale of token j of an int8 head part whose scales start at word `scales_word`.
float Int8Scale(const std::byte* head, size_t scales_word, size_t j) {
  float scale;
  std::memcpy(&scale, head + (scales_word + j) * 4, 4);
  return scale;
}
}  // namespace

void KvSequence::Store(size_t layer, size_t pos, const float* k, const float* v) const {
  const size_t P = pool_->page_tokens(), hd = pool_->head_dim(), heads = pool_->kv_heads();
  const int32_t page = pages_[layer][pos / P];
  const size_t j = pos % P;
  for (size_t h = 0; h < heads; ++h) {
    std::byte* kh = pool_->K(page) + h * pool_->k_head_bytes();
    std::byte* vh = pool_->V(page) + h * pool_->v_head_bytes();
    if (pool_->type() == KvType::kF32) {
      float* kt = reinterpret_cast<float*>(kh) + j;  // column j of the [head_dim][P] block
      for (size_t e = 0; e < hd; ++e) kt[e * P] = k[h * hd + e];
      std::copy_n(v + h * hd, hd, reinterpret_cast<float*>(vh) + j * hd);
    } else if (pool_->type() == KvType::kInt8) {
      StoreInt8(kh, vh, P, hd, j, k + h * hd, v + h * hd);
    } else {
      for (size_t e = 0; e < hd; ++e) *PairHalf(kh, e / 2, P, j, e % 2) = F32ToBF16(k[h * hd + e]);
      if (hd % 2) *PairHalf(kh, hd / 2, P, j, 1) = 0;  // the pad of an odd head_dim: a zero term
      for (size_t e = 0; e < hd; ++e) *PairHalf(vh, j / 2, hd, e, j % 2) = F32ToBF16(v[h * hd + e]);
    }
  }
}

float KvSequence::Key(size_t layer, size_t pos, size_t h, size_t e) const {
  const size_t P = pool_->page_tokens();
  std::byte* kh = pool_->K(pages_[layer][pos / P]) + h * pool_->k_head_bytes();
  if (pool_->type() == KvType::kF32) return reinterpret_cast<const float*>(kh)[e * P + pos % P];
  if (pool_->type() == KvType::kInt8) {
    const size_t j = pos % P;
    const int32_t byte = std::to_integer<int32_t>(kh[((e / 4) * P + j) * 4 + e % 4]);
    return static_cast<float>(byte - simd::kInt8KeyBias) * Int8Scale(kh, simd::Int8KeyScalesOffset(pool_->head_dim(), P), j);
  }
  return BF16ToF32(*PairHalf(kh, e / 2, P, pos % P, e % 2));
}

float KvSequence::Value(size_t layer, size_t pos, size_t h, size_t e) const {
  const size_t P = pool_->page_tokens(), hd = pool_->head_dim();
  std::byte* vh = pool_->V(pages_[layer][pos / P]) + h * pool_->v_head_bytes();
  if (pool_->type() == KvType::kF32) return reinterpret_cast<const float*>(vh)[(pos % P) * hd + e];
  if (pool_->type() == KvType::kInt8) {
    const size_t j = pos % P;
    const auto code = static_cast<int8_t>(std::to_integer<uint8_t>(vh[((j / 4) * hd + e) * 4 + j % 4]));
    return static_cast<float>(code) * Int8Scale(vh, simd::Int8ValueScalesOffset(hd, P), j);
  }
  return BF16ToF32(*PairHalf(vh, (pos % P) / 2, hd, e, (pos % P) % 2));
}


}  // namespace glmv
