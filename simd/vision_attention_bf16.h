// The vision tower's bidirectional attention in bf16 arithmetic, fused flash-style: a block of queries walks
// one head's keys and values a tile at a time with an online softmax, so no score matrix is ever written. The
// head's keys and values are packed once (VDPBF16PS pair words), then every query block reads each packed
// tile once; a tile's 32 KB stay in cache while the block's micro-tiles of six queries use it.
//
// Arithmetic: q, k and v are bf16; QKᵀ and PV are VDPBF16PS dot products summed in f32; the softmax runs in
// f32 (exp2 of scores scaled by log2(e)/√hd) and its unnormalised weights, all ≤ 1, are rounded to bf16 for
// PV; the sum that normalises them adds the unrounded weights. So each output is within about 2⁻⁸ · max |v|
// of exact attention over the same bf16 inputs, like the unfused path that rounds normalised weights.
//
// The native path needs AVX512-BF16 (BestBF16Dot() == kNative). The scalar twin takes the same tiles in
// plain C++ (std::exp2, bf16 rounding of the weights); it is the reference the native path is tested against,
// not a fast fallback: callers without the instruction use oneDNN's GEMMs instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "simd/attention_bf16.h"

namespace glmv::simd {

inline constexpr size_t kVisionKeyTile = 64;     // keys per tile: four vectors of scores per query
inline constexpr size_t kVisionMicroRows = 6;    // queries per micro-tile: 6 × 4 score accumulators
inline constexpr size_t kVisionQueryBlock = 48;  // queries per block, sharing each K/V tile while it is in cache

inline size_t VisionKeyTiles(size_t n) { return (n + kVisionKeyTile - 1) / kVisionKeyTile; }
// Pair words per key or query row: hd rounded up to even, halved.
inline size_t VisionPairs(size_t hd) { return (hd + 1) / 2; }
// A packed value row's width: hd rounded up to a vector of sixteen f32 lanes.
inline size_t VisionValueWidth(size_t hd) { return (hd + 15) / 16 * 16; }
// Words of one packed key tile ([pairs][64 keys]) and of one packed value tile ([32 key pairs][width]).
inline size_t VisionKeyTileWords(size_t hd) { return VisionPairs(hd) * kVisionKeyTile; }
inline size_t VisionValueTileWords(size_t hd) { return kVisionKeyTile / 2 * VisionValueWidth(hd); }

// Packs tiles [tile_begin, tile_end) of one head's n keys (row i at k + i·stride, hd bf16 values) into kp,
// which holds VisionKeyTiles(n) · VisionKeyTileWords(hd) words: tile t's word [r][j] is key t·64 + j's
// elements 2r and 2r + 1 (low half first). Keys past n and the odd element past an odd hd are zero.
void PackVisionKeys(const uint16_t* k, size_t stride, size_t n, size_t hd, size_t tile_begin, size_t tile_end,
                    uint32_t* kp);
// The same for values, into VisionKeyTiles(n) · VisionValueTileWords(hd) words: tile t's word [i][e] is
// element e of keys t·64 + 2i (low half) and t·64 + 2i + 1; zero past n and past hd.
void PackVisionValues(const uint16_t* v, size_t stride, size_t n, size_t hd, size_t tile_begin, size_t tile_end,
                      uint32_t* vp);

// One thread's buffers for VisionAttentionBlock, grown on first use.
struct VisionBlockScratch {
  std::vector<uint32_t> q;     // the block's queries as pair words [48][pairs]
  std::vector<float> out;      // running outputs [48][value width]
  std::vector<float> max, sum;  // running max (log2 units) and sum per query
};

// Attention of `rows` ≤ kVisionQueryBlock queries (row b: q + b·q_stride, hd bf16 values) over one head's n
// packed keys and values (PackVisionKeys/PackVisionValues over every tile). out row b (out + b·out_stride)
// gets softmax(q·kᵀ · scale) · v, hd floats.
void VisionAttentionBlock(BF16Dot how, const uint16_t* q, size_t q_stride, size_t rows, const uint32_t* kp,
                          const uint32_t* vp, size_t n, size_t hd, float scale, float* out, size_t out_stride,
                          VisionBlockScratch& scratch);

}  // namespace glmv::simd
