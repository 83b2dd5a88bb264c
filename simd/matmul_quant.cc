// Packed int4/int8 weight × int8-quantized activation products (Highway, runtime dispatch). The layout is
// simd/quant_layout.h; the arithmetic is described in simd/kernels_quant.h.
//
// One tile (16 rows) is processed at a time: for every group, the integer dot products of the 16 rows
// with up to kTokenBlock tokens accumulate in i32 lanes (lane r = row r), then are scaled into f32
// accumulators. On AVX3_DL the four-way u8×i8 dot is one vpdpbusd (VNNI); Highway 1.0.3 has no such op, so
// other targets emulate it exactly with shifts and 32-bit multiplies.
#include <cstddef>
#include <cstdint>

#include "simd/kernels_quant.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/matmul_quant.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
// Highway 1.0.3's AVX3_DL attribute string names "avxvnni" (the VEX form) instead of "avx512vnni", so the
// 512-bit VNNI intrinsic would not compile there; add it for this target only. The runtime only picks
// AVX3_DL on CPUs with AVX-512 VNNI.
#if HWY_TARGET == HWY_AVX3_DL
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512vnni"))), apply_to = function)
#else
#pragma GCC target("avx512vnni")
#endif
#endif
namespace glmv::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DI = hn::ScalableTag<int32_t>;
using DF = hn::Rebind<float, DI>;
using VI = hn::Vec<DI>;
using VF = hn::Vec<DF>;

// Tokens handled per pass over a tile: their accumulators stay in registers while the tile's codes are
// loaded once.
constexpr size_t kTokenBlock = 4;

// acc[lane] += Σ_{j<4} byte_j(w[lane]) (unsigned) · byte_j(a4) (signed), exactly.
HWY_INLINE VI Dot4(VI acc, VI w, int32_t a4) {
#if HWY_TARGET == HWY_AVX3_DL
  return VI{_mm512_dpbusd_epi32(acc.raw, w.raw, _mm512_set1_epi32(a4))};
#else
  const DI di;
  const auto mask = hn::Set(di, 0xFF);
  const int32_t a0 = static_cast<int8_t>(a4 & 0xFF), a1 = static_cast<int8_t>((a4 >> 8) & 0xFF);
  const int32_t a2 = static_cast<int8_t>((a4 >> 16) & 0xFF), a3 = static_cast<int8_t>((a4 >> 24) & 0xFF);
  acc = hn::Add(acc, hn::Mul(hn::And(w, mask), hn::Set(di, a0)));
  acc = hn::Add(acc, hn::Mul(hn::And(hn::ShiftRight<8>(w), mask), hn::Set(di, a1)));
  acc = hn::Add(acc, hn::Mul(hn::And(hn::ShiftRight<16>(w), mask), hn::Set(di, a2)));
  // Logical shift: the top byte is unsigned.
  const hn::RebindToUnsigned<DI> du;
  acc = hn::Add(acc, hn::Mul(hn::BitCast(di, hn::ShiftRight<24>(hn::BitCast(du, w))), hn::Set(di, a3)));
  return acc;
#endif
}

HWY_INLINE int32_t Load4(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

// The 16-bit scales of `lanes` rows starting at lane_begin, as f32.
HWY_INLINE VF LoadScales(const uint16_t* scales) {
  const DF df;
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(scales)));
}

// The Q4NL grid as unsigned bytes (value + 128, zero point 128).
alignas(16) constexpr uint8_t kNlBytes[16] = {
    static_cast<uint8_t>(kQ4NlValues[0] + 128),  static_cast<uint8_t>(kQ4NlValues[1] + 128),
    static_cast<uint8_t>(kQ4NlValues[2] + 128),  static_cast<uint8_t>(kQ4NlValues[3] + 128),
    static_cast<uint8_t>(kQ4NlValues[4] + 128),  static_cast<uint8_t>(kQ4NlValues[5] + 128),
    static_cast<uint8_t>(kQ4NlValues[6] + 128),  static_cast<uint8_t>(kQ4NlValues[7] + 128),
    static_cast<uint8_t>(kQ4NlValues[8] + 128),  static_cast<uint8_t>(kQ4NlValues[9] + 128),
    static_cast<uint8_t>(kQ4NlValues[10] + 128), static_cast<uint8_t>(kQ4NlValues[11] + 128),
    static_cast<uint8_t>(kQ4NlValues[12] + 128), static_cast<uint8_t>(kQ4NlValues[13] + 128),
    static_cast<uint8_t>(kQ4NlValues[14] + 128), static_cast<uint8_t>(kQ4NlValues[15] + 128)};

