// Scalar twin of FlashAttention (attention.cc): the same tiles and online softmax in plain C++, one query at a
// time, dot products accumulated in double. The tests compare every target's kernel against it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "simd/attention.h"
#include "simd/attention_bf16.h"

namespace glmv::simd::scalar {
namespace {

float RoundedToBF16(float f) { return WidenBF16Half(RoundToBF16(f), 0); }

// f32 pages: key j's dimension e at k[e·P + j], position j's value at v[j·hd + e]; nothing is rounded.
struct F32Reader {
  const KvHeadPages& kv;
  size_t hd;
  float Key(size_t page, size_t j, size_t e) const { return kv.k[page][e * kv.page_tokens + j]; }
  float Value(size_t page, size_t j, size_t e) const { return kv.v[page][j * hd + e]; }
  static float Round(float x) { return x; }
};

// bf16 pages (pair words, simd/attention.h); queries and weights rounded to bf16 as the kernel rounds them.
struct BF16Reader {
  const KvHeadPagesBF16& kv;
  size_t hd;
  float Key(size_t page, size_t j, size_t e) const {
    return WidenBF16Half(kv.k[page][(e / 2) * kv.page_tokens + j], e % 2);
  }
  float Value(size_t page, size_t j, size_t e) const { return WidenBF16Half(kv.v[page][(j / 2) * hd + e], j % 2); }
  static float Round(float x) { return RoundedToBF16(x); }
};

template <typename Reader>
void Twin(const Reader& kv, size_t P, size_t hd, size_t group, float scale, const AttentionQueries& a, float* state) {
  const size_t nq = a.rows * group;
  float* m = state;
  float* l = state + nq;
  float s[kAttentionKvTile];
  std::vector<float> q(hd);
  for (size_t i = 0; i < nq; ++i) {
    const size_t row = i / group, visible = a.start + row + 1;
    const float* q_in = a.q + row * a.q_stride + (i % group) * hd;
    for (size_t e = 0; e < hd; ++e) q[e] = Reader::Round(q_in[e]);
    float* out = a.out + row * a.out_stride + (i % group) * hd;
    m[i] = -std::numeric_limits<float>::infinity();
    l[i] = 0.0f;
    std::fill_n(out, hd, 0.0f);
    for (size_t t0 = 0; t0 < visible;) {
      const size_t page = t0 / P, in_page = t0 % P;
      const size_t len = std::min({kAttentionKvTile - t0 % kAttentionKvTile, P - in_page, visible - t0});
      float m_tile = -std::numeric_limits<float>::infinity();
      for (size_t j = 0; j < len; ++j) {
        double dot = 0.0;
        for (size_t e = 0; e < hd; ++e) dot += static_cast<double>(q[e]) * kv.Key(page, in_page + j, e);
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
        double acc = static_cast<double>(out[e]) * corr;
        for (size_t j = 0; j < len; ++j) acc += static_cast<double>(Reader::Round(s[j])) * kv.Value(page, in_page + j, e);
        out[e] = static_cast<float>(acc);
      }
      t0 += len;
    }
    const float inv = 1.0f / l[i];
    for (size_t e = 0; e < hd; ++e) out[e] *= inv;
  }
}

}  // namespace

void FlashAttention(const KvHeadPages& kv, size_t hd, size_t group, float scale, const AttentionQueries& a,
                    float* state) {
  Twin(F32Reader{kv, hd}, kv.page_tokens, hd, group, scale, a, state);
}

void FlashAttention(const KvHeadPagesBF16& kv, size_t hd, size_t group, float scale, const AttentionQueries& a,
                    float* state) {
  Twin(BF16Reader{kv, hd}, kv.page_tokens, hd, group, scale, a, state);
}

}  // namespace glmv::simd::scalar
