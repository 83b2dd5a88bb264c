// Flash-style causal attention over paged f32 keys and values (Highway, runtime dispatch). See attention.h
// for the contract; this file is the per-target kernel.
#include "simd/attention.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "simd/attention_bf16.h"
#include "simd/attention_int8.h"
#include "simd/prefetch.h"

HWY_BEFORE_NAMESPACE();
namespace glmv::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Query vectors handled together: one key or value load feeds this many FMAs. 6 divides GLM-4.5V's group of 12
// (a decode row is two blocks) and leaves registers for the loads.
constexpr size_t kQueryBlock = 6;

// s[b][j] = scale · q[b]·k_j for the tile's keys j in [0, count). Keys are stored transposed within a page
// (attention.h): row e of the page holds dimension e of every key, so `kt` (the tile's first key in row 0)
// gives N keys per load and each query keeps one accumulator of N scores, with no horizontal sums. Every lane
// is one chain of FMAs over e in order, whatever the other queries of the block are: a score never depends on
// which queries share the block. Lanes past the page's last key are not loaded (masked); lanes past `count`
// hold other keys' scores, which the softmax ignores.
// `next_keys` is row 0 of the next key tile (simd/prefetch.h); its row e, e·P floats further, is prefetched
// beside row e of this tile.
void Scores(const float* const q[kQueryBlock], const float* HWY_RESTRICT kt, size_t P, size_t room, size_t hd,
            size_t count, float scale, float s[kQueryBlock][kAttentionKvTile], const PrefetchRun& next_keys) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t N = hn::Lanes(d);
  const auto vscale = hn::Set(d, scale);
  for (size_t c = 0; c < count; c += N) {
    V a[kQueryBlock];
    for (size_t b = 0; b < kQueryBlock; ++b) a[b] = hn::Zero(d);
    const float* col = kt + c;
    if (c + N <= room) {
      for (size_t e = 0; e < hd; ++e) {
        if (c == 0 && next_keys.p) {  // ≤ 32 keys: 128 bytes, ≤ 3 lines
          PrefetchLines({static_cast<const float*>(next_keys.p) + e * P, next_keys.bytes}, 0, 3);
        }
        const V k = hn::LoadU(d, col + e * P);
        for (size_t b = 0; b < kQueryBlock; ++b) a[b] = hn::MulAdd(hn::Set(d, q[b][e]), k, a[b]);
      }
    } else {  // the page ends inside this vector (a page size not a multiple of the lane count)
      const auto inside = hn::FirstN(d, room - c);
      for (size_t e = 0; e < hd; ++e) {
        const V k = hn::MaskedLoad(inside, d, col + e * P);
        for (size_t b = 0; b < kQueryBlock; ++b) a[b] = hn::MulAdd(hn::Set(d, q[b][e]), k, a[b]);
      }
    }
    for (size_t b = 0; b < kQueryBlock; ++b) hn::StoreU(hn::Mul(a[b], vscale), d, s[b] + c);
  }
}

// One query's online-softmax step over `count` ≥ 1 scores of a tile: s becomes the tile's weights
// exp(s − m_new), the running max m and sum l move on, and the factor that rescales its running output is
// returned.
float Softmax(float* HWY_RESTRICT s, size_t count, float& m, float& l) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  // The tile's max, a vector at a time (lanes past count masked to −inf; max is exact in any order).
  auto vmax = hn::Set(d, -std::numeric_limits<float>::infinity());
  for (size_t j = 0; j < count; j += N) {
    vmax = hn::Max(vmax, hn::IfThenElse(hn::FirstN(d, count - j), hn::LoadU(d, s + j), vmax));
  }
  const float m_tile = hn::GetLane(hn::MaxOfLanes(d, vmax));
  const float m_new = std::max(m, m_tile);
  // 0 on the first tile (m = −inf); exactly 1 once the running max stops moving, which long contexts reach
  // early, so most tiles skip the scalar exp.
  const float corr = m_new == m ? 1.0f : std::exp(m - m_new);
  const auto vm = hn::Set(d, m_new);
  auto vsum = hn::Zero(d);
  // kAttentionKvTile is a multiple of every target's lane count: whole vectors stay inside s. Lanes past
  // count are masked before Exp (they hold stale scores) and zeroed after.
  for (size_t j = 0; j < count; j += N) {
    const auto live = hn::FirstN(d, count - j);
    const auto x = hn::IfThenElse(live, hn::LoadU(d, s + j), vm);
    const auto e = hn::IfThenElseZero(live, hn::Exp(d, hn::Sub(x, vm)));
    hn::StoreU(e, d, s + j);
    vsum = hn::Add(vsum, e);
  }
  l = l * corr + hn::GetLane(hn::SumOfLanes(d, vsum));
  m = m_new;
  return corr;
}

