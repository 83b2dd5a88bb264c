#include "lib/text/attention.h"

#include <algorithm>
#include <cmath>

#include "lib/base/parallel.h"
#include "simd/kernels.h"

namespace glmv {

void CausalAttention(const TextConfig& c, const float* q, size_t n, size_t start, const float* k_cache,
                     const float* v_cache, float* out, std::vector<float>& scratch) {
  const size_t heads = static_cast<size_t>(c.num_attention_heads);
  const size_t group = heads / static_cast<size_t>(c.num_key_value_heads);
  const size_t hd = static_cast<size_t>(c.head_dim);
  const size_t q_width = heads * hd, kv_width = static_cast<size_t>(c.kv_width());
  const size_t ctx = start + n;
  const size_t threads = static_cast<size_t>(NumThreads());
  if (scratch.size() < threads * ctx) scratch.resize(threads * ctx);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  ParallelFor(n * heads, 1, [&](size_t begin, size_t end, size_t thread) {
    float* scores = scratch.data() + thread * ctx;
    for (size_t item = begin; item < end; ++item) {
      const size_t i = item / heads, h = item % heads;
      const size_t kvh = h / group;
      const float* qh = q + i * q_width + h * hd;
      const size_t visible = start + i + 1;
      for (size_t j = 0; j < visible; ++j) scores[j] = simd::Dot(qh, k_cache + j * kv_width + kvh * hd, hd) * scale;
      simd::SoftmaxInPlace(scores, visible);
      float* oh = out + i * q_width + h * hd;
      std::fill(oh, oh + hd, 0.0f);
      for (size_t j = 0; j < visible; ++j) simd::Axpy(scores[j], v_cache + j * kv_width + kvh * hd, oh, hd);
    }
  });
}

}  // namespace glmv
