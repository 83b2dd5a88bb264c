// Causal grouped-query attention of the text decoder over paged keys and values (spec §2.2), for the rows
// of several sequences in one parallel pass.
#pragma once

#include <cstddef>
#include <cstdint>
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

// Buffers of CausalAttention, owned by the caller and reused: they grow to the longest context and widest
// call, then decoding no longer allocates.
struct AttentionScratch {
  std::vector<const float*> pages;         // per group, per kv-head: its K page pointers, then its V page pointers
  std::vector<const uint32_t*> pages_words;  // the same for bf16 and int8 pages (pair and quad words)
  std::vector<float> state;         // per thread: running max and sum of one query tile (simd/attention.h)
};

// q: [rows, heads · hd] (already rotated); each group's keys and values for positions [0, start + n) are
// already in its pages of `layer`. out: [rows, heads · hd]. Row i of a group attends to positions
// [0, start + i]. One parallel pass over every (group, kv-head, query tile): each K/V tile is read once for the
// tile's rows and all the kv-head's query heads (simd::FlashAttention). A row's output does not depend on which
// other rows or groups share the call.
void CausalAttention(const TextConfig& config, const float* q, std::span<const AttentionRows> groups, size_t layer,
                     float* out, AttentionScratch& scratch);

}  // namespace glmv
