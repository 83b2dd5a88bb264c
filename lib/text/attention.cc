#include "lib/text/attention.h"

#include <algorithm>
#include <cmath>

#include "lib/base/parallel.h"
#include "simd/kernels.h"

namespace glmv {

void CausalAttention(const TextConfig& c, const float* q, std::span<const AttentionRows> groups, size_t layer,
                     float* out, std::vector<float>& scratch) {
  const size_t heads = static_cast<size_t>(c.num_attention_heads);
  const size_t group = heads / static_cast<size_t>(c.num_key_value_heads);
  const size_t hd = static_cast<size_t>(c.head_dim);
  const size_t q_width = heads * hd;
  // Score rows sized to the sequences' whole context at once, so decode does not grow them token by token.
  size_t rows = 0, ctx = 0;
  for (const auto& g : groups) {
    rows += g.n;
    ctx = std::max({ctx, g.start + g.n, g.kv->max_tokens()});
  }
  const size_t threads = static_cast<size_t>(NumThreads());
  if (scratch.size() < threads * ctx) scratch.resize(threads * ctx);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  ParallelFor(rows * heads, 1, [&](size_t begin, size_t end, size_t thread) {
    float* scores = scratch.data() + thread * ctx;
    size_t gi = 0, group_end = groups.empty() ? 0 : groups[0].n;  // items are row-major: find each row's group
    for (size_t item = begin; item < end; ++item) {
      const size_t row = item / heads, h = item % heads;
      while (row >= group_end) group_end += groups[++gi].n;
      const AttentionRows& g = groups[gi];
      const KvSequence& kv = *g.kv;
      const size_t P = kv.pool().page_tokens();
      const size_t head_offset = (h / group) * P * hd;  // kv-head h/group inside each page
      const size_t i = row - (group_end - g.n);
      const float* qh = q + (g.row_begin + i) * q_width + h * hd;
      const size_t visible = g.start + i + 1;
      const auto pages = kv.pages(layer);
      // Page by page: positions [p·P, p·P + P) are one contiguous run of this kv-head's keys (and values).
      for (size_t first = 0, p = 0; first < visible; first += P, ++p) {
        const float* k = kv.pool().K(pages[p]) + head_offset;
        const size_t count = std::min(P, visible - first);
        for (size_t o = 0; o < count; ++o) scores[first + o] = simd::Dot(qh, k + o * hd, hd) * scale;
      }
      simd::SoftmaxInPlace(scores, visible);
      float* oh = out + (g.row_begin + i) * q_width + h * hd;
      std::fill(oh, oh + hd, 0.0f);
      for (size_t first = 0, p = 0; first < visible; first += P, ++p) {
        const float* v = kv.pool().V(pages[p]) + head_offset;
        const size_t count = std::min(P, visible - first);
        for (size_t o = 0; o < count; ++o) simd::Axpy(scores[first + o], v + o * hd, oh, hd);
      }
    }
  });
}

}  // namespace glmv
