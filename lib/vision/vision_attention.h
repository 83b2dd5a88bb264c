// Bidirectional multi-head attention of the vision tower, inside one image / frame pair. Memory stays
// bounded: scores exist for one block of query rows at a time (never the patch × patch matrix).
#pragma once

#include <cstddef>
#include <vector>

#include "lib/base/onednn.h"

namespace glmv {

// Tokens [begin, end) attend to each other. qkv: [*, 3·D] (q, k, v side by side; heads of `hd` inside
// each), out: [*, D]; rows outside [begin, end) are not touched. `scratch` grows as needed and is reused.
// Long segments run as query-block GEMMs through oneDNN (QKᵀ, softmax, PV) with `onednn`'s primitives;
// short ones row by row.
void VisionSegmentAttention(OneDnnCache& onednn, const float* qkv, size_t begin, size_t end, size_t D, size_t hd, float* out,
                            std::vector<float>& scratch);

// The row-by-row path, for tests to compare the blocked path against.
void VisionSegmentAttentionRows(const float* qkv, size_t begin, size_t end, size_t D, size_t hd, float* out,
                                std::vector<float>& scratch);

}  // namespace glmv
