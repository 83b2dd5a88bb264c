#include "lib/text/attention.h"

#include <algorithm>
#include <cmath>

#include "lib/base/parallel.h"
#include "simd/attention.h"

namespace glmv {
namespace {

// Query rows per work item in prefill. Each item streams its sequence's keys and values up to its last row
// once, so larger tiles read less memory; 16 rows × 12 heads (GLM-4.5V's group) is 192 queries per K/V tile,
// while a 512-row chunk still makes 32 × kv_heads items for the threads to share. Decode rows are tiles of one.
constexpr size_t kQueryTileRows = 16;

size_t Tiles(size_t n) { return (n + kQueryTileRows - 1) / kQueryTileRows; }

// The pass over items for pages of element word `W` (float, or uint32_t bf16 pairs and int8 quads), whose
// kernel takes `Pages` (simd::KvHeadPages, simd::KvHeadPagesBF16 or simd::KvHeadPagesInt8).
template <typename W, typename Pages>
void RunAttention(const TextConfig& c, const float* q, std::span<const AttentionRows> groups, size_t layer,
                  float* out, std::vector<const W*>& page_ptrs, std::vector<float>& state_buf) {
  const size_t heads = static_cast<size_t>(c.num_attention_heads);
  const size_t kv_heads = static_cast<size_t>(c.num_key_value_heads);
  const size_t group = heads / kv_heads;
  const size_t hd = static_cast<size_t>(c.head_dim);
  const size_t q_width = heads * hd;
  // Page pointers of every (group, kv-head), K then V, sized to the sequences' whole context so decode does
  // not grow them token by token.
  size_t pointers = 0, items = 0;
  for (const auto& g : groups) {
    const size_t P = g.kv->pool().page_tokens();
    const size_t cap = std::max(g.start + g.n, g.kv->max_tokens());
    pointers += 2 * kv_heads * ((cap + P - 1) / P);
    items += kv_heads * Tiles(g.n);
  }
  if (page_ptrs.size() < pointers) page_ptrs.resize(pointers);
  const W** ptr = page_ptrs.data();
  for (const auto& g : groups) {
    const KvPool& pool = g.kv->pool();
    const auto pages = g.kv->pages(layer);
    const size_t used = (g.start + g.n + pool.page_tokens() - 1) / pool.page_tokens();
    for (size_t h = 0; h < kv_heads; ++h) {  // kv-head h's part of a page starts at h times its bytes
      for (size_t p = 0; p < used; ++p) ptr[p] = reinterpret_cast<const W*>(pool.K(pages[p]) + h * pool.k_head_bytes());
      for (size_t p = 0; p < used; ++p) {
        ptr[used + p] = reinterpret_cast<const W*>(pool.V(pages[p]) + h * pool.v_head_bytes());
      }
      ptr += 2 * used;
    }
  }
  const size_t state_floats = simd::FlashAttentionStateFloats(group, kQueryTileRows, hd);
  const size_t threads = static_cast<size_t>(NumThreads());
  const size_t thread_floats = kv_heads * state_floats;  // a state per kv-head of a head run (below)
  if (state_buf.size() < threads * thread_floats) state_buf.resize(threads * thread_floats);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // Items are (group, kv-head, query tile) in that order: a contiguous range of them spreads each sequence's
  // short early tiles and long late tiles over the kv-heads, so the threads' ranges cost about the same.
  ParallelFor(items, 1, [&](size_t begin, size_t end, size_t thread) {
    float* state = state_buf.data() + thread * thread_floats;
    size_t gi = 0, first_item = 0;
    const W* const* group_ptrs = page_ptrs.data();
    for (size_t item = begin; item < end;) {
      // Walk to the group of `item` (items and groups both ascend), skipping the page pointers of groups before.
      for (;;) {
        const AttentionRows& g = groups[gi];
        const size_t group_items = kv_heads * Tiles(g.n);
        if (item < first_item + group_items) break;
        const size_t P = g.kv->pool().page_tokens();
        group_ptrs += 2 * kv_heads * ((g.start + g.n + P - 1) / P);
        first_item += group_items;
        ++gi;
      }
      const AttentionRows& g = groups[gi];
      const size_t P = g.kv->pool().page_tokens();
      const size_t used = (g.start + g.n + P - 1) / P;
      const size_t local = item - first_item, tiles = Tiles(g.n);
      auto head = [&](size_t h, size_t r0) {
        const W* const* hp = group_ptrs + h * 2 * used;
        const size_t row = g.row_begin + r0;
        return std::pair{Pages{{hp, used}, {hp + used, used}, P},
                         simd::AttentionQueries{q + row * q_width + h * group * hd, q_width,
                                                out + row * q_width + h * group * hd, q_width, g.start + r0,
                                                std::min(kQueryTileRows, g.n - r0)}};
      };
      if (tiles > 1) {  // prefill: one kv-head's query tile, its keys and values read once for 16 rows × group
        const auto [kv, a] = head(local / tiles, (local % tiles) * kQueryTileRows);
        simd::FlashAttention(kv, hd, group, scale, a, state);
        ++item;
        continue;
      }
      // Decode (one tile per kv-head): this thread's consecutive kv-heads of the sequence, page by page. A
      // head's part of a page is a short run, and the heads' parts lie side by side: walking the heads within
      // each page reads the keys and values in long runs, which the hardware prefetcher follows. Same bits as
      // one call per head (simd/attention.h).
      const size_t h0 = local, h1 = std::min(kv_heads, h0 + (end - item));
      for (size_t h = h0; h < h1; ++h) {
        const auto [kv, a] = head(h, 0);
        simd::FlashAttentionBegin(hd, group, a, state + (h - h0) * state_floats);
      }
      const size_t visible = g.start + g.n;
      for (size_t t = 0; t < visible; t += P) {
        for (size_t h = h0; h < h1; ++h) {
          const auto [kv, a] = head(h, 0);
          simd::FlashAttentionSpan(kv, hd, group, scale, a, t, t + P, state + (h - h0) * state_floats);
        }
      }
      for (size_t h = h0; h < h1; ++h) {
        const auto [kv, a] = head(h, 0);
        simd::FlashAttentionEnd(hd, group, a, state + (h - h0) * state_floats);
      }
      item += h1 - h0;
    }
  });
}

}  // namespace

void CausalAttention(const TextConfig& c, const float* q, std::span<const AttentionRows> groups, size_t layer,
                     float* out, AttentionScratch& scratch) {
  if (groups.empty()) return;
  // One pool per engine: every group's pages have its element type.
  switch (groups[0].kv->pool().type()) {
    case KvType::kF32:
      return RunAttention<float, simd::KvHeadPages>(c, q, groups, layer, out, scratch.pages, scratch.state);
    case KvType::kBF16:
      return RunAttention<uint32_t, simd::KvHeadPagesBF16>(c, q, groups, layer, out, scratch.pages_words, scratch.state);
    case KvType::kInt8:
      return RunAttention<uint32_t, simd::KvHeadPagesInt8>(c, q, groups, layer, out, scratch.pages_words, scratch.state);
  }
}

}  // namespace glmv