// out ← out·corr + Σ_j p[j]·v[j] over j in [0, count), v: [count][hd]. Every lane is one chain of FMAs in j
// order; AccumulateBlock below runs the very same chain for a block of queries at once.
void Accumulate(const float* HWY_RESTRICT p, size_t count, float corr, const float* HWY_RESTRICT v, size_t hd,
                float* HWY_RESTRICT out) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vcorr = hn::Set(d, corr);
  size_t e = 0;
  for (; e + N <= hd; e += N) {
    auto acc = hn::Mul(hn::LoadU(d, out + e), vcorr);
    for (size_t j = 0; j < count; ++j) acc = hn::MulAdd(hn::Set(d, p[j]), hn::LoadU(d, v + j * hd + e), acc);
    hn::StoreU(acc, d, out + e);
  }
  for (; e < hd; ++e) {
    float acc = out[e] * corr;
    for (size_t j = 0; j < count; ++j) acc += p[j] * v[j * hd + e];
    out[e] = acc;
  }
}

// Accumulate for a block of queries that see the same `count` positions: each value row is loaded once for
// all of them (the decode case, and every prefill tile off the diagonal). Same per-query arithmetic as Accumulate.
// `next_values` is prefetched spread over the loop.
void AccumulateBlock(const float p[kQueryBlock][kAttentionKvTile], size_t count, const float corr[kQueryBlock],
                     const float* HWY_RESTRICT v, size_t hd, float* const out[kQueryBlock],
                     const PrefetchRun& next_values) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t N = hn::Lanes(d);
  const size_t per_step = next_values.p ? PrefetchLinesPerStep(next_values, hd / N * count) : 0;
  size_t step = 0, e = 0;
  for (; e + N <= hd; e += N) {
    V a[kQueryBlock];
    for (size_t b = 0; b < kQueryBlock; ++b) a[b] = hn::Mul(hn::LoadU(d, out[b] + e), hn::Set(d, corr[b]));
    for (size_t j = 0; j < count; ++j, ++step) {
      if (per_step) PrefetchLines(next_values, step * per_step, per_step);
      const V x = hn::LoadU(d, v + j * hd + e);
      for (size_t b = 0; b < kQueryBlock; ++b) a[b] = hn::MulAdd(hn::Set(d, p[b][j]), x, a[b]);
    }
    for (size_t b = 0; b < kQueryBlock; ++b) hn::StoreU(a[b], d, out[b] + e);
  }
  for (; e < hd; ++e) {
    for (size_t b = 0; b < kQueryBlock; ++b) {
      float acc = out[b][e] * corr[b];
      for (size_t j = 0; j < count; ++j) acc += p[b][j] * v[j * hd + e];
      out[b][e] = acc;
    }
  }
}

// Positions in the tile that starts at t0: up to the next multiple of kAttentionKvTile, page end or `end`.
size_t TileLength(size_t t0, size_t P, size_t end) {
  return std::min({kAttentionKvTile - t0 % kAttentionKvTile, P - t0 % P, end - t0});
}

