// int8 attention's dot-product loops: AVX512-VNNI intrinsics where the CPU has them, an exact emulation
// elsewhere (attention_int8.h).
#include "simd/attention_int8.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GLMV_HAVE_VNNI_INTRINSICS 1
#endif

namespace glmv::simd {
namespace {

// Byte i (0: the lowest) of a word, as the instruction reads it: unsigned or signed.
int32_t U8(uint32_t word, size_t i) { return static_cast<int32_t>((word >> (8 * i)) & 0xffu); }
int32_t S8(uint32_t word, size_t i) { return static_cast<int8_t>(static_cast<uint8_t>(word >> (8 * i))); }
// One lane of VPDPBUSD: four products of an unsigned byte of `u` and a signed byte of `s`, summed exactly.
int32_t Dot4(uint32_t u, uint32_t s) {
  int32_t sum = 0;
  for (size_t i = 0; i < 4; ++i) sum += U8(u, i) * S8(s, i);
  return sum;
}

void ScoresEmulated(const Int8QueryBlock& q, const uint32_t* kp, const float* k_scale, size_t P, size_t quads,
                    size_t count, float s[kInt8QueryBlock][kInt8TileKeys]) {
  for (size_t b = 0; b < kInt8QueryBlock; ++b) {
    for (size_t j = 0; j < count; ++j) {
      int32_t acc = 0;
      for (size_t r = 0; r < quads; ++r) acc += Dot4(kp[r * P + j], q.q[r * q.q_stride + b]);
      s[b][j] = (static_cast<float>(acc - q.bias[b]) * q.scale[b]) * k_scale[j];
    }
  }
}

void AccumulateEmulated(const float p[kInt8QueryBlock][kInt8TileKeys], const size_t count[kInt8QueryBlock],
                        size_t lead, size_t quad_count, const float* v_scale, const float corr[kInt8QueryBlock],
                        const uint32_t* vp, size_t hd, float* const out[kInt8QueryBlock], size_t queries) {
  uint32_t w[kInt8TileQuads];
  for (size_t b = 0; b < queries; ++b) {
    const float w_scale = QuantizeWeightsInt8(p[b], count[b], lead, quad_count, v_scale, reinterpret_cast<uint8_t*>(w));
    for (size_t e = 0; e < hd; ++e) {
      int32_t acc = 0;
      for (size_t i = 0; i < quad_count; ++i) acc += Dot4(w[i], vp[i * hd + e]);
      out[b][e] = std::fma(w_scale, static_cast<float>(acc), out[b][e] * corr[b]);
    }
  }
}

#ifdef GLMV_HAVE_VNNI_INTRINSICS
#define GLMV_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

GLMV_VNNI_TARGET __mmask16 FirstLanes(size_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1);
}

// Accumulators in arrays of six, as in attention_bf16.cc: GCC 12 keeps those in registers. VPDPBUSD goes
// through inline assembly: around the intrinsic, GCC 12 copies accumulators of the weighted sum (below) to
// scratch registers and to the stack on every step, which it does not do for VDPBF16PS's.
using Acc = __m512i;
GLMV_VNNI_TARGET inline __attribute__((always_inline)) Acc DotBytes(Acc acc, __m512i u8, __m512i s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));  // acc += Σ u8 · s8, four bytes per int32 lane
  return acc;
}
GLMV_VNNI_TARGET inline __attribute__((always_inline)) __m512 SumsToFloat(Acc acc) { return _mm512_cvtepi32_ps(acc); }
constexpr size_t kHalf = kInt8QueryBlock / 2;
static_assert(kInt8QueryBlock == 2 * kHalf && kInt8TileKeys == 32, "two halves of queries, two vectors of keys");

// A query's scores from its integer sums: (float(sum − bias) · scale) · key scale, as the emulation computes them.
GLMV_VNNI_TARGET inline __attribute__((always_inline)) __m512 Score(Acc acc, int32_t bias, float scale, __m512 key_scale) {
  const __m512 x = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, _mm512_set1_epi32(bias)));
  return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(scale)), key_scale);
}

// out ← fma(w_scale, float(acc), out · corr) on the lanes of `live`.
GLMV_VNNI_TARGET inline __attribute__((always_inline)) void FinishOutput(Acc acc, float w_scale, float corr, __mmask16 live, float* out) {
  const __m512 kept = _mm512_mul_ps(_mm512_maskz_loadu_ps(live, out), _mm512_set1_ps(corr));
  _mm512_mask_storeu_ps(out, live,
                        _mm512_fmadd_ps(_mm512_set1_ps(w_scale), SumsToFloat(acc), kept));
}

