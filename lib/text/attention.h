// Causal grouped-query attention of the text decoder over paged keys and values (spec §2.2), for the rows
// of several sequences in one parallel pass.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "lib/model/config.h"
#include "lib/text/kv_cache.h"

namespace glmv {

// Rows [row_begin, row_begin + n) of a call belong to one sequence, at its positions [start, start + n).
struct AttentionRows {
  const KvSequence* kv = nullptr;
  size_t row_begin = 0, n = 0, start = 0;
};

// q: [rows, heads · hd] (already rotated); each group's keys and values for positions [0, start + n) are
// already in its pages of `layer`. out: [rows, heads · hd]. Row i of a group attends to positions
// [0, start + i]. `scratch` holds one score row per thread.
void CausalAttention(const TextConfig& config, const float* q, std::span<const AttentionRows> groups, size_t layer,
                     float* out, std::vector<float>& scratch);

}  // namespace glmv