// Positions [t_begin, min(t_end, a.start + a.rows)) into the running state (m, l and the unnormalised out).
void FlashAttentionSpanImpl(const KvHeadPages& kv, size_t hd, size_t group, float scale, const AttentionQueries& a,
                            size_t t_begin, size_t t_end, float* HWY_RESTRICT state) {
  static_assert(kAttentionKvTile % 16 == 0, "whole vectors of every x86 target");
  const size_t nq = a.rows * group;  // queries row-major: query i is row i / group, head i % group
  float* m = state;
  float* l = state + nq;
  const size_t P = kv.page_tokens, end = std::min(t_end, a.start + a.rows);
  alignas(64) float s[kQueryBlock][kAttentionKvTile] = {};
  for (size_t t0 = t_begin; t0 < end;) {
    const size_t in_page = t0 % P;
    const size_t len = TileLength(t0, P, end);
    const float* kt = kv.k[t0 / P] + in_page;  // key columns [in_page, in_page + len) of rows e·P
    const float* v = kv.v[t0 / P] + in_page * hd;
    // The next tile (in the next Span's page, when this one ends the page), fetched while this one computes:
    // a kv-head's run of a page is too short for the hardware prefetcher to get ahead of decode.
    const size_t next = t0 + len, visible = a.start + a.rows;
    PrefetchRun next_keys, next_values;
    if (next < visible) {
      const size_t next_in_page = next % P, next_len = TileLength(next, P, visible);
      next_keys = {kv.k[next / P] + next_in_page, next_len * sizeof(float)};
      next_values = {kv.v[next / P] + next_in_page * hd, next_len * hd * sizeof(float)};
    }
    // Rows that start at or before t0 see none of this tile: begin with the first query whose row sees t0.
    const size_t first_row = t0 > a.start ? t0 - a.start : 0;
    for (size_t qb = first_row * group; qb < nq; qb += kQueryBlock) {
      const size_t b_end = std::min(kQueryBlock, nq - qb);
      const float* q[kQueryBlock];
      size_t count[kQueryBlock], max_count = 0;
      for (size_t b = 0; b < kQueryBlock; ++b) {
        const size_t i = qb + std::min(b, b_end - 1);
        q[b] = a.q + (i / group) * a.q_stride + (i % group) * hd;
        count[b] = std::min(len, a.start + i / group + 1 - t0);  // visible positions of this tile
        max_count = std::max(max_count, count[b]);
      }
      // The first block of queries fetches the next tile; the others find it fetched.
      const bool first_block = qb == first_row * group;
      Scores(q, kt, P, P - in_page, hd, max_count, scale, s, first_block ? next_keys : PrefetchRun{});
      float corr[kQueryBlock];
      float* out[kQueryBlock];
      bool same_count = b_end == kQueryBlock;
      for (size_t b = 0; b < b_end; ++b) {
        const size_t i = qb + b;
        corr[b] = Softmax(s[b], count[b], m[i], l[i]);
        out[b] = a.out + (i / group) * a.out_stride + (i % group) * hd;
        same_count = same_count && count[b] == count[0];
      }
      if (same_count) {
        AccumulateBlock(s, count[0], corr, v, hd, out, first_block ? next_values : PrefetchRun{});
      } else {
        if (first_block && next_values.p) PrefetchAll(next_values);
        for (size_t b = 0; b < b_end; ++b) Accumulate(s[b], count[b], corr[b], v, hd, out[b]);
      }
    }
    t0 += len;
  }
}

// Where the next tile of a packed layout lies (kPerWord positions per word of values: 2 for bf16, 4 for int8),
// for the tile loop to prefetch: its keys' columns and its values' rows, or nothing past `visible`.
template <size_t kPerWord>
void NextPackedTile(std::span<const uint32_t* const> k, std::span<const uint32_t* const> v, size_t hd, size_t P,
                    size_t next, size_t visible, PrefetchRun& next_keys, PrefetchRun& next_values) {
  if (next >= visible) return;
  const size_t in_page = next % P, len = TileLength(next, P, visible);
  const size_t first = in_page / kPerWord, row_end = (in_page + len + kPerWord - 1) / kPerWord;
  next_keys = {k[next / P] + in_page, len * sizeof(uint32_t)};
  next_values = {v[next / P] + first * hd, (row_end - first) * hd * sizeof(uint32_t)};
}

// Visible positions of the tile [t0, t0 + len) for each query of the block from qb (queries past the block's
// end repeat its last one), and their maximum.
template <size_t kBlock>
size_t BlockCounts(size_t qb, size_t b_end, size_t group, size_t len, size_t start, size_t t0, size_t count[kBlock]) {
  size_t max_count = 0;
  for (size_t b = 0; b < kBlock; ++b) {
    const size_t i = qb + std::min(b, b_end - 1);
    count[b] = std::min(len, start + i / group + 1 - t0);
    max_count = std::max(max_count, count[b]);
  }
  return max_count;
}