// Bytes holding 4-bit codes → their grid bytes: one byte shuffle within each 16-byte block (vpshufb) with
// the table repeated per block; byte by byte on the one-lane scalar target.
HWY_INLINE VI NlLookup(VI codes) {
#if HWY_TARGET == HWY_SCALAR
  const uint32_t c = static_cast<uint32_t>(hn::GetLane(codes));
  uint32_t v = 0;
  for (int j = 0; j < 4; ++j) v |= static_cast<uint32_t>(kNlBytes[(c >> (8 * j)) & 15]) << (8 * j);
  return hn::Set(DI(), static_cast<int32_t>(v));
#else
  const hn::Repartition<uint8_t, DI> du8;
  return hn::BitCast(DI(), hn::TableLookupBytes(hn::LoadDup128(du8, kNlBytes), hn::BitCast(du8, codes)));
#endif
}

// Rows [lane_begin, lane_begin + Lanes) of one tile against tokens [t0, t0 + nt), nt ≤ kTokenBlock;
// out[t · 16 + r] receives the un-biased results.
template <QuantKind K>
HWY_INLINE void TileLanes(const uint8_t* HWY_RESTRICT tile, size_t cols, size_t lane_begin, const QuantizedActs& a,
                          size_t t0, size_t nt, float* HWY_RESTRICT out) {
  const DI di;
  const DF df;
  const size_t G = QuantGroups(cols);
  const size_t act_stride = G * kQuantGroup;
  const uint8_t* codes = tile + 4 * lane_begin;
  const uint16_t* scales = reinterpret_cast<const uint16_t*>(tile + QuantTileScalesOffset(K, cols)) + lane_begin;
  constexpr int32_t kZero = QuantZeroPoint(K);
  VF accf[kTokenBlock];
  for (size_t t = 0; t < kTokenBlock; ++t) accf[t] = hn::Zero(df);
  for (size_t g = 0; g < G; ++g) {
    const uint8_t* gc = codes + g * GroupCodeBytes(K);
    VI acc0[kTokenBlock], acc1[kTokenBlock];
    for (size_t t = 0; t < kTokenBlock; ++t) acc0[t] = acc1[t] = hn::Zero(di);
    if constexpr (K == QuantKind::kQ8) {
      for (size_t c = 0; c < 8; c += 2) {
        const VI w0 = hn::LoadU(di, reinterpret_cast<const int32_t*>(gc + c * 64));
        const VI w1 = hn::LoadU(di, reinterpret_cast<const int32_t*>(gc + (c + 1) * 64));
        for (size_t t = 0; t < nt; ++t) {
          const int8_t* q = a.q + (t0 + t) * act_stride + g * kQuantGroup;
          acc0[t] = Dot4(acc0[t], w0, Load4(q + 4 * c));
          acc1[t] = Dot4(acc1[t], w1, Load4(q + 4 * c + 4));
        }
      }
    } else {
      const VI low = hn::Set(di, 0x0F0F0F0F);
      for (size_t c = 0; c < 4; ++c) {
        const VI w = hn::LoadU(di, reinterpret_cast<const int32_t*>(gc + c * 64));
        VI lo = hn::And(w, low);
        VI hi = hn::And(hn::ShiftRight<4>(w), low);
        if constexpr (K == QuantKind::kQ4NL) {  // codes → grid bytes (value + 128): one vpshufb each
          lo = NlLookup(lo);
          hi = NlLookup(hi);
        }
        for (size_t t = 0; t < nt; ++t) {
          const int8_t* q = a.q + (t0 + t) * act_stride + g * kQuantGroup;
          acc0[t] = Dot4(acc0[t], lo, Load4(q + 8 * c));
          acc1[t] = Dot4(acc1[t], hi, Load4(q + 8 * c + 4));
        }
      }
    }
    const VF ws = LoadScales(scales + g * kQuantTileRows);
    for (size_t t = 0; t < nt; ++t) {
      const size_t ag = (t0 + t) * G + g;
      const VI dot = hn::Sub(hn::Add(acc0[t], acc1[t]), hn::Set(di, kZero * a.sum[ag]));
      accf[t] = hn::MulAdd(hn::ConvertTo(df, dot), hn::Mul(ws, hn::Set(df, a.scale[ag])), accf[t]);
    }
  }
  for (size_t t = 0; t < nt; ++t) hn::StoreU(accf[t], df, out + t * kQuantTileRows + lane_begin);
}

template <QuantKind K>
void MatMulQuantT(const uint8_t* w, size_t rows, size_t cols, size_t tile_begin, size_t tile_end,
                  const QuantizedActs& a, size_t n, const float* bias, float* y, size_t y_stride) {
  const DI di;
  const size_t N = hn::Lanes(di);
  const size_t tile_bytes = QuantTileBytes(K, cols);
  HWY_ALIGN float out[kTokenBlock * kQuantTileRows];
  for (size_t tile = tile_begin; tile < tile_end; ++tile) {
    const uint8_t* tp = w + tile * tile_bytes;
    const size_t r0 = tile * kQuantTileRows;
    const size_t valid = rows - r0 < kQuantTileRows ? rows - r0 : kQuantTileRows;
    for (size_t t0 = 0; t0 < n; t0 += kTokenBlock) {
      const size_t nt = n - t0 < kTokenBlock ? n - t0 : kTokenBlock;
      for (size_t lane = 0; lane < kQuantTileRows; lane += N) TileLanes<K>(tp, cols, lane, a, t0, nt, out);
      for (size_t t = 0; t < nt; ++t) {
        float* yr = y + (t0 + t) * y_stride + r0;
        for (size_t r = 0; r < valid; ++r) yr[r] = out[t * kQuantTileRows + r] + (bias ? bias[r0 + r] : 0.0f);
      }
    }
  }
}

