// Causal attention of one (sequence, kv-head) pair over paged keys and values, flash-style: keys and values
// are read tile by tile, once for every query vector of the call (all `group` query heads that share the
// kv-head, for every query row), and each query keeps a running max, sum and f32 output (online softmax), so
// no full score row is ever materialised. Decode calls it with one row; prefill with a tile of rows.
//
// Determinism: a query's arithmetic depends only on its own vector, its position and the keys and values it
// sees. Key tiles start at absolute positions (multiples of kAttentionKvTile, and page starts), never at the
// call's first row, so a row gives bit-identical output whichever rows or sequences share its call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace glmv::simd {

// Key/value positions per tile (a tile never crosses a page either). 32 × head_dim 128 × 4 bytes keeps a K
// tile and a V tile (32 KiB together) near L1 while the group's queries reuse them.
inline constexpr size_t kAttentionKvTile = 32;

// One kv-head's keys and values of one sequence, page p holding positions [p·page_tokens, (p+1)·page_tokens):
// k[p] points at [head_dim][page_tokens] f32 (keys transposed: row e holds dimension e of the page's keys, so
// one vector load gives several keys' terms and scores need no horizontal sums), v[p] at
// [page_tokens][head_dim] f32. Only the pages covering the positions read are used.
struct KvHeadPages {
  std::span<const float* const> k, v;
  size_t page_tokens = 0;
};

// The same over bf16 keys and values, in pairs of bf16 per 32-bit word (element 2i in the low half; the
// layout of lib/text/kv_cache.h): k[p] points at [⌈head_dim/2⌉][page_tokens] words (word (r, j): dimensions
// 2r, 2r+1 of key j; an odd head_dim pads zeros), v[p] at [⌈page_tokens/2⌉][head_dim] words (word (i, e):
// dimension e of the page's positions 2i, 2i+1). The dot products take the queries and the softmax weights
// rounded to bf16 (AVX512-BF16 where the CPU has it: simd/attention_bf16.h); maxima, sums and outputs are f32.
struct KvHeadPagesBF16 {
  std::span<const uint32_t* const> k, v;
  size_t page_tokens = 0;
};

// The same over int8 keys and values, each position's key and value of the head with its own f32 scale
// (absmax / 127; the layout of lib/text/kv_cache.h, in words of four bytes, the lowest byte first):
// k[p] points at [⌈head_dim/4⌉][page_tokens] words (word (r, j): dimensions 4r..4r+3 of key j, each stored as
// the byte x + 128; an unused dimension stores 128, a zero term) followed by page_tokens f32 key scales; v[p] at
// [⌈page_tokens/4⌉][head_dim] words (word (i, e): dimension e of the page's positions 4i..4i+3, signed bytes)
// followed by page_tokens f32 value scales. The dot products take the queries quantized to int8 and each tile's
// softmax weights to unsigned bytes (AVX512-VNNI where the CPU has it: simd/attention_int8.h); maxima, sums and
// outputs are f32.
struct KvHeadPagesInt8 {
  std::span<const uint32_t* const> k, v;
  size_t page_tokens = 0;
};
// Where a page's key (value) scales start, in words from k[p] (v[p]).
inline size_t Int8KeyScalesOffset(size_t head_dim, size_t page_tokens) { return (head_dim + 3) / 4 * page_tokens; }
inline size_t Int8ValueScalesOffset(size_t head_dim, size_t page_tokens) { return (page_tokens + 3) / 4 * head_dim; }

// Query rows r in [0, rows) sit at positions start + r and see positions [0, start + r]; the pages must hold
// them all. Query head g in [0, group) of row r is q[r·q_stride + g·head_dim ..+ head_dim), already rotated;
// its output goes to out[r·out_stride + g·head_dim ..+ head_dim]. scale multiplies q·k (1/√head_dim).
struct AttentionQueries {
  const float* q = nullptr;
  size_t q_stride = 0;
  float* out = nullptr;
  size_t out_stride = 0;
  size_t start = 0, rows = 0;
};

// Floats of `state` FlashAttention needs for `rows` rows of `group` heads: running max and sum per query,
// then room for the queries rounded to bf16 pairs (the bf16 kernel) or quantized to int8 quads with a bias and
// a scale each and one query's bytes as it is quantized (the int8 kernel), and the zeros that a partial last
// block of queries (twelve: simd/attention_bf16.h) reads past them.
inline size_t FlashAttentionStateFloats(size_t group, size_t rows, size_t head_dim) {
  return 2 * group * rows + group * rows * ((head_dim + 1) / 2 + 2) + (head_dim + 3) / 4 + 48;
}

// softmax(scale · q·Kᵀ, causal) · V for every query of `queries`. `state` holds
// FlashAttentionStateFloats(group, rows) floats of caller scratch. Any head_dim, group, page size and length.
void FlashAttention(const KvHeadPages& kv, size_t head_dim, size_t group, float scale,
                    const AttentionQueries& queries, float* state);
void FlashAttention(const KvHeadPagesBF16& kv, size_t head_dim, size_t group, float scale,
                    const AttentionQueries& queries, float* state);
void FlashAttention(const KvHeadPagesInt8& kv, size_t head_dim, size_t group, float scale,
                    const AttentionQueries& queries, float* state);

// FlashAttention in parts, for a caller that walks several kv-heads page by page (each head's run of a page
// is short; the heads of one page lie side by side): Begin sets the running state (and zeroes out), Span adds
// positions [t_begin, t_end) (t_begin a page start; positions past a row's own are skipped), End divides out by
// the softmax sums. Begin, then Spans covering [0, start + rows) in order, then End give bit-for-bit what one
// FlashAttention call gives: the tiles and the order of every operation are the same.
void FlashAttentionBegin(size_t head_dim, size_t group, const AttentionQueries& queries, float* state);
void FlashAttentionSpan(const KvHeadPages& kv, size_t head_dim, size_t group, float scale,
                        const AttentionQueries& queries, size_t t_begin, size_t t_end, float* state);
// bf16 (int8): the Span with t_begin = 0 also rounds (quantizes) the queries into `state` for the later Spans.
void FlashAttentionSpan(const KvHeadPagesBF16& kv, size_t head_dim, size_t group, float scale,
                        const AttentionQueries& queries, size_t t_begin, size_t t_end, float* state);
void FlashAttentionSpan(const KvHeadPagesInt8& kv, size_t head_dim, size_t group, float scale,
                        const AttentionQueries& queries, size_t t_begin, size_t t_end, float* state);
void FlashAttentionEnd(size_t head_dim, size_t group, const AttentionQueries& queries, const float* state);

namespace scalar {
// The plain-C++ twin: the same tiles and online softmax, one query at a time, dot products in double.
void FlashAttention(const KvHeadPages& kv, size_t head_dim, size_t group, float scale,
                    const AttentionQueries& queries, float* state);
// bf16: keys and values widened exactly, queries and each tile's softmax weights rounded to bf16 as the
// kernel rounds them, dot products in double.
void FlashAttention(const KvHeadPagesBF16& kv, size_t head_dim, size_t group, float scale,
                    const AttentionQueries& queries, float* state);
// int8: queries quantized and each tile's weights quantized to bytes as the kernel does (the same
// QuantizeQueryInt8 and QuantizeWeightsInt8), integer dot products exact, the rest in double.
void FlashAttention(const KvHeadPagesInt8& kv, size_t head_dim, size_t group, float scale,
                    const AttentionQueries& queries, float* state);
}  // namespace scalar

}  // namespace glmv::simd
