// The vision tower's fused bf16 attention (vision_attention_bf16.h): AVX512-BF16 micro-tiles of six queries ×
// 64 keys, and their scalar twin.
#include "simd/vision_attention_bf16.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "simd/bf16_native.h"

namespace glmv::simd {
namespace {

constexpr float kLog2E = 1.4426950408889634f;
constexpr size_t kTilePairs = kVisionKeyTile / 2;
constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

// The scalar twin of one micro-tile against one key tile: scores, the online softmax step (max and sum in f32,
// exp2 in log2 units), the weights rounded to bf16, and the running outputs rescaled and accumulated.
void TileEmulated(const uint32_t* q, size_t pairs, const uint32_t* kp, const uint32_t* vp, size_t width,
                  size_t valid, float log2_scale, float* max, float* sum, float* out) {
  float s[kVisionKeyTile];
  uint32_t w[kTilePairs];
  for (size_t b = 0; b < kVisionMicroRows; ++b) {
    float tile_max = kMinusInf;
    for (size_t j = 0; j < valid; ++j) {
      float acc = 0.0f;
      for (size_t r = 0; r < pairs; ++r) acc = DotBF16Lane(acc, q[b * pairs + r], kp[r * kVisionKeyTile + j]);
      s[j] = acc;
      tile_max = std::max(tile_max, acc);
    }
    const float m_new = std::max(max[b], tile_max * log2_scale);
    const float alpha = std::exp2(std::max(max[b] - m_new, -126.0f));
    max[b] = m_new;
    float p[kVisionKeyTile] = {};
    float tile_sum = 0.0f;
    for (size_t j = 0; j < valid; ++j) tile_sum += (p[j] = std::exp2(std::max(s[j] * log2_scale - m_new, -126.0f)));
    sum[b] = sum[b] * alpha + tile_sum;
    for (size_t i = 0; i < kTilePairs; ++i) w[i] = RoundWeightToBF16(p[2 * i]) | (RoundWeightToBF16(p[2 * i + 1]) << 16);
    float* o = out + b * width;
    for (size_t e = 0; e < width; ++e) {
      float acc = o[e] * alpha;
      for (size_t i = 0; i < kTilePairs; ++i) acc = DotBF16Lane(acc, w[i], vp[i * width + e]);
      o[e] = acc;
    }
  }
}

#ifdef GLMV_HAVE_BF16_INTRINSICS
using bf16_native::Dot;
using bf16_native::FirstLanes;

// 2^x for x ≤ 0 (clamped at −126, where the weight no longer matters beside the tile's largest, 1): a
// degree-6 polynomial on the fraction in [−½, ½] (relative error about 1.2e−7), scaled by 2^round(x).
GLMV_BF16_TARGET inline __m512 Exp2(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  __m512 p = _mm512_set1_ps(1.5403530393381606e-4f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.2402265069591007f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.6931471805599453f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

GLMV_BF16_TARGET inline __m512i Broadcast(const uint32_t* word) {
  return _mm512_set1_epi32(static_cast<int>(*word));
}

// s[b][·] = q_b · k for the micro-tile's six queries against the tile's 64 keys. Twenty-four named
// accumulators: GCC 12 keeps these in registers (an array of them it may store on every step).
GLMV_BF16_TARGET void ScoresNative(const uint32_t* q, size_t pairs, const uint32_t* kp,
                                   float s[kVisionMicroRows][kVisionKeyTile]) {
#define GLMV_ZERO4(b) __m512 c##b##0 = _mm512_setzero_ps(), c##b##1 = c##b##0, c##b##2 = c##b##0, c##b##3 = c##b##0;
  GLMV_ZERO4(0) GLMV_ZERO4(1) GLMV_ZERO4(2) GLMV_ZERO4(3) GLMV_ZERO4(4) GLMV_ZERO4(5)
#undef GLMV_ZERO4
  for (size_t r = 0; r < pairs; ++r) {
    const uint32_t* kr = kp + r * kVisionKeyTile;
    const __m512i k0 = _mm512_loadu_si512(kr), k1 = _mm512_loadu_si512(kr + 16), k2 = _mm512_loadu_si512(kr + 32),
                  k3 = _mm512_loadu_si512(kr + 48);
#define GLMV_ROW(b)                                                                               \
  {                                                                                               \
    const __m512i qb = Broadcast(q + (b) * pairs + r);                                            \
    c##b##0 = Dot(c##b##0, qb, k0), c##b##1 = Dot(c##b##1, qb, k1), c##b##2 = Dot(c##b##2, qb, k2), \
    c##b##3 = Dot(c##b##3, qb, k3);                                                               \
  }
    GLMV_ROW(0) GLMV_ROW(1) GLMV_ROW(2) GLMV_ROW(3) GLMV_ROW(4) GLMV_ROW(5)
#undef GLMV_ROW
  }
#define GLMV_STORE4(b)                                                                      \
  _mm512_store_ps(s[b], c##b##0), _mm512_store_ps(s[b] + 16, c##b##1),                      \
      _mm512_store_ps(s[b] + 32, c##b##2), _mm512_store_ps(s[b] + 48, c##b##3);
  GLMV_STORE4(0) GLMV_STORE4(1) GLMV_STORE4(2) GLMV_STORE4(3) GLMV_STORE4(4) GLMV_STORE4(5)
#undef GLMV_STORE4
}

// out[b][0 .. 16·V) ← out[b]·alpha[b] + Σ_i dot(w[b][i], vp[i][0 .. 16·V)) over the tile's 32 key pairs.
template <size_t V>
GLMV_BF16_TARGET void AccumulateNative(const uint32_t w[kVisionMicroRows][kTilePairs], const uint32_t* vp,
                                       size_t width, const float alpha[kVisionMicroRows], float* out) {
  __m512 a0[V], a1[V], a2[V], a3[V], a4[V], a5[V];
  __m512* const acc[kVisionMicroRows] = {a0, a1, a2, a3, a4, a5};
  for (size_t b = 0; b < kVisionMicroRows; ++b) {
    const __m512 scale = _mm512_set1_ps(alpha[b]);
    for (size_t v = 0; v < V; ++v) acc[b][v] = _mm512_mul_ps(_mm512_loadu_ps(out + b * width + 16 * v), scale);
  }
  for (size_t i = 0; i < kTilePairs; ++i) {
    __m512i x[V];
    for (size_t v = 0; v < V; ++v) x[v] = _mm512_loadu_si512(vp + i * width + 16 * v);
    for (size_t b = 0; b < kVisionMicroRows; ++b) {
      const __m512i wb = Broadcast(&w[b][i]);
      for (size_t v = 0; v < V; ++v) acc[b][v] = Dot(acc[b][v], wb, x[v]);
    }
  }
  for (size_t b = 0; b < kVisionMicroRows; ++b) {
    for (size_t v = 0; v < V; ++v) _mm512_storeu_ps(out + b * width + 16 * v, acc[b][v]);
  }
}

GLMV_BF16_TARGET void TileNative(const uint32_t* q, size_t pairs, const uint32_t* kp, const uint32_t* vp, size_t width,
                                 size_t valid, float log2_scale, float* max, float* sum, float* out) {
  alignas(64) float s[kVisionMicroRows][kVisionKeyTile];
  alignas(64) uint32_t w[kVisionMicroRows][kTilePairs];
  alignas(64) float alpha[16] = {}, m_new[16] = {};
  ScoresNative(q, pairs, kp, s);
  __mmask16 live[4];
  for (size_t v = 0; v < 4; ++v) live[v] = FirstLanes(valid > 16 * v ? valid - 16 * v : 0);
  const __m512 minus_inf = _mm512_set1_ps(kMinusInf), c = _mm512_set1_ps(log2_scale);
  for (size_t b = 0; b < kVisionMicroRows; ++b) {
    __m512 x = _mm512_mask_load_ps(minus_inf, live[0], s[b]);
    for (size_t v = 1; v < 4; ++v) x = _mm512_max_ps(x, _mm512_mask_load_ps(minus_inf, live[v], s[b] + 16 * v));
    m_new[b] = std::max(max[b], _mm512_reduce_max_ps(x) * log2_scale);
  }
  // The rescale factors of all six rows in one vector.
  const __mmask16 rows = FirstLanes(kVisionMicroRows);
  const __m512 m_old = _mm512_mask_loadu_ps(_mm512_setzero_ps(), rows, max), m_next = _mm512_load_ps(m_new);
  _mm512_store_ps(alpha, Exp2(_mm512_sub_ps(m_old, m_next)));
  _mm512_mask_storeu_ps(max, rows, m_next);
  for (size_t b = 0; b < kVisionMicroRows; ++b) {
    const __m512 m = _mm512_set1_ps(m_new[b]);
    __m512 p[4];
    for (size_t v = 0; v < 4; ++v) {
      p[v] = _mm512_maskz_mov_ps(live[v], Exp2(_mm512_fmsub_ps(_mm512_load_ps(s[b] + 16 * v), c, m)));
    }
    sum[b] = sum[b] * alpha[b] + _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(p[0], p[1]), _mm512_add_ps(p[2], p[3])));
    _mm512_store_si512(w[b], reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(p[1], p[0])));
    _mm512_store_si512(w[b] + 16, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(p[3], p[2])));
  }
  size_t e = 0;
  for (; e + 64 <= width; e += 64) AccumulateNative<4>(w, vp + e, width, alpha, out + e);
  switch ((width - e) / 16) {
    case 3: AccumulateNative<3>(w, vp + e, width, alpha, out + e); break;
    case 2: AccumulateNative<2>(w, vp + e, width, alpha, out + e); break;
    case 1: AccumulateNative<1>(w, vp + e, width, alpha, out + e); break;
    default: break;
  }
}
#endif

}  // namespace

void PackVisionKeys(const uint16_t* k, size_t stride, size_t n, size_t hd, size_t tile_begin, size_t tile_end,
                    uint32_t* kp) {
  const size_t pairs = VisionPairs(hd), words = VisionKeyTileWords(hd);
  for (size_t t = tile_begin; t < tile_end; ++t) {
    uint32_t* tile = kp + t * words;
    for (size_t j = 0; j < kVisionKeyTile; ++j) {
      const size_t key = t * kVisionKeyTile + j;
      const uint16_t* row = key < n ? k + key * stride : nullptr;
      for (size_t r = 0; r < pairs; ++r) {
        const uint32_t lo = row ? row[2 * r] : 0, hi = row && 2 * r + 1 < hd ? row[2 * r + 1] : 0;
        tile[r * kVisionKeyTile + j] = lo | (hi << 16);
      }
    }
  }
}

void PackVisionValues(const uint16_t* v, size_t stride, size_t n, size_t hd, size_t tile_begin, size_t tile_end,
                      uint32_t* vp) {
  const size_t width = VisionValueWidth(hd), words = VisionValueTileWords(hd);
  for (size_t t = tile_begin; t < tile_end; ++t) {
    uint32_t* tile = vp + t * words;
    for (size_t i = 0; i < kTilePairs; ++i) {
      const size_t key = t * kVisionKeyTile + 2 * i;
      const uint16_t* even = key < n ? v + key * stride : nullptr;
      const uint16_t* odd = key + 1 < n ? v + (key + 1) * stride : nullptr;
      for (size_t e = 0; e < width; ++e) {
        const uint32_t lo = even && e < hd ? even[e] : 0, hi = odd && e < hd ? odd[e] : 0;
        tile[i * width + e] = lo | (hi << 16);
      }
    }
  }
}

void VisionAttentionBlock(BF16Dot how, const uint16_t* q, size_t q_stride, size_t rows, const uint32_t* kp,
                          const uint32_t* vp, size_t n, size_t hd, float scale, float* out, size_t out_stride,
                          VisionBlockScratch& scratch) {
  const size_t pairs = VisionPairs(hd), width = VisionValueWidth(hd), tiles = VisionKeyTiles(n);
  const size_t micro = (rows + kVisionMicroRows - 1) / kVisionMicroRows;
  scratch.q.assign(kVisionQueryBlock * pairs, 0);
  scratch.out.assign(kVisionQueryBlock * width, 0.0f);
  scratch.max.assign(kVisionQueryBlock, kMinusInf);
  scratch.sum.assign(kVisionQueryBlock, 0.0f);
  for (size_t b = 0; b < rows; ++b) {
    const uint16_t* row = q + b * q_stride;
    for (size_t r = 0; r < pairs; ++r) {
      scratch.q[b * pairs + r] = row[2 * r] | (2 * r + 1 < hd ? uint32_t{row[2 * r + 1]} << 16 : 0u);
    }
  }
  const float log2_scale = scale * kLog2E;
  for (size_t t = 0; t < tiles; ++t) {
    const size_t valid = std::min(kVisionKeyTile, n - t * kVisionKeyTile);
    const uint32_t* kt = kp + t * VisionKeyTileWords(hd);
    const uint32_t* vt = vp + t * VisionValueTileWords(hd);
    for (size_t u = 0; u < micro; ++u) {
      const size_t b0 = u * kVisionMicroRows;
      const uint32_t* qu = scratch.q.data() + b0 * pairs;
      float *m = scratch.max.data() + b0, *l = scratch.sum.data() + b0, *o = scratch.out.data() + b0 * width;
#ifdef GLMV_HAVE_BF16_INTRINSICS
      if (how == BF16Dot::kNative) {
        TileNative(qu, pairs, kt, vt, width, valid, log2_scale, m, l, o);
        continue;
      }
#endif
      TileEmulated(qu, pairs, kt, vt, width, valid, log2_scale, m, l, o);
    }
  }
  for (size_t b = 0; b < rows; ++b) {
    const float inv = 1.0f / scratch.sum[b];
    for (size_t e = 0; e < hd; ++e) out[b * out_stride + e] = scratch.out[b * width + e] * inv;
  }
}

}  // namespace glmv::simd