// Sixteen keys per vector, lane j holding key c + j's quad r: one key load feeds the block's twelve queries
// and each query's sums build up in one register with no horizontal adds (attention_bf16.cc's layout, with
// quads for pairs).
template <size_t V>
GLMV_VNNI_TARGET void ScoresNativeV(const Int8QueryBlock q, const uint32_t* kp, const float* k_scale, size_t P,
                                    size_t room, size_t quads, float s[kInt8QueryBlock][kInt8TileKeys],
                                    const PrefetchRun& next) {
  const uint32_t* const q_words = q.q;
  const size_t q_stride = q.q_stride;
  __mmask16 live[V];
  for (size_t c = 0; c < V; ++c) live[c] = FirstLanes(room > 16 * c ? room - 16 * c : 0);
  Acc lo[V][kHalf], hi[V][kHalf];
  for (size_t c = 0; c < V; ++c) {
    for (size_t b = 0; b < kHalf; ++b) lo[c][b] = hi[c][b] = _mm512_setzero_si512();
  }
  for (size_t r = 0; r < quads; ++r) {
    __m512i k[V];
    for (size_t c = 0; c < V; ++c) k[c] = _mm512_maskz_loadu_epi32(live[c], kp + r * P + 16 * c);
    if (next.p) PrefetchLines({static_cast<const uint32_t*>(next.p) + r * P, next.bytes}, 0, 3);  // ≤ 128 bytes
    const uint32_t* qr = q_words + r * q_stride;
    for (size_t b = 0; b < kHalf; ++b) {
      const __m512i qb = _mm512_set1_epi32(static_cast<int>(qr[b]));
      for (size_t c = 0; c < V; ++c) lo[c][b] = DotBytes(lo[c][b], k[c], qb);
    }
    for (size_t b = 0; b < kHalf; ++b) {
      const __m512i qb = _mm512_set1_epi32(static_cast<int>(qr[kHalf + b]));
      for (size_t c = 0; c < V; ++c) hi[c][b] = DotBytes(hi[c][b], k[c], qb);
    }
  }
  // The sums go to s as they are, then become scores in place: converting them straight from the registers
  // needs a few more registers than the 24 accumulators leave, and GCC 12 then keeps every accumulator on the
  // stack, stored on every step of the loop above.
  for (size_t c = 0; c < V; ++c) {
    for (size_t b = 0; b < kHalf; ++b) {
      _mm512_storeu_si512(s[b] + 16 * c, lo[c][b]);
      _mm512_storeu_si512(s[kHalf + b] + 16 * c, hi[c][b]);
    }
  }
  for (size_t c = 0; c < V; ++c) {
    const __m512 ks = _mm512_maskz_loadu_ps(live[c], k_scale + 16 * c);
    for (size_t b = 0; b < kInt8QueryBlock; ++b) {
      _mm512_storeu_ps(s[b] + 16 * c, Score(_mm512_loadu_si512(s[b] + 16 * c), q.bias[b], q.scale[b], ks));
    }
  }
}

GLMV_VNNI_TARGET void ScoresNative(const Int8QueryBlock& q, const uint32_t* kp, const float* k_scale, size_t P,
                                   size_t room, size_t quads, size_t count, float s[kInt8QueryBlock][kInt8TileKeys],
                                   const PrefetchRun& next) {
  if (count > 16) return ScoresNativeV<2>(q, kp, k_scale, P, room, quads, s, next);
  ScoresNativeV<1>(q, kp, k_scale, P, room, quads, s, next);
}

