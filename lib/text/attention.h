// Causal grouped-query attention of the text decoder over the KV cache (spec §2.2).
#pragma once

#include <cstddef>
#include <vector>

#include "lib/model/config.h"

namespace glmv {

// q: [n, heads · hd] (already rotated) for tokens at cache rows [start, start + n); k_cache/v_cache:
// [≥ start + n, kv_heads · hd] with those rows already written. out: [n, heads · hd].
// Token i attends to cache rows [0, start + i]. `scratch` holds one score row per thread.
void CausalAttention(const TextConfig& config, const float* q, size_t n, size_t start, const float* k_cache,
                     const float* v_cache, float* out, std::vector<float>& scratch);

}  // namespace glmv