// FlashAttentionSpanImpl over bf16 pages: the same key tiles and f32 online softmax, in blocks of twelve
// queries (simd/attention_bf16.h says why); the two dot product loops are attention_bf16.h's. Queries are rounded to bf16 pairs once, by the Span that starts
// at position 0, into the state after the running maxima and sums.
void FlashAttentionSpanBF16Impl(const KvHeadPagesBF16& kv, size_t hd, size_t group, float scale,
                                const AttentionQueries& a, size_t t_begin, size_t t_end, float* HWY_RESTRICT state) {
  static_assert(kBF16TileKeys == kAttentionKvTile, "one tiling of keys for both types");
  const size_t nq = a.rows * group, pairs = (hd + 1) / 2;
  float* m = state;
  float* l = state + nq;
  // [pairs][nq] (transposed: a block's queries side by side), then kBF16QueryBlock words of zeros that a
  // partial last block reads past the last pair row.
  uint32_t* qp = reinterpret_cast<uint32_t*>(state + 2 * nq);
  if (t_begin == 0) {
    for (size_t i = 0; i < nq; ++i) {
      const float* q = a.q + (i / group) * a.q_stride + (i % group) * hd;
      for (size_t r = 0; r < pairs; ++r) qp[r * nq + i] = PackBF16Pair(q[2 * r], 2 * r + 1 < hd ? q[2 * r + 1] : 0.0f);
    }
    std::fill_n(qp + pairs * nq, kBF16QueryBlock, 0u);
  }
  const BF16Dot how = BestBF16Dot();
  const size_t P = kv.page_tokens, end = std::min(t_end, a.start + a.rows);
  alignas(64) float s[kBF16QueryBlock][kAttentionKvTile] = {};
  for (size_t t0 = t_begin; t0 < end;) {
    const size_t in_page = t0 % P;
    const size_t len = TileLength(t0, P, end);
    const uint32_t* kp = kv.k[t0 / P] + in_page;  // key columns [in_page, in_page + len) of pair rows r·P
    const size_t first_pair = in_page / 2, pair_end = (in_page + len + 1) / 2;
    const uint32_t* vp = kv.v[t0 / P] + first_pair * hd;
    // The next tile (in the next Span's page, when this one ends the page), fetched while this one computes.
    PrefetchRun next_keys, next_values;
    NextPackedTile<2>(kv.k, kv.v, hd, P, t0 + len, a.start + a.rows, next_keys, next_values);
    const size_t first_row = t0 > a.start ? t0 - a.start : 0;
    for (size_t qb = first_row * group; qb < nq; qb += kBF16QueryBlock) {
      const size_t b_end = std::min(kBF16QueryBlock, nq - qb);
      size_t count[kBF16QueryBlock];
      const size_t max_count = BlockCounts<kBF16QueryBlock>(qb, b_end, group, len, a.start, t0, count);
      // Queries past b_end read their neighbours' pairs (or the zero tail): scores nobody uses.
      // The first block of queries fetches the next tile; the others find it fetched.
      const bool first_block = qb == first_row * group;
      ScoresBF16(how, qp + qb, nq, kp, P, P - in_page, pairs, max_count, scale, s,
                 first_block ? next_keys : PrefetchRun{});
      float corr[kBF16QueryBlock];
      float* out[kBF16QueryBlock];
      for (size_t b = 0; b < b_end; ++b) {
        const size_t i = qb + b;
        corr[b] = Softmax(s[b], count[b], m[i], l[i]);
        out[b] = a.out + (i / group) * a.out_stride + (i % group) * hd;
      }
      // The tile's positions start at in_page − 2·first_pair (0 or 1) into its first value pair.
      AccumulateBF16(how, s, count, in_page - 2 * first_pair, pair_end - first_pair, corr, vp, hd, out, b_end,
                     first_block ? next_values : PrefetchRun{});
    }
    t0 += len;
  }
}

