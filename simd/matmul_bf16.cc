// bf16 weight × f32 activation products (Highway, runtime dispatch), and their scalar twin. Contract in
// simd/kernels_bf16.h.
//
// A bf16 value is the upper half of an f32, so widening is exact (PromoteTo: a zero-extend and a shift);
// the products then run as f32 FMAs. Decode (one token) is bound by memory bandwidth, not by the widening:
// per 64 bytes of weights a core does two widening loads and two FMAs, far below what it can issue while
// waiting for the bytes. AVX512_BF16's dot product (vdpbf16ps) is not used because it would round the
// activations to bf16 as well.
//
// Work is cut into blocks of kRows rows × kTokens tokens whose kRows·kTokens accumulators stay in registers:
// each weight vector is loaded once per token block and each activation vector once per row block.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "simd/kernels_bf16.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/matmul_bf16.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace glmv::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

HWY_INLINE float Bf16ToF32(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Lanes(DF) bf16 weights at p, widened to f32.
HWY_INLINE VF LoadBf16(const uint16_t* HWY_RESTRICT p) {
  const DF df;
  const hn::Rebind<hwy::bfloat16_t, DF> dbf;
  return hn::PromoteTo(df, hn::LoadU(dbf, reinterpret_cast<const hwy::bfloat16_t*>(p)));
}

// Decode (one token) is bound by memory bandwidth: kDecodeRows rows are read at once (as many weight
// streams), each prefetching kPrefetchBytes ahead of what it reads. Measured on 2 Zen 5 cores
// (benchmarks/bench_quant): from 65–85 % of the read bandwidth with 4 streams and no prefetch to ≥ 95 %
// with 8 × 1 KB; 4 × 2 KB was close except on the 1408-wide rows.
constexpr size_t kDecodeRows = 8;
constexpr size_t kPrefetchBytes = 1024;

// Rows [r, r + kRows) × tokens [t, t + kTokens): out[i * kTokens + j] = Σ_k w[r+i, k] · x[t+j, k].
// Each row is a stream that prefetches pf_dist bytes ahead of what it reads, one line per 32 inputs
// (none when pf_dist is 0, nor at or past pf_end); past its row's end that is row i + kRows, which the
// same stream reads next.
template <size_t kRows, size_t kTokens>
HWY_INLINE void Block(const uint16_t* HWY_RESTRICT w, size_t in, const float* HWY_RESTRICT x, size_t x_stride,
                      size_t pf_dist, const uint8_t* pf_end, float* HWY_RESTRICT out) {
  const DF df;
  const size_t N = hn::Lanes(df);
  const size_t row_bytes = in * sizeof(uint16_t);
  VF acc[kRows][kTokens];
  for (size_t i = 0; i < kRows; ++i) {
    for (size_t j = 0; j < kTokens; ++j) acc[i][j] = hn::Zero(df);
  }
  size_t k = 0;
  for (; k + N <= in; k += N) {
    if (pf_dist && k % 32 == 0) {
      size_t off = k * sizeof(uint16_t) + pf_dist;
      if (off >= row_bytes) off += (kRows - 1) * row_bytes;
      for (size_t i = 0; i < kRows; ++i) {
        const uint8_t* p = reinterpret_cast<const uint8_t*>(w + i * in) + off;
        if (p < pf_end) hwy::Prefetch(p);
      }
    }
    VF xv[kTokens];
    for (size_t j = 0; j < kTokens; ++j) xv[j] = hn::LoadU(df, x + j * x_stride + k);
    for (size_t i = 0; i < kRows; ++i) {
      const VF wv = LoadBf16(w + i * in + k);
      for (size_t j = 0; j < kTokens; ++j) acc[i][j] = hn::MulAdd(wv, xv[j], acc[i][j]);
    }
  }
  for (size_t i = 0; i < kRows; ++i) {
    for (size_t j = 0; j < kTokens; ++j) {
      float s = hn::GetLane(hn::SumOfLanes(df, acc[i][j]));
      for (size_t kk = k; kk < in; ++kk) s += Bf16ToF32(w[i * in + kk]) * x[j * x_stride + kk];
      out[i * kTokens + j] = s;
    }
  }
}

// Rows [r, r + kRows) against all n tokens: full blocks of kTokens, then the 1–3 left over. Only the first
// token block prefetches: later ones find the rows in cache.
template <size_t kRows>
HWY_INLINE void RowBlock(const uint16_t* HWY_RESTRICT w, size_t in, const float* HWY_RESTRICT bias, size_t r,
                         const float* HWY_RESTRICT x, size_t n, size_t x_stride, const uint8_t* pf_end,
                         float* HWY_RESTRICT y, size_t y_stride) {
  constexpr size_t kTokens = 4;
  float out[kRows * kTokens];
  const uint16_t* wr = w + r * in;
  constexpr size_t pf = kPrefetchBytes;
  auto store = [&](size_t t, size_t nt) {
    for (size_t i = 0; i < kRows; ++i) {
      const float b = bias ? bias[r + i] : 0.0f;
      for (size_t j = 0; j < nt; ++j) y[(t + j) * y_stride + r + i] = out[i * nt + j] + b;
    }
  };
  size_t t = 0;
  for (; t + kTokens <= n; t += kTokens) {
    Block<kRows, kTokens>(wr, in, x + t * x_stride, x_stride, t == 0 ? pf : 0, pf_end, out);
    store(t, kTokens);
  }
  const size_t pf_rest = t == 0 ? pf : 0;
  switch (n - t) {
    case 3: Block<kRows, 3>(wr, in, x + t * x_stride, x_stride, pf_rest, pf_end, out); store(t, 3); break;
    case 2: Block<kRows, 2>(wr, in, x + t * x_stride, x_stride, pf_rest, pf_end, out); store(t, 2); break;
    case 1: Block<kRows, 1>(wr, in, x + t * x_stride, x_stride, pf_rest, pf_end, out); store(t, 1); break;
    default: break;
  }
}

void MatMulBF16Impl(const uint16_t* HWY_RESTRICT w, size_t in, const float* HWY_RESTRICT bias, size_t row_begin,
                    size_t row_end, const float* HWY_RESTRICT x, size_t n, size_t x_stride, float* HWY_RESTRICT y,
                    size_t y_stride) {
  const uint8_t* pf_end = reinterpret_cast<const uint8_t*>(w + row_end * in);
  size_t r = row_begin;
  if (n == 1) {
    for (; r + kDecodeRows <= row_end; r += kDecodeRows) {
      RowBlock<kDecodeRows>(w, in, bias, r, x, n, x_stride, pf_end, y, y_stride);
    }
  }
  // Four rows × four tokens: 16 accumulators; each weight vector serves four tokens, each activation
  // vector four rows.
  for (; r + 4 <= row_end; r += 4) RowBlock<4>(w, in, bias, r, x, n, x_stride, pf_end, y, y_stride);
  for (; r < row_end; ++r) RowBlock<1>(w, in, bias, r, x, n, x_stride, pf_end, y, y_stride);
}

}  // namespace HWY_NAMESPACE
}  // namespace glmv::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace glmv::simd {
HWY_EXPORT(MatMulBF16Impl);

void MatMulBF16(const uint16_t* w, size_t in, const float* bias, size_t row_begin, size_t row_end, const float* x,
                size_t n, size_t x_stride, float* y, size_t y_stride) {
  HWY_DYNAMIC_DISPATCH(MatMulBF16Impl)(w, in, bias, row_begin, row_end, x, n, x_stride, y, y_stride);
}

namespace scalar {
void MatMulBF16(const uint16_t* w, size_t in, const float* bias, size_t row_begin, size_t row_end, const float* x,
                size_t n, size_t x_stride, float* y, size_t y_stride) {
  for (size_t t = 0; t < n; ++t) {
    for (size_t r = row_begin; r < row_end; ++r) {
      double acc = bias ? bias[r] : 0.0;
      for (size_t k = 0; k < in; ++k) {
        const uint32_t bits = static_cast<uint32_t>(w[r * in + k]) << 16;
        float wf;
        std::memcpy(&wf, &bits, 4);
        acc += static_cast<double>(wf) * x[t * x_stride + k];
      }
      y[t * y_stride + r] = static_cast<float>(acc);
    }
  }
}
}  // namespace scalar

}  // namespace glmv::simd
#endif  // HWY_ONCE