// QuantizeWeightsInt8, sixteen positions at a time: the same products, maximum, multiplies and rounding (the
// conversion rounds to nearest even, as std::nearbyint does in the default mode).
GLMV_VNNI_TARGET float QuantizeWeightsNative(const float* p, size_t count, size_t lead, size_t quad_count,
                                             const float* v_scale, uint8_t* codes) {
  constexpr size_t kVectors = (4 * kInt8TileQuads + 15) / 16;
  __m512 w[kVectors];
  __m512 vmax = _mm512_setzero_ps();
  const size_t positions = 4 * quad_count;
  for (size_t v = 0; v < kVectors; ++v) {
    const size_t k = 16 * v;
    if (k >= positions) {
      w[v] = _mm512_setzero_ps();
      continue;
    }
    // Lane l holds position k + l: weight p[k + l − lead] · v_scale[k + l] when lead ≤ k + l < lead + count.
    const size_t lo = k < lead ? lead - k : 0, hi = lead + count > k ? std::min<size_t>(16, lead + count - k) : 0;
    const __mmask16 live = static_cast<__mmask16>(FirstLanes(hi) & ~FirstLanes(lo));
    // p − lead + k, not p + (k − lead): k < lead would wrap the unsigned offset. Masked lanes are not read.
    w[v] = _mm512_mul_ps(_mm512_maskz_loadu_ps(live, p - lead + k), _mm512_maskz_loadu_ps(live, v_scale + k));
    vmax = _mm512_max_ps(vmax, w[v]);
  }
  const float w_max = _mm512_reduce_max_ps(vmax);
  if (!(w_max > 0.0f)) {
    std::memset(codes, 0, positions);
    return 0.0f;
  }
  const __m512 inv = _mm512_set1_ps(255.0f / w_max);
  for (size_t v = 0; v * 16 < positions; ++v) {
    const __m512i c = _mm512_cvtps_epi32(_mm512_mul_ps(w[v], inv));
    _mm_mask_storeu_epi8(codes + 16 * v, FirstLanes(positions - 16 * v), _mm512_cvtusepi32_epi8(c));
  }
  return w_max / 255.0f;
}

// Thirty-two output lanes of every query of a full block stay in registers while the tile's value quads stream
// past once: each weight broadcast feeds two dot products (attention_bf16.cc's AccumulateNativeBlock).
GLMV_VNNI_TARGET void AccumulateNativeBlock(const uint32_t (*w)[kInt8TileQuads], const float* w_scale,
                                            size_t quad_count, const float* corr, const uint32_t* vp, size_t hd,
                                            float* const* out, const PrefetchRun& next) {
  constexpr size_t V = 2;
  const size_t passes = (hd + 16 * V - 1) / (16 * V);
  const size_t per_step = next.p ? PrefetchLinesPerStep(next, passes * quad_count) : 0;
  alignas(64) int32_t sums[kInt8QueryBlock][V][16];
  size_t step = 0;
  for (size_t e = 0; e < hd; e += 16 * V) {
    __mmask16 live[V];  // a vector past head_dim has no live lanes: masked loads of it read nothing
    for (size_t c = 0; c < V; ++c) live[c] = FirstLanes(hd > e + 16 * c ? hd - e - 16 * c : 0);
    Acc lo[V][kHalf], hi[V][kHalf];
    for (size_t c = 0; c < V; ++c) {
      for (size_t b = 0; b < kHalf; ++b) lo[c][b] = hi[c][b] = _mm512_setzero_si512();
    }
    for (size_t i = 0; i < quad_count; ++i, ++step) {
      if (per_step) PrefetchLines(next, step * per_step, per_step);
      __m512i v[V];
      for (size_t c = 0; c < V; ++c) v[c] = _mm512_maskz_loadu_epi32(live[c], vp + i * hd + e + 16 * c);
      for (size_t b = 0; b < kHalf; ++b) {
        const __m512i wb = _mm512_set1_epi32(static_cast<int>(w[b][i]));
        for (size_t c = 0; c < V; ++c) lo[c][b] = DotBytes(lo[c][b], wb, v[c]);
      }
      for (size_t b = 0; b < kHalf; ++b) {
        const __m512i wb = _mm512_set1_epi32(static_cast<int>(w[kHalf + b][i]));
        for (size_t c = 0; c < V; ++c) hi[c][b] = DotBytes(hi[c][b], wb, v[c]);
      }
    }
    // The sums are parked in `sums` before they meet the outputs, as in ScoresNativeV (the registers).
    for (size_t c = 0; c < V; ++c) {
      for (size_t b = 0; b < kHalf; ++b) {
        _mm512_store_si512(sums[b][c], lo[c][b]);
        _mm512_store_si512(sums[kHalf + b][c], hi[c][b]);
      }
    }
    for (size_t b = 0; b < kInt8QueryBlock; ++b) {
      for (size_t c = 0; c < V; ++c) {
        FinishOutput(_mm512_load_si512(sums[b][c]), w_scale[b], corr[b], live[c], out[b] + e + 16 * c);
      }
    }
  }
}

// One query of a partial block.
GLMV_VNNI_TARGET void AccumulateNativeOne(const uint32_t* w, float w_scale, size_t quad_count, float corr,
                                          const uint32_t* vp, size_t hd, float* out) {
  for (size_t e = 0; e < hd; e += 16) {
    const __mmask16 live = FirstLanes(hd - e);
    Acc a = _mm512_setzero_si512();
    for (size_t i = 0; i < quad_count; ++i) {
      a = DotBytes(a, _mm512_set1_epi32(static_cast<int>(w[i])), _mm512_maskz_loadu_epi32(live, vp + i * hd + e));
    }
    FinishOutput(a, w_scale, corr, live, out + e);
  }
}