void MatMulQuantImpl(QuantKind kind, const uint8_t* w, size_t rows, size_t cols, size_t tile_begin, size_t tile_end,
                     const QuantizedActs& a, size_t n, const float* bias, float* y, size_t y_stride) {
  if (kind == QuantKind::kQ4) {
    MatMulQuantT<QuantKind::kQ4>(w, rows, cols, tile_begin, tile_end, a, n, bias, y, y_stride);
  } else if (kind == QuantKind::kQ4NL) {
    MatMulQuantT<QuantKind::kQ4NL>(w, rows, cols, tile_begin, tile_end, a, n, bias, y, y_stride);
  } else {
    MatMulQuantT<QuantKind::kQ8>(w, rows, cols, tile_begin, tile_end, a, n, bias, y, y_stride);
  }
}

// Per group: max |x| by SIMD, then q = round(x · (127 / max)) with the same f32 operations as the scalar
// twin (the inverse is computed once in scalar code), so both give identical codes.
void QuantizeActsImpl(const float* x, size_t n, size_t cols, size_t x_stride, int8_t* q, float* scale,
                      int32_t* sum) {
  const hn::ScalableTag<float> d;
  const hn::Rebind<int32_t, decltype(d)> di;
  const size_t N = hn::Lanes(d);
  const size_t G = QuantGroups(cols);
  HWY_ALIGN float buf[kQuantGroup];
  HWY_ALIGN int32_t qi[kQuantGroup];
  for (size_t t = 0; t < n; ++t) {
    const float* xr = x + t * x_stride;
    for (size_t g = 0; g < G; ++g) {
      const size_t begin = g * kQuantGroup;
      const size_t len = cols - begin < kQuantGroup ? cols - begin : kQuantGroup;
      for (size_t i = 0; i < kQuantGroup; ++i) buf[i] = i < len ? xr[begin + i] : 0.0f;
      auto vmax = hn::Zero(d);
      for (size_t i = 0; i < kQuantGroup; i += N) vmax = hn::Max(vmax, hn::Abs(hn::Load(d, buf + i)));
      const float amax = hn::GetLane(hn::MaxOfLanes(d, vmax));
      int8_t* qg = q + t * G * kQuantGroup + begin;
      const size_t ag = t * G + g;
      if (amax == 0.0f) {
        for (size_t i = 0; i < kQuantGroup; ++i) qg[i] = 0;
        scale[ag] = 0.0f;
        sum[ag] = 0;
        continue;
      }
      const float inv = 127.0f / amax;
      auto vsum = hn::Zero(di);
      for (size_t i = 0; i < kQuantGroup; i += N) {
        const auto r = hn::NearestInt(hn::Mul(hn::Load(d, buf + i), hn::Set(d, inv)));
        hn::Store(r, di, qi + i);
        vsum = hn::Add(vsum, r);
      }
      for (size_t i = 0; i < kQuantGroup; ++i) qg[i] = static_cast<int8_t>(qi[i]);
      scale[ag] = amax / 127.0f;
      sum[ag] = hn::GetLane(hn::SumOfLanes(di, vsum));
    }
  }
}

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace glmv::simd
#if HWY_TARGET == HWY_AVX3_DL && defined(__clang__)
#pragma clang attribute pop
#endif
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace glmv::simd {
HWY_EXPORT(MatMulQuantImpl);
HWY_EXPORT(QuantizeActsImpl);
HWY_EXPORT(TargetNameImpl);

void MatMulQuant(QuantKind kind, const uint8_t* w, size_t rows, size_t cols, size_t tile_begin, size_t tile_end,
                 const QuantizedActs& acts, size_t n, const float* bias, float* y, size_t y_stride) {
  HWY_DYNAMIC_DISPATCH(MatMulQuantImpl)(kind, w, rows, cols, tile_begin, tile_end, acts, n, bias, y, y_stride);
}

void QuantizeActs(const float* x, size_t n, size_t cols, size_t x_stride, int8_t* q, float* scale, int32_t* sum) {
  HWY_DYNAMIC_DISPATCH(QuantizeActsImpl)(x, n, cols, x_stride, q, scale, sum);
}

const char* QuantTargetName() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

}  // namespace glmv::simd
#endif  // HWY_ONCE
