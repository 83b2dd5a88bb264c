// Scalar twin of FlashAttention (attention.cc): the same tiles and online softmax in plain C++, one query at a
// time, dot products accumulated in double (int8: exact integer sums). The tests compare every target's kernel against it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "simd/attention.h"
#include "simd/attention_bf16.h"
#include "simd/attention_int8.h"

namespace glmv::simd::scalar {
namespace {

float RoundedToBF16(float f) { return WidenBF16Half(RoundToBF16(f), 0); }

// The twin's two steps per kind of page: a query's score against key j of a page (scale applied), and a tile's
// weighted sum of values added to a query's output. f32 and bf16 pages sum products in double.
template <typename Self>
struct DoubleSums {
  float Score(const std::vector<float>& q, float scale, size_t page, size_t j) const {
    const auto& self = static_cast<const Self&>(*this);
    double dot = 0.0;
    for (size_t e = 0; e < self.hd; ++e) dot += static_cast<double>(q[e]) * self.Key(page, j, e);
    return static_cast<float>(dot) * scale;
  }
  void AddValues(const float* s, size_t len, float corr, size_t page, size_t in_page, float* out) const {
    const auto& self = static_cast<const Self&>(*this);
    for (size_t e = 0; e < self.hd; ++e) {
      double acc = static_cast<double>(out[e]) * corr;
      for (size_t j = 0; j < len; ++j) acc += static_cast<double>(Self::Round(s[j])) * self.Value(page, in_page + j, e);
      out[e] = static_cast<float>(acc);
    }
  }
  void SetQuery(const float* q_in, std::vector<float>& q) const {
    for (size_t e = 0; e < q.size(); ++e) q[e] = Self::Round(q_in[e]);
  }
};

// f32 pages: key j's dimension e at k[e·P + j], position j's value at v[j·hd + e]; nothing is rounded.
struct F32Reader : DoubleSums<F32Reader> {
  const KvHeadPages& kv;
  size_t hd;
  F32Reader(const KvHeadPages& kv_, size_t hd_) : kv(kv_), hd(hd_) {}
  float Key(size_t page, size_t j, size_t e) const { return kv.k[page][e * kv.page_tokens + j]; }
  float Value(size_t page, size_t j, size_t e) const { return kv.v[page][j * hd + e]; }
  static float Round(float x) { return x; }
};

// bf16 pages (pair words, simd/attention.h); queries and weights rounded to bf16 as the kernel rounds them.
struct BF16Reader : DoubleSums<BF16Reader> {
  const KvHeadPagesBF16& kv;
  size_t hd;
  BF16Reader(const KvHeadPagesBF16& kv_, size_t hd_) : kv(kv_), hd(hd_) {}
  float Key(size_t page, size_t j, size_t e) const {
    return WidenBF16Half(kv.k[page][(e / 2) * kv.page_tokens + j], e % 2);
  }
  float Value(size_t page, size_t j, size_t e) const { return WidenBF16Half(kv.v[page][(j / 2) * hd + e], j % 2); }
  static float Round(float x) { return RoundedToBF16(x); }
};

// int8 pages (quad words and scales, simd/attention.h): the query quantized and each tile's weights quantized
// to bytes by the kernel's own functions; integer sums exact, the score's f32 steps the kernel's, the output's
// sum in double.
struct Int8Reader {
  const KvHeadPagesInt8& kv;
  size_t hd;
  mutable std::vector<int8_t> codes;
  mutable float q_scale = 0.0f;
  mutable int32_t q_sum = 0;
  Int8Reader(const KvHeadPagesInt8& kv_, size_t hd_) : kv(kv_), hd(hd_), codes(hd_) {}
  int32_t KeyByte(size_t page, size_t j, size_t e) const {
    return static_cast<int32_t>((kv.k[page][(e / 4) * kv.page_tokens + j] >> (8 * (e % 4))) & 0xffu);
  }
  int32_t ValueCode(size_t page, size_t j, size_t e) const {
    return static_cast<int8_t>(static_cast<uint8_t>(kv.v[page][(j / 4) * hd + e] >> (8 * (j % 4))));
  }
  const float* KeyScales(size_t page) const {
    return reinterpret_cast<const float*>(kv.k[page] + Int8KeyScalesOffset(hd, kv.page_tokens));
  }
  const float* ValueScales(size_t page) const {
    return reinterpret_cast<const float*>(kv.v[page] + Int8ValueScalesOffset(hd, kv.page_tokens));
  }
  void SetQuery(const float* q_in, std::vector<float>&) const {
    q_scale = QuantizeInt8(q_in, hd, codes.data());
    q_sum = 0;
    for (int8_t c : codes) q_sum += c;
  }
  float Score(const std::vector<float>&, float scale, size_t page, size_t j) const {
    int32_t acc = 0;
    for (size_t e = 0; e < hd; ++e) acc += KeyByte(page, j, e) * codes[e];
    return (static_cast<float>(acc - kInt8KeyBias * q_sum) * (q_scale * scale)) * KeyScales(page)[j];
  }
  void AddValues(const float* s, size_t len, float corr, size_t page, size_t in_page, float* out) const {
    const size_t lead = in_page % 4, quads = (lead + len + 3) / 4;
    uint8_t w[4 * kInt8TileQuads];
    const float w_scale = QuantizeWeightsInt8(s, len, lead, quads, ValueScales(page) + (in_page - lead), w);
    for (size_t e = 0; e < hd; ++e) {
      int64_t acc = 0;
      for (size_t j = 0; j < len; ++j) acc += int64_t{w[lead + j]} * ValueCode(page, in_page + j, e);
      out[e] = static_cast<float>(static_cast<double>(out[e]) * corr + static_cast<double>(w_scale) * acc);
    }
  }
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
    kv.SetQuery(a.q + row * a.q_stride + (i % group) * hd, q);
    float* out = a.out + row * a.out_stride + (i % group) * hd;
    m[i] = -std::numeric_limits<float>::infinity();
    l[i] = 0.0f;
    std::fill_n(out, hd, 0.0f);
    for (size_t t0 = 0; t0 < visible;) {
      const size_t page = t0 / P, in_page = t0 % P;
      const size_t len = std::min({kAttentionKvTile - t0 % kAttentionKvTile, P - in_page, visible - t0});
      float m_tile = -std::numeric_limits<float>::infinity();
      for (size_t j = 0; j < len; ++j) {
        s[j] = kv.Score(q, scale, page, in_page + j);
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
      kv.AddValues(s, len, corr, page, in_page, out);
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

void FlashAttention(const KvHeadPagesInt8& kv, size_t hd, size_t group, float scale, const AttentionQueries& a,
                    float* state) {
  Twin(Int8Reader{kv, hd}, kv.page_tokens, hd, group, scale, a, state);
}

}  // namespace glmv::simd::scalar