GLMV_VNNI_TARGET void AccumulateNative(const float p[kInt8QueryBlock][kInt8TileKeys], const size_t count[kInt8QueryBlock],
                                       size_t lead, size_t quad_count, const float* v_scale,
                                       const float corr[kInt8QueryBlock], const uint32_t* vp, size_t hd,
                                       float* const out[kInt8QueryBlock], size_t queries, const PrefetchRun& next) {
  alignas(64) uint32_t w[kInt8QueryBlock][kInt8TileQuads];
  float w_scale[kInt8QueryBlock];
  for (size_t b = 0; b < queries; ++b) {
    w_scale[b] = QuantizeWeightsNative(p[b], count[b], lead, quad_count, v_scale, reinterpret_cast<uint8_t*>(w[b]));
  }
  if (queries == kInt8QueryBlock) return AccumulateNativeBlock(w, w_scale, quad_count, corr, vp, hd, out, next);
  // A partial block (small groups, the last block of a prefill tile): the next values at once.
  if (next.p) PrefetchAll(next);
  for (size_t b = 0; b < queries; ++b) AccumulateNativeOne(w[b], w_scale[b], quad_count, corr[b], vp, hd, out[b]);
}
#endif

}  // namespace

float QuantizeInt8(const float* x, size_t n, int8_t* codes) {
  float absmax = 0.0f;
  for (size_t e = 0; e < n; ++e) absmax = std::max(absmax, std::fabs(x[e]));
  if (!(absmax > 0.0f)) {
    std::fill_n(codes, n, int8_t{0});
    return 0.0f;
  }
  const float inv = 127.0f / absmax;
  for (size_t e = 0; e < n; ++e) codes[e] = static_cast<int8_t>(std::clamp(std::nearbyint(x[e] * inv), -127.0f, 127.0f));
  return absmax / 127.0f;
}

float QuantizeWeightsInt8(const float* p, size_t count, size_t lead, size_t quad_count, const float* v_scale,
                          uint8_t* codes) {
  const size_t positions = 4 * quad_count;
  float w[4 * kInt8TileQuads];
  float w_max = 0.0f;
  for (size_t k = 0; k < positions; ++k) {
    w[k] = k >= lead && k - lead < count ? p[k - lead] * v_scale[k] : 0.0f;
    w_max = std::max(w_max, w[k]);
  }
  if (!(w_max > 0.0f)) {
    std::fill_n(codes, positions, uint8_t{0});
    return 0.0f;
  }
  const float inv = 255.0f / w_max;
  for (size_t k = 0; k < positions; ++k) {
    codes[k] = static_cast<uint8_t>(std::clamp(std::nearbyint(w[k] * inv), 0.0f, 255.0f));
  }
  return w_max / 255.0f;
}

Int8Dot BestInt8Dot() {
#ifdef GLMV_HAVE_VNNI_INTRINSICS
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) return Int8Dot::kNative;
#endif
  return Int8Dot::kEmulated;
}

void ScoresInt8(Int8Dot how, const Int8QueryBlock& q, const uint32_t* kp, const float* k_scale, size_t P,
                size_t room, size_t quads, size_t count, float s[kInt8QueryBlock][kInt8TileKeys],
                const PrefetchRun& next_keys) {
#ifdef GLMV_HAVE_VNNI_INTRINSICS
  if (how == Int8Dot::kNative) return ScoresNative(q, kp, k_scale, P, room, quads, count, s, next_keys);
#endif
  (void)room, (void)next_keys;  // the emulation, far from memory-bound, does not prefetch
  ScoresEmulated(q, kp, k_scale, P, quads, count, s);
}

void AccumulateInt8(Int8Dot how, const float p[kInt8QueryBlock][kInt8TileKeys], const size_t count[kInt8QueryBlock],
                    size_t lead, size_t quad_count, const float* v_scale, const float corr[kInt8QueryBlock],
                    const uint32_t* vp, size_t hd, float* const out[kInt8QueryBlock], size_t queries,
                    const PrefetchRun& next_values) {
#ifdef GLMV_HAVE_VNNI_INTRINSICS
  if (how == Int8Dot::kNative) {
    return AccumulateNative(p, count, lead, quad_count, v_scale, corr, vp, hd, out, queries, next_values);
  }
#endif
  (void)next_values;
  AccumulateEmulated(p, count, lead, quad_count, v_scale, corr, vp, hd, out, queries);
}

}  // namespace glmv::simd
