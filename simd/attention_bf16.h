// The two dot-product loops of attention over bf16 keys and values (KvPool's bf16 layout,
// lib/text/kv_cache.h): scores of a block of queries against a tile of keys, and the weighted sum of a tile
// of values. AVX512-BF16's VDPBF16PS does two multiply-adds per f32 lane where an FMA does one, so the query
// and the softmax weights are rounded to bf16 too (f32 accumulation). Highway 1.0.3 only emulates that
// operation, so this file uses the intrinsic, behind a CPUID check, and an emulation in plain C++ that gives
// the same bits (the products of two bf16 are exact in f32; VDPBF16PS adds the odd product, then the even
// one, each rounded to nearest even) for CPUs without it. Denormals differ: the instruction flushes them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <limits>

#include "simd/prefetch.h"

namespace glmv::simd {

// Query vectors per block: each block is twelve independent chains of VDPBF16PS, enough to cover the
// instruction's latency (about 6 cycles at 1.5 per cycle on Zen 4; six chains left the loops latency-bound),
// and one key or value load feeds twelve of them. GLM-4.5V's group of 12 is one block per decode row.
inline constexpr size_t kBF16QueryBlock = 12;
// Keys per tile at most (kAttentionKvTile), and bf16 pairs a tile of values can span (an odd start adds one).
inline constexpr size_t kBF16TileKeys = 32;
inline constexpr size_t kBF16TilePairs = kBF16TileKeys / 2 + 1;

// f32 → bf16 bits, rounded to nearest even (finite inputs; attention never stores NaN on purpose).
inline uint32_t RoundToBF16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}
// Half `half` (0: the low, element 2i; 1: the high) of a pair word, widened exactly to f32.
inline float WidenBF16Half(uint32_t word, size_t half) {
  const uint32_t u = half ? (word & 0xffff0000u) : (word << 16);
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
// Two f32 as one pair word: `even` in the low half.
inline uint32_t PackBF16Pair(float even, float odd) { return RoundToBF16(even) | (RoundToBF16(odd) << 16); }
// One lane of VDPBF16PS: the odd products first, then the even ones, each add rounded (the products are exact).
inline float DotBF16Lane(float acc, uint32_t a, uint32_t b) {
  acc += WidenBF16Half(a, 1) * WidenBF16Half(b, 1);
  acc += WidenBF16Half(a, 0) * WidenBF16Half(b, 0);
  return acc;
}
// A softmax weight as VCVTNE(2)PS2BF16 rounds it: to nearest even, denormals to zero.
inline uint32_t RoundWeightToBF16(float x) {
  return std::fabs(x) < std::numeric_limits<float>::min() ? 0u : RoundToBF16(x);
}

enum class BF16Dot { kNative, kEmulated };
// kNative where the CPU has AVX512-BF16 (and the build could compile it), else kEmulated.
BF16Dot BestBF16Dot();

// s[b][j] = scale · Σ_{r < pairs} dot(q[r·q_stride + b], kp[r·P + j]) for b < kBF16QueryBlock and keys j in
// [0, count), count ≤ 32, the sum
// taken over r in order (one chain per lane). kp: the tile's first key in pair row 0 of a K block of P
// columns; `room` keys are left in the page from there (count ≤ room; nothing past it is read). Lanes of s
// in [count, count rounded up to 16) hold scores of nothing, to be ignored.
// The queries come transposed (pair r of the block's twelve queries side by side), so one pointer and fixed
// offsets reach them all. `next_keys` is pair row 0 of the next key tile (simd/prefetch.h); its row r, r·P
// words further, is prefetched beside row r of this tile.
void ScoresBF16(BF16Dot how, const uint32_t* q, size_t q_stride, const uint32_t* kp, size_t P, size_t room,
                size_t pairs, size_t count, float scale, float s[kBF16QueryBlock][kBF16TileKeys],
                const PrefetchRun& next_keys = {});

// For b in [0, queries): out[b][e] ← out[b][e]·corr[b] + Σ_{i < pair_count} dot(w[b][i], vp[i·hd + e]) for e
// in [0, hd), the sum over i in order. vp: the tile's first pair row of a V block ([pairs][hd] words). The
// weights w[b] are query b's softmax weights p[b][0 .. count[b]) rounded to bf16, placed from position
// `lead` (0 or 1: the tile may start on a pair's second half) and zero elsewhere; a weight below the
// smallest normal f32 rounds to zero, as the instruction's conversion does. `next_values` is prefetched
// spread over the loop.
void AccumulateBF16(BF16Dot how, const float p[kBF16QueryBlock][kBF16TileKeys], const size_t count[kBF16QueryBlock],
                    size_t lead, size_t pair_count, const float corr[kBF16QueryBlock], const uint32_t* vp, size_t hd,
                    float* const out[kBF16QueryBlock], size_t queries, const PrefetchRun& next_values = {});

}  // namespace glmv::simd
