// Bidirectional multi-head attention of the vision tower, inside one image / frame pair. Memory stays
// bounded: scores exist for one block of query rows at a time (never the patch × patch matrix).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/status.h"
#include "lib/base/onednn.h"
#include "simd/vision_attention_bf16.h"

namespace glmv {

// Tokens [begin, end) attend to each other. qkv: [*, 3·D] (q, k, v side by side; heads of `hd` inside
// each), out: [*, D]; rows outside [begin, end) are not touched. `scratch` grows as needed and is reused.
// Long segments run as query-block GEMMs through oneDNN (QKᵀ, softmax, PV) with `onednn`'s primitives;
// short ones row by row.
void VisionSegmentAttention(OneDnnCache& onednn, const float* qkv, size_t begin, size_t end, size_t D, size_t hd, float* out,
                            std::vector<float>& scratch);

// Buffers of the bf16 paths, reused from call to call: every head's packed keys and values and each thread's
// block buffers (fused), the scores of a query block and their bf16 weights (oneDNN).
struct VisionAttentionBuffers {
  std::vector<uint32_t> keys, values;
  std::vector<simd::VisionBlockScratch> blocks;
  std::vector<float> scores;
  std::vector<uint16_t> weights;
};

// The same attention in bf16 arithmetic, for a tower stored bf16 (BF16Math::kBF16): qkv_bf16 is qkv rounded to
// bf16, in the same layout. QKᵀ and PV are bf16 dot products summed in f32; the softmax runs in f32 and its
// weights are rounded to bf16 for PV. Where the CPU has AVX512-BF16 it runs fused (VisionSegmentAttentionFused);
// elsewhere as oneDNN's bf16 GEMMs over query blocks. Every length takes this path, so short segments (the
// golden sets') run the same arithmetic as long ones. An error if oneDNN refuses; the caller then runs
// VisionSegmentAttention.
Status VisionSegmentAttentionBF16(OneDnnCache& onednn, const uint16_t* qkv_bf16, size_t begin, size_t end, size_t D,
                                  size_t hd, float* out, VisionAttentionBuffers& buffers);

// The two bf16 paths apart, for tests and benchmarks. Fused: every head's keys and values are packed once,
// then blocks of queries of every head run flash-style over them in parallel (simd/vision_attention_bf16.h);
// `how` picks the AVX512-BF16 kernel or its scalar twin. Blocked: oneDNN's GEMMs (S = QKᵀ, softmax, PV) per query block.
void VisionSegmentAttentionFused(simd::BF16Dot how, const uint16_t* qkv_bf16, size_t begin, size_t end, size_t D,
                                 size_t hd, float* out, VisionAttentionBuffers& buffers);
Status VisionSegmentAttentionBlockedBF16(OneDnnCache& onednn, const uint16_t* qkv_bf16, size_t begin, size_t end,
                                         size_t D, size_t hd, float* out, VisionAttentionBuffers& buffers);

// The row-by-row path, for tests to compare the blocked path against.
void VisionSegmentAttentionRows(const float* qkv, size_t begin, size_t end, size_t D, size_t hd, float* out,
                                std::vector<float>& scratch);

}  // namespace glmv
