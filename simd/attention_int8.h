// The two dot-product loops of attention over int8 keys and values (KvPool's int8 layout,
// lib/text/kv_cache.h; simd/attention.h, KvHeadPagesInt8): scores of a block of queries against a tile of
// keys, and the weighted sum of a tile of values. AVX512-VNNI's VPDPBUSD sums four products of an unsigned and
// a signed byte into each int32 lane, so it does four multiply-adds per lane where VDPBF16PS does two: the
// query is quantized to int8 (its own scale), the keys are stored with a bias of 128 (unsigned), and the
// softmax weights of a tile, times each position's value scale, are quantized to unsigned bytes (one scale per
// query and tile). Integer sums are exact, so an emulation in plain C++ gives the instruction's bits on CPUs
// without it; the f32 steps after the sums are the same operations in the same order.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simd/attention_bf16.h"  // kBF16QueryBlock, kBF16TileKeys: one blocking for both narrow types
#include "simd/prefetch.h"

namespace glmv::simd {

inline constexpr size_t kInt8QueryBlock = kBF16QueryBlock;
inline constexpr size_t kInt8TileKeys = kBF16TileKeys;
// Quads of positions a tile of values can span (a start inside a quad adds one).
inline constexpr size_t kInt8TileQuads = kInt8TileKeys / 4 + 1;
// The bias of stored key bytes: a key element x in [−127, 127] is stored as the byte x + 128.
inline constexpr int32_t kInt8KeyBias = 128;

enum class Int8Dot { kNative, kEmulated };
// kNative where the CPU has AVX512-VNNI (and the build could compile it), else kEmulated.
Int8Dot BestInt8Dot();

// One block's queries, quantized: word (r, b) at q[r·q_stride + b] holds dimensions 4r..4r+3 of query b as
// signed bytes (the lowest first); bias[b] = kInt8KeyBias · Σ of query b's bytes (what the keys' bias adds to
// its sums), scale[b] = its quantization scale times the attention scale.
struct Int8QueryBlock {
  const uint32_t* q = nullptr;
  size_t q_stride = 0;
  const int32_t* bias = nullptr;
  const float* scale = nullptr;
};

// s[b][j] = (float(Σ_{r < quads} dot4(kp[r·P + j], q[r][b]) − bias[b]) · scale[b]) · k_scale[j] for queries
// b < kInt8QueryBlock and keys j in [0, count), count ≤ 32. kp: the tile's first key in quad row 0 of a K block of
// P columns (biased bytes); k_scale: its scale; `room` keys are left in the page from there (count ≤ room; nothing
// past it is read). Lanes of s in [count, count rounded up to 16) hold scores of nothing, to be ignored.
// `next_keys` is quad row 0 of the next key tile; its row r is prefetched beside row r of this tile.
void ScoresInt8(Int8Dot how, const Int8QueryBlock& q, const uint32_t* kp, const float* k_scale, size_t P,
                size_t room, size_t quads, size_t count, float s[kInt8QueryBlock][kInt8TileKeys],
                const PrefetchRun& next_keys = {});

// For b in [0, queries): query b's weights w_k = p[b][k − lead] · v_scale[k] at tile positions k in
// [lead, lead + count[b]) (zero elsewhere; lead in [0, 4): the tile may start inside a quad) are quantized to
// bytes c_k = round(w_k · (255 / w_max)) over the tile's 4·quad_count positions, and
// out[b][e] ← fma(w_max / 255, float(Σ_k c_k · v_k[e]), out[b][e] · corr[b]) for e in [0, hd).
// vp: the tile's first quad row of a V block ([quads][hd] words of four positions' signed bytes); v_scale: the
// scale of that row's first position. `next_values` is prefetched spread over the loop.
void AccumulateInt8(Int8Dot how, const float p[kInt8QueryBlock][kInt8TileKeys], const size_t count[kInt8QueryBlock],
                    size_t lead, size_t quad_count, const float* v_scale, const float corr[kInt8QueryBlock],
                    const uint32_t* vp, size_t hd, float* const out[kInt8QueryBlock], size_t queries,
                    const PrefetchRun& next_values = {});

// A vector quantized to int8 as queries, keys and values all are: codes[e] = round(x[e] · 127 / absmax), to
// nearest even, for e < n; returns the scale absmax / 127 (0 for a vector of zeros, whose codes are 0).
float QuantizeInt8(const float* x, size_t n, int8_t* codes);

// Query b's weights as bytes (AccumulateInt8's quantization): writes 4·quad_count bytes to `codes` and returns
// w_max / 255 (0 when every weight is 0). Shared by the kernels and the scalar twin.
float QuantizeWeightsInt8(const float* p, size_t count, size_t lead, size_t quad_count, const float* v_scale,
                          uint8_t* codes);

}  // namespace glmv::simd