// FlashAttentionSpanImpl over int8 pages: the same key tiles and f32 online softmax, in blocks of twelve
// queries; the two dot-product loops are attention_int8.h's. Queries are quantized once, by the Span that
// starts at position 0, into the state after the running maxima and sums: [quads][nq] words (a block's queries
// side by side) and twelve words of zeros, then each query's bias and scale (each followed by twelve zeros).
void FlashAttentionSpanInt8Impl(const KvHeadPagesInt8& kv, size_t hd, size_t group, float scale,
                                const AttentionQueries& a, size_t t_begin, size_t t_end, float* HWY_RESTRICT state) {
  static_assert(kInt8TileKeys == kAttentionKvTile, "one tiling of keys for every type");
  const size_t nq = a.rows * group, quads = (hd + 3) / 4;
  float* m = state;
  float* l = state + nq;
  uint32_t* qw = reinterpret_cast<uint32_t*>(state + 2 * nq);
  int32_t* q_bias = reinterpret_cast<int32_t*>(qw + quads * nq + kInt8QueryBlock);
  float* q_scale = reinterpret_cast<float*>(q_bias + nq + kInt8QueryBlock);
  if (t_begin == 0) {
    int8_t* codes = reinterpret_cast<int8_t*>(q_scale + nq + kInt8QueryBlock);  // one query's, then spread out
    for (size_t i = 0; i < nq; ++i) {
      const float* q = a.q + (i / group) * a.q_stride + (i % group) * hd;
      const float qs = QuantizeInt8(q, hd, codes);
      std::fill(codes + hd, codes + quads * 4, int8_t{0});
      int32_t sum = 0;
      for (size_t e = 0; e < hd; ++e) sum += codes[e];
      for (size_t r = 0; r < quads; ++r) {
        uint32_t word;
        std::memcpy(&word, codes + 4 * r, 4);
        qw[r * nq + i] = word;
      }
      q_bias[i] = kInt8KeyBias * sum;
      q_scale[i] = qs * scale;
    }
    std::fill_n(qw + quads * nq, kInt8QueryBlock, 0u);
    std::fill_n(q_bias + nq, kInt8QueryBlock, 0);
    std::fill_n(q_scale + nq, kInt8QueryBlock, 0.0f);
  }
  const Int8Dot how = BestInt8Dot();
  const size_t P = kv.page_tokens, end = std::min(t_end, a.start + a.rows);
  const size_t k_scales = Int8KeyScalesOffset(hd, P), v_scales = Int8ValueScalesOffset(hd, P);
  alignas(64) float s[kInt8QueryBlock][kAttentionKvTile] = {};
  for (size_t t0 = t_begin; t0 < end;) {
    const size_t in_page = t0 % P;
    const size_t len = TileLength(t0, P, end);
    const uint32_t* kp = kv.k[t0 / P] + in_page;  // key columns [in_page, in_page + len) of quad rows r·P
    const float* ks = reinterpret_cast<const float*>(kv.k[t0 / P] + k_scales) + in_page;
    const size_t first_quad = in_page / 4, quad_end = (in_page + len + 3) / 4;
    const uint32_t* vp = kv.v[t0 / P] + first_quad * hd;
    const float* vs = reinterpret_cast<const float*>(kv.v[t0 / P] + v_scales) + 4 * first_quad;
    // The next tile (in the next Span's page, when this one ends the page), fetched while this one computes.
    PrefetchRun next_keys, next_values;
    NextPackedTile<4>(kv.k, kv.v, hd, P, t0 + len, a.start + a.rows, next_keys, next_values);
    const size_t first_row = t0 > a.start ? t0 - a.start : 0;
    for (size_t qb = first_row * group; qb < nq; qb += kInt8QueryBlock) {
      const size_t b_end = std::min(kInt8QueryBlock, nq - qb);
      size_t count[kInt8QueryBlock];
      const size_t max_count = BlockCounts<kInt8QueryBlock>(qb, b_end, group, len, a.start, t0, count);
      // Queries past b_end read their neighbours' words (or the zero tails): scores nobody uses.
      const bool first_block = qb == first_row * group;
      ScoresInt8(how, {qw + qb, nq, q_bias + qb, q_scale + qb}, kp, ks, P, P - in_page, quads, max_count, s,
                 first_block ? next_keys : PrefetchRun{});
      float corr[kInt8QueryBlock];
      float* out[kInt8QueryBlock];
      for (size_t b = 0; b < b_end; ++b) {
        const size_t i = qb + b;
        corr[b] = Softmax(s[b], count[b], m[i], l[i]);
        out[b] = a.out + (i / group) * a.out_stride + (i % group) * hd;
      }
      // The tile's positions start at in_page − 4·first_quad (0 to 3) into its first value quad.
      AccumulateInt8(how, s, count, in_page - 4 * first_quad, quad_end - first_quad, vs, corr, vp, hd, out, b_end,
                     first_block ? next_values : PrefetchRun{});
    }
    t0 += len;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace glmv::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace glmv::simd {
HWY_EXPORT(FlashAttentionSpanImpl);
HWY_EXPORT(FlashAttentionSpanBF16Impl);
HWY_EXPORT(FlashAttentionSpanInt8Impl);

void FlashAttentionBegin(size_t head_dim, size_t group, const AttentionQueries& a, float* state) {
  const size_t nq = a.rows * group;
  for (size_t i = 0; i < nq; ++i) {
    state[i] = -std::numeric_limits<float>::infinity();
    state[nq + i] = 0.0f;
    std::fill_n(a.out + (i / group) * a.out_stride + (i % group) * head_dim, head_dim, 0.0f);
  }
}

void FlashAttentionSpan(const KvHeadPages& kv, size_t head_dim, size_t group, float scale,
                        const AttentionQueries& queries, size_t t_begin, size_t t_end, float* state) {
  HWY_DYNAMIC_DISPATCH(FlashAttentionSpanImpl)(kv, head_dim, group, scale, queries, t_begin, t_end, state);
}

void FlashAttentionSpan(const KvHeadPagesBF16& kv, size_t head_dim, size_t group, float scale,
                        const AttentionQueries& queries, size_t t_begin, size_t t_end, float* state) {
  HWY_DYNAMIC_DISPATCH(FlashAttentionSpanBF16Impl)(kv, head_dim, group, scale, queries, t_begin, t_end, state);
}

void FlashAttentionSpan(const KvHeadPagesInt8& kv, size_t head_dim, size_t group, float scale,
                        const AttentionQueries& queries, size_t t_begin, size_t t_end, float* state) {
  HWY_DYNAMIC_DISPATCH(FlashAttentionSpanInt8Impl)(kv, head_dim, group, scale, queries, t_begin, t_end, state);
}

void FlashAttentionEnd(size_t head_dim, size_t group, const AttentionQueries& a, const float* state) {
  const size_t nq = a.rows * group;
  for (size_t i = 0; i < nq; ++i) {
    float* o = a.out + (i / group) * a.out_stride + (i % group) * head_dim;
    const float inv = 1.0f / state[nq + i];
    for (size_t e = 0; e < head_dim; ++e) o[e] *= inv;
  }
}

void FlashAttention(const KvHeadPages& kv, size_t head_dim, size_t group, float scale,
                    const AttentionQueries& queries, float* state) {
  FlashAttentionBegin(head_dim, group, queries, state);
  FlashAttentionSpan(kv, head_dim, group, scale, queries, 0, queries.start + queries.rows, state);
  FlashAttentionEnd(head_dim, group, queries, state);
}

void FlashAttention(const KvHeadPagesBF16& kv, size_t head_dim, size_t group, float scale,
                    const AttentionQueries& queries, float* state) {
  FlashAttentionBegin(head_dim, group, queries, state);
  FlashAttentionSpan(kv, head_dim, group, scale, queries, 0, queries.start + queries.rows, state);
  FlashAttentionEnd(head_dim, group, queries, state);
}

void FlashAttention(const KvHeadPagesInt8& kv, size_t head_dim, size_t group, float scale,
                    const AttentionQueries& queries, float* state) {
  FlashAttentionBegin(head_dim, group, queries, state);
  FlashAttentionSpan(kv, head_dim, group, scale, queries, 0, queries.start + queries.rows, state);
  FlashAttentionEnd(head_dim, group, queries, state);
}
}  // namespace glmv::simd
#endif  // HWY_ONCE
