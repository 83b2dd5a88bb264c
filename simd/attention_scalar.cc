// Scalar twin of FlashAttention (attention.cc): the same tiles and online softmax in plain C++, one query at a
// time, dot products accumulated in double. The tests compare every target's kernel against it.
#include <algorithm>
#include <cmath>
#include <limits>

#include "simd/attention.h"

namespace glmv::simd::scalar {

void FlashAttention(const KvHeadPages& kv, size_t hd, size_t group, float scale, const AttentionQueries& a,
                    float* state) {
  const size_t nq = a.rows * group, P = kv.page_tokens;
  float* m = state;
  float* l = state + nq;
  float s[kAttentionKvTile];
  for (size_t i = 0; i < nq; ++i) {
    const size_t row = i / group, visible = a.start + row + 1;
    const float* q = a.q + row * a.q_stride + (i % group) * hd;
    float* out = a.out + row * a.out_stride + (i % group) * hd;
    m[i] = -std::numeric_limits<float>::infinity();
    l[i] = 0.0f;
    std::fill_n(out, hd, 0.0f);
    for (size_t t0 = 0; t0 < visible;) {
      const size_t in_page = t0 % P;
      const size_t len = std::min({kAttentionKvTile - t0 % kAttentionKvTile, P - in_page, visible - t0});
      const float* kt = kv.k[t0 / P] + in_page;  // key j's dimension e at kt[e·P + j]
      const float* v = kv.v[t0 / P] + in_page * hd;
      float m_tile = -std::numeric_limits<float>::infinity();
      for (size_t j = 0; j < len; ++j) {
        double dot = 0.0;
        for (size_t e = 0; e < hd; ++e) dot += static_cast<double>(q[e]) * kt[e * P + j];
        s[j] = static_cast<float>(dot) * scale;
        m_tile = std::max(m_tile, s[j]);
      }
      const float m_new = std::max(m[i], m_tile);
      const float corr = std::exp(m[i] - m_new);
      double sum = 0.0;
      for (size_t j = 0; j < len; ++j) {
        s[j] = std::exp(s[j] - m_new);
        sum += s[j];
      }
      l[i] = l[i] * corr + static_cast<float>(sum);
      m[i] = m_new;
      for (size_t e = 0; e < hd; ++e) {
        float acc = out[e] * corr;
        for (size_t j = 0; j < len; ++j) acc += s[j] * v[j * hd + e];
        out[e] = acc;
      }
      t0 += len;
    }
    const float inv = 1.0f / l[i];
    for (size_t e = 0; e < hd; ++e) out[e] *= inv;
  }
}

}  // namespace glmv::simd::scalar
