// bf16 attention's dot-product loops: AVX512-BF16 intrinsics where the CPU has them, an exact emulation
// elsewhere (attention_bf16.h).
#include "simd/attention_bf16.h"

#include <algorithm>

#include "simd/bf16_native.h"

namespace glmv::simd {
namespace {

void ScoresEmulated(const uint32_t* q, size_t q_stride, const uint32_t* kp, size_t P, size_t pairs, size_t count,
                    float scale, float s[kBF16QueryBlock][kBF16TileKeys]) {
  for (size_t b = 0; b < kBF16QueryBlock; ++b) {
    for (size_t j = 0; j < count; ++j) {
      float acc = 0.0f;
      for (size_t r = 0; r < pairs; ++r) acc = DotBF16Lane(acc, q[r * q_stride + b], kp[r * P + j]);
      s[b][j] = acc * scale;
    }
  }
}

// Query b's weights as pair words (AccumulateBF16's placement), rounded as VCVTNEPS2BF16 rounds: to nearest
// even, denormals to zero.
void PackWeights(const float* p, size_t count, size_t lead, size_t pair_count, uint32_t* w) {
  auto weight = [&](size_t k) {
    if (k < lead || k - lead >= count) return 0u;
    return RoundWeightToBF16(p[k - lead]);
  };
  for (size_t i = 0; i < pair_count; ++i) w[i] = weight(2 * i) | (weight(2 * i + 1) << 16);
}

void AccumulateEmulated(const float p[kBF16QueryBlock][kBF16TileKeys], const size_t count[kBF16QueryBlock],
                        size_t lead, size_t pair_count, const float corr[kBF16QueryBlock], const uint32_t* vp,
                        size_t hd, float* const out[kBF16QueryBlock], size_t queries) {
  uint32_t w[kBF16TilePairs];
  for (size_t b = 0; b < queries; ++b) {
    PackWeights(p[b], count[b], lead, pair_count, w);
    for (size_t e = 0; e < hd; ++e) {
      float acc = out[b][e] * corr[b];
      for (size_t i = 0; i < pair_count; ++i) acc = DotBF16Lane(acc, w[i], vp[i * hd + e]);
      out[b][e] = acc;
    }
  }
}

#ifdef GLMV_HAVE_BF16_INTRINSICS
using bf16_native::Dot;
using bf16_native::FirstLanes;

// Accumulators come in arrays of six: GCC 12 keeps those in registers, while an array of twelve it also
// stores to the stack on every iteration, and those stores, not the dot products, then set the pace.
constexpr size_t kHalf = kBF16QueryBlock / 2;
static_assert(kBF16QueryBlock == 2 * kHalf && kBF16TileKeys == 32, "two halves of queries, two vectors of keys");

// Sixteen keys per vector: lane j holds key c + j's pair r, so each query's scores build up in one register
// with no horizontal sums, and one key load feeds the block's twelve queries. `V` vectors of keys (a tile of
// more than sixteen keys: pages of 32 tokens or more) load per pair row, so each query's broadcast feeds V.
template <size_t V>
GLMV_BF16_TARGET void ScoresNativeV(const uint32_t* q, size_t q_stride, const uint32_t* kp, size_t P, size_t room,
                                    size_t pairs, float scale, float s[kBF16QueryBlock][kBF16TileKeys],
                                    const PrefetchRun& next) {
  __mmask16 live[V];
  for (size_t c = 0; c < V; ++c) live[c] = FirstLanes(room - 16 * c);
  __m512 lo[V][kHalf], hi[V][kHalf];
  for (size_t c = 0; c < V; ++c) {
    for (size_t b = 0; b < kHalf; ++b) lo[c][b] = hi[c][b] = _mm512_setzero_ps();
  }
  for (size_t r = 0; r < pairs; ++r) {
    __m512i k[V];
    for (size_t c = 0; c < V; ++c) k[c] = _mm512_maskz_loadu_epi32(live[c], kp + r * P + 16 * c);
    if (next.p) PrefetchLines({static_cast<const uint32_t*>(next.p) + r * P, next.bytes}, 0, 3);  // ≤ 128 bytes
    const uint32_t* qr = q + r * q_stride;
    for (size_t b = 0; b < kHalf; ++b) {
      const __m512i qb = _mm512_set1_epi32(static_cast<int>(qr[b]));
      for (size_t c = 0; c < V; ++c) lo[c][b] = Dot(lo[c][b], qb, k[c]);
    }
    for (size_t b = 0; b < kHalf; ++b) {
      const __m512i qb = _mm512_set1_epi32(static_cast<int>(qr[kHalf + b]));
      for (size_t c = 0; c < V; ++c) hi[c][b] = Dot(hi[c][b], qb, k[c]);
    }
  }
  const __m512 vscale = _mm512_set1_ps(scale);
  for (size_t c = 0; c < V; ++c) {
    for (size_t b = 0; b < kHalf; ++b) {
      _mm512_storeu_ps(s[b] + 16 * c, _mm512_mul_ps(lo[c][b], vscale));
      _mm512_storeu_ps(s[kHalf + b] + 16 * c, _mm512_mul_ps(hi[c][b], vscale));
    }
  }
}

GLMV_BF16_TARGET void ScoresNative(const uint32_t* q, size_t q_stride, const uint32_t* kp, size_t P, size_t room,
                                   size_t pairs, size_t count, float scale, float s[kBF16QueryBlock][kBF16TileKeys],
                                   const PrefetchRun& next) {
  if (count > 16) return ScoresNativeV<2>(q, q_stride, kp, P, room, pairs, scale, s, next);
  ScoresNativeV<1>(q, q_stride, kp, P, room, pairs, scale, s, next);
}

// Query b's weights as pair words, converted sixteen at a time: the bf16 array of a tile's weights in
// position order is its pair words. Lanes outside [lead, lead + count) load as zero.
GLMV_BF16_TARGET void PackWeightsNative(const float* p, size_t count, size_t lead, size_t pair_count, uint32_t* w) {
  uint16_t* half = reinterpret_cast<uint16_t*>(w);
  for (size_t k = 0; k < 2 * pair_count; k += 16) {
    // Lane l holds position k + l, weight p[k + l − lead] when lead ≤ k + l < lead + count.
    const size_t lo = k < lead ? lead - k : 0, hi = lead + count > k ? std::min<size_t>(16, lead + count - k) : 0;
    const __mmask16 live = static_cast<__mmask16>(FirstLanes(hi) & ~FirstLanes(lo));
    // p − lead + k, not p + (k − lead): k < lead would wrap the unsigned offset. Masked lanes are not read.
    const __m512 x = _mm512_maskz_loadu_ps(live, p - lead + k);
    const __m256bh y = _mm512_cvtneps_pbh(x);
    _mm256_mask_storeu_epi16(half + k, FirstLanes(2 * pair_count - k), reinterpret_cast<__m256i>(y));
  }
}

// Thirty-two output lanes (two vectors) of every query of a full block stay in registers while the tile's value
// pairs stream past once: each weight broadcast feeds two dot products, so broadcasts no longer match the dot
// products one for one. Every lane is still one chain over the pairs in order (the same bits as one vector).
GLMV_BF16_TARGET void AccumulateNativeBlock(const uint32_t (*w)[kBF16TilePairs], size_t pair_count, const float* corr,
                                            const uint32_t* vp, size_t hd, float* const* out, const PrefetchRun& next) {
  constexpr size_t V = 2;
  const size_t passes = (hd + 16 * V - 1) / (16 * V);
  const size_t per_step = next.p ? PrefetchLinesPerStep(next, passes * pair_count) : 0;
  size_t step = 0;
  for (size_t e = 0; e < hd; e += 16 * V) {
    __mmask16 live[V];  // a vector past head_dim has no live lanes: masked loads of it read nothing
    for (size_t c = 0; c < V; ++c) live[c] = FirstLanes(hd > e + 16 * c ? hd - e - 16 * c : 0);
    __m512 lo[V][kHalf], hi[V][kHalf];
    for (size_t c = 0; c < V; ++c) {
      for (size_t b = 0; b < kHalf; ++b) {
        lo[c][b] = _mm512_mul_ps(_mm512_maskz_loadu_ps(live[c], out[b] + e + 16 * c), _mm512_set1_ps(corr[b]));
        hi[c][b] = _mm512_mul_ps(_mm512_maskz_loadu_ps(live[c], out[kHalf + b] + e + 16 * c),
                                 _mm512_set1_ps(corr[kHalf + b]));
      }
    }
    for (size_t i = 0; i < pair_count; ++i, ++step) {
      if (per_step) PrefetchLines(next, step * per_step, per_step);
      __m512i v[V];
      for (size_t c = 0; c < V; ++c) v[c] = _mm512_maskz_loadu_epi32(live[c], vp + i * hd + e + 16 * c);
      for (size_t b = 0; b < kHalf; ++b) {
        const __m512i wb = _mm512_set1_epi32(static_cast<int>(w[b][i]));
        for (size_t c = 0; c < V; ++c) lo[c][b] = Dot(lo[c][b], wb, v[c]);
      }
      for (size_t b = 0; b < kHalf; ++b) {
        const __m512i wb = _mm512_set1_epi32(static_cast<int>(w[kHalf + b][i]));
        for (size_t c = 0; c < V; ++c) hi[c][b] = Dot(hi[c][b], wb, v[c]);
      }
    }
    for (size_t c = 0; c < V; ++c) {
      for (size_t b = 0; b < kHalf; ++b) {
        _mm512_mask_storeu_ps(out[b] + e + 16 * c, live[c], lo[c][b]);
        _mm512_mask_storeu_ps(out[kHalf + b] + e + 16 * c, live[c], hi[c][b]);
      }
    }
  }
}

// One query of a partial block.
GLMV_BF16_TARGET void AccumulateNativeOne(const uint32_t* w, size_t pair_count, float corr, const uint32_t* vp,
                                          size_t hd, float* out) {
  for (size_t e = 0; e < hd; e += 16) {
    const __mmask16 live = FirstLanes(hd - e);
    __m512 a = _mm512_mul_ps(_mm512_maskz_loadu_ps(live, out + e), _mm512_set1_ps(corr));
    for (size_t i = 0; i < pair_count; ++i) {
      a = Dot(a, _mm512_set1_epi32(static_cast<int>(w[i])), _mm512_maskz_loadu_epi32(live, vp + i * hd + e));
    }
    _mm512_mask_storeu_ps(out + e, live, a);
  }
}

GLMV_BF16_TARGET void AccumulateNative(const float p[kBF16QueryBlock][kBF16TileKeys], const size_t count[kBF16QueryBlock],
                                       size_t lead, size_t pair_count, const float corr[kBF16QueryBlock],
                                       const uint32_t* vp, size_t hd, float* const out[kBF16QueryBlock], size_t queries,
                                       const PrefetchRun& next) {
  alignas(64) uint32_t w[kBF16QueryBlock][kBF16TilePairs];
  for (size_t b = 0; b < queries; ++b) PackWeightsNative(p[b], count[b], lead, pair_count, w[b]);
  if (queries == kBF16QueryBlock) return AccumulateNativeBlock(w, pair_count, corr, vp, hd, out, next);
  // A partial block (small groups, the last block of a prefill tile): the next values at once.
  if (next.p) PrefetchAll(next);
  for (size_t b = 0; b < queries; ++b) AccumulateNativeOne(w[b], pair_count, corr[b], vp, hd, out[b]);
}
#endif

}  // namespace

BF16Dot BestBF16Dot() {
#ifdef GLMV_HAVE_BF16_INTRINSICS
  if (__builtin_cpu_supports("avx512bf16")) return BF16Dot::kNative;
#endif
  return BF16Dot::kEmulated;
}

void ScoresBF16(BF16Dot how, const uint32_t* q, size_t q_stride, const uint32_t* kp, size_t P, size_t room,
                size_t pairs, size_t count, float scale, float s[kBF16QueryBlock][kBF16TileKeys],
                const PrefetchRun& next_keys) {
#ifdef GLMV_HAVE_BF16_INTRINSICS
  if (how == BF16Dot::kNative) return ScoresNative(q, q_stride, kp, P, room, pairs, count, scale, s, next_keys);
#endif
  (void)room, (void)next_keys;  // the emulation, far from memory-bound, does not prefetch
  ScoresEmulated(q, q_stride, kp, P, pairs, count, scale, s);
}

void AccumulateBF16(BF16Dot how, const float p[kBF16QueryBlock][kBF16TileKeys], const size_t count[kBF16QueryBlock],
                    size_t lead, size_t pair_count, const float corr[kBF16QueryBlock], const uint32_t* vp, size_t hd,
                    float* const out[kBF16QueryBlock], size_t queries, const PrefetchRun& next_values) {
#ifdef GLMV_HAVE_BF16_INTRINSICS
  if (how == BF16Dot::kNative) {
    return AccumulateNative(p, count, lead, pair_count, corr, vp, hd, out, queries, next_values);
  }
#endif
  (void)next_values;
  AccumulateEmulated(p, count, lead, pair_count, corr, vp, hd, out, queries);
}

}  // namespace glmv::simd
