// Flash-style causal attention over paged f32 keys and values (Highway, runtime dispatch). See attention.h
// for the contract; this file is the per-target kernel.
#include "simd/attention.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace glmv::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Query vectors handled together: one key row load feeds this many dot products.
constexpr size_t kQueryBlock = 4;

// s[b][j] = scale · q[b]·k[j] for j in [0, count), four queries at once (missing ones repeat the last: their
// scores are computed and ignored). Each query has its own accumulator, summed over head_dim in the same order
// whatever the other three are, so a score never depends on which queries share the block.
void Scores4(const float* const q[kQueryBlock], const float* HWY_RESTRICT k, size_t hd, size_t count,
             float scale, float s[kQueryBlock][kAttentionKvTile]) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  for (size_t j = 0; j < count; ++j, k += hd) {
    auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
    size_t e = 0;
    for (; e + N <= hd; e += N) {
      const auto kv = hn::LoadU(d, k + e);
      a0 = hn::MulAdd(hn::LoadU(d, q[0] + e), kv, a0);
      a1 = hn::MulAdd(hn::LoadU(d, q[1] + e), kv, a1);
      a2 = hn::MulAdd(hn::LoadU(d, q[2] + e), kv, a2);
      a3 = hn::MulAdd(hn::LoadU(d, q[3] + e), kv, a3);
    }
    float r0 = hn::GetLane(hn::SumOfLanes(d, a0)), r1 = hn::GetLane(hn::SumOfLanes(d, a1));
    float r2 = hn::GetLane(hn::SumOfLanes(d, a2)), r3 = hn::GetLane(hn::SumOfLanes(d, a3));
    for (; e < hd; ++e) {
      r0 += q[0][e] * k[e];
      r1 += q[1][e] * k[e];
      r2 += q[2][e] * k[e];
      r3 += q[3][e] * k[e];
    }
    s[0][j] = r0 * scale;
    s[1][j] = r1 * scale;
    s[2][j] = r2 * scale;
    s[3][j] = r3 * scale;
  }
}

// One query's online-softmax step over `count` ≥ 1 scores of a tile: s becomes the tile's weights
// exp(s − m_new), the running max m and sum l move on, and the factor that rescales its running output is
// returned.
float Softmax(float* HWY_RESTRICT s, size_t count, float& m, float& l) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  float m_tile = s[0];
  for (size_t j = 1; j < count; ++j) m_tile = std::max(m_tile, s[j]);
  const float m_new = std::max(m, m_tile);
  const float corr = std::exp(m - m_new);  // 0 on the first tile (m = −inf)
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
// order; Accumulate4 below runs the very same chain for four queries at once.
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

// Accumulate for four queries that see the same `count` positions: each value row is loaded once for all
// four (the decode case, and every prefill tile off the diagonal). Same per-query arithmetic as Accumulate.
void Accumulate4(const float p[kQueryBlock][kAttentionKvTile], size_t count, const float corr[kQueryBlock],
                 const float* HWY_RESTRICT v, size_t hd, float* const out[kQueryBlock]) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto c0 = hn::Set(d, corr[0]), c1 = hn::Set(d, corr[1]), c2 = hn::Set(d, corr[2]), c3 = hn::Set(d, corr[3]);
  size_t e = 0;
  for (; e + N <= hd; e += N) {
    auto a0 = hn::Mul(hn::LoadU(d, out[0] + e), c0), a1 = hn::Mul(hn::LoadU(d, out[1] + e), c1);
    auto a2 = hn::Mul(hn::LoadU(d, out[2] + e), c2), a3 = hn::Mul(hn::LoadU(d, out[3] + e), c3);
    for (size_t j = 0; j < count; ++j) {
      const auto x = hn::LoadU(d, v + j * hd + e);
      a0 = hn::MulAdd(hn::Set(d, p[0][j]), x, a0);
      a1 = hn::MulAdd(hn::Set(d, p[1][j]), x, a1);
      a2 = hn::MulAdd(hn::Set(d, p[2][j]), x, a2);
      a3 = hn::MulAdd(hn::Set(d, p[3][j]), x, a3);
    }
    hn::StoreU(a0, d, out[0] + e);
    hn::StoreU(a1, d, out[1] + e);
    hn::StoreU(a2, d, out[2] + e);
    hn::StoreU(a3, d, out[3] + e);
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

void PrefetchRun(const float* p, size_t floats) {
  for (size_t o = 0; o < floats; o += 64 / sizeof(float)) hwy::Prefetch(p + o);
}

void FlashAttentionImpl(const KvHeadPages& kv, size_t hd, size_t group, float scale, const AttentionQueries& a,
                        float* HWY_RESTRICT state) {
  static_assert(kAttentionKvTile % 16 == 0, "whole vectors of every x86 target");
  const size_t nq = a.rows * group;  // queries row-major: query i is row i / group, head i % group
  float* m = state;
  float* l = state + nq;
  for (size_t i = 0; i < nq; ++i) {
    m[i] = -std::numeric_limits<float>::infinity();
    l[i] = 0.0f;
    std::fill_n(a.out + (i / group) * a.out_stride + (i % group) * hd, hd, 0.0f);
  }
  const size_t P = kv.page_tokens, end = a.start + a.rows;
  alignas(64) float s[kQueryBlock][kAttentionKvTile] = {};
  for (size_t t0 = 0; t0 < end;) {
    const size_t in_page = t0 % P;
    const size_t len = TileLength(t0, P, end);
    const float* k = kv.k[t0 / P] + in_page * hd;
    const float* v = kv.v[t0 / P] + in_page * hd;
    // Ask for the next tile now: tiles are short runs (a page per kv-head, pages apart), too short for the
    // hardware prefetcher to get ahead of decode's one pass over the keys and values.
    if (t0 + len < end) {
      const size_t next = t0 + len, next_len = TileLength(next, P, end);
      PrefetchRun(kv.k[next / P] + (next % P) * hd, next_len * hd);
      PrefetchRun(kv.v[next / P] + (next % P) * hd, next_len * hd);
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
      Scores4(q, k, hd, max_count, scale, s);
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
        Accumulate4(s, count[0], corr, v, hd, out);
      } else {
        for (size_t b = 0; b < b_end; ++b) Accumulate(s[b], count[b], corr[b], v, hd, out[b]);
      }
    }
    t0 += len;
  }
  for (size_t i = 0; i < nq; ++i) {
    float* o = a.out + (i / group) * a.out_stride + (i % group) * hd;
    const float inv = 1.0f / l[i];
    for (size_t e = 0; e < hd; ++e) o[e] *= inv;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace glmv::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace glmv::simd {
HWY_EXPORT(FlashAttentionImpl);

void FlashAttention(const KvHeadPages& kv, size_t head_dim, size_t group, float scale,
                    const AttentionQueries& queries, float* state) {
  HWY_DYNAMIC_DISPATCH(FlashAttentionImpl)(kv, head_dim, group, scale, queries, state);
}
}  // namespace glmv::simd
#endif  // HWY_ONCE
