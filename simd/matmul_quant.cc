// Packed int4/int8 weight × int8-quantized activation products (Highway, runtime dispatch). The layout is
// simd/quant_layout.h; the arithmetic is described in simd/kernels_quant.h.
//
// Tiles (16 rows) are processed one at a time, or kDecodeTiles at a time for one token: for every group,
// the integer dot products of the 16 rows with up to kTokenBlock tokens accumulate in i32 lanes (lane r =
// row r), then are scaled into f32 accumulators. On AVX3_DL the four-way u8×i8 dot is one vpdpbusd (VNNI);
// Highway 1.0.3 has no such op, so other targets emulate it exactly with shifts and 32-bit multiplies.
#include <cstddef>
#include <cstdint>

#include "simd/kernels_quant.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/matmul_quant.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
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
// loaded once. AVX-512 has 32 vector registers, room for 8 tokens' integer and f32 accumulators.
constexpr size_t kTokenBlock = HWY_TARGET <= HWY_AVX3 ? 8 : 4;

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

// Decode (one token) is bound by memory bandwidth. Two measures bring it from ~60 % to ≥ 90 % of the read
// bandwidth on 2 Zen 5 cores (benchmarks/bench_quant): kDecodeTiles tiles are read at once, i.e. as many
// independent weight streams per core, and each stream prefetches kPrefetchBytes ahead of what it reads
// (the hardware prefetchers alone leave the core waiting on DRAM at every tile). Measured on expert and
// attention shapes: 4 streams × 2 KB beat 1, 2 and 8 streams and distances of 1–16 KB. AVX2 has 16
// registers, half the accumulators.
constexpr size_t kDecodeTiles = HWY_TARGET <= HWY_AVX3 ? 4 : 2;
// Two to four tokens stream two tiles at a time on AVX-512 (twice the accumulators of decode per tile).
constexpr size_t kSmallBatchTiles = HWY_TARGET <= HWY_AVX3 ? 2 : 1;
// Two tokens — one decode token under int8x2 activations, the default — stream four tiles at a time on
// AVX-512, as one token does: its 16 integer and 8 float accumulators still fit the 32 registers, and
// bench_moe measured the experts of a decode step 1.01–1.03× faster than with two tiles (alternating the
// two in one run).
constexpr size_t kPairTiles = HWY_TARGET <= HWY_AVX3 ? 4 : 1;
constexpr size_t kPrefetchBytes = 2048;

// Rows [lane_begin, lane_begin + Lanes) of kTiles consecutive tiles against tokens [t0, t0 + kT): each
// tile's codes are loaded (and Q4 unpacked) once per group for all kT tokens, whose accumulators stay in
// registers; kTiles > 1 reads several weight streams at once. The zero point term −zp·Σq starts each
// group's integer accumulator. out[(j · kT + t) · 16 + r] receives tile j's un-biased results.
// Each tile's stream prefetches pf_dist bytes ahead of the bytes it reads (none when pf_dist is 0, nor at
// or past pf_end); past its tile's end that is tile j + kTiles, which the same stream reads next.
template <QuantKind K, size_t kT, size_t kTiles>
HWY_INLINE void TileLanes(const uint8_t* HWY_RESTRICT tile, size_t G, size_t lane_begin, const QuantizedActs& a,
                          size_t t0, size_t pf_dist, const uint8_t* pf_end, size_t tile_bytes,
                          float* HWY_RESTRICT out) {
  const DI di;
  const DF df;
  const size_t act_stride = G * kQuantGroup;
  const size_t scales_offset = G * GroupCodeBytes(K);
  // Bytes of the stream consumed per group (the tile's share; computed once: a division per group costs
  // more than the group's dot products).
  const size_t pf_step = tile_bytes / G;
  constexpr int32_t kZero = QuantZeroPoint(K);
  const int8_t* q[kT];
  const float* as[kT];
  const int32_t* su[kT];
  for (size_t t = 0; t < kT; ++t) {
    q[t] = a.q + (t0 + t) * act_stride;
    as[t] = a.scale + (t0 + t) * G;
    su[t] = a.sum + (t0 + t) * G;
  }
  VF accf[kTiles][kT];
  for (size_t j = 0; j < kTiles; ++j) {
    for (size_t t = 0; t < kT; ++t) accf[j][t] = hn::Zero(df);
  }
  for (size_t g = 0; g < G; ++g) {
    if (pf_dist) {
      size_t off = g * pf_step + pf_dist;
      if (off >= tile_bytes) off += (kTiles - 1) * tile_bytes;
      for (size_t j = 0; j < kTiles; ++j) {
        const uint8_t* p = tile + j * tile_bytes + off;
        const uint8_t* e = p + pf_step;
        if (e > pf_end) e = pf_end;
        for (; p < e; p += 64) hwy::Prefetch(p);
      }
    }
    // Each group is a chain of dependent dot products per (tile, token); with fewer than four such chains
    // the chain is split in two so the dot product's latency does not bound the loop.
    constexpr bool kSplit = kT * kTiles < 4;
    // Q4: low and high nibbles accumulate apart (|acc1| ≤ 16 · 240 · 127, far from overflow).
    constexpr bool kHigh16 = K == QuantKind::kQ4;
    VI acc0[kTiles][kT], acc1[kTiles][kT];
    for (size_t t = 0; t < kT; ++t) {
      const VI init = hn::Set(di, -kZero * su[t][g]);
      for (size_t j = 0; j < kTiles; ++j) acc0[j][t] = init, acc1[j][t] = hn::Zero(di);
    }
    VI(&acc_b)[kTiles][kT] = kSplit ? acc1 : acc0;
    for (size_t j = 0; j < kTiles; ++j) {
      const uint8_t* gc = tile + j * tile_bytes + 4 * lane_begin + g * GroupCodeBytes(K);
      if constexpr (K == QuantKind::kQ8) {
        for (size_t c = 0; c < 8; c += 2) {
          const VI w0 = hn::LoadU(di, reinterpret_cast<const int32_t*>(gc + c * 64));
          const VI w1 = hn::LoadU(di, reinterpret_cast<const int32_t*>(gc + (c + 1) * 64));
          for (size_t t = 0; t < kT; ++t) {
            acc0[j][t] = Dot4(acc0[j][t], w0, Load4(q[t] + g * kQuantGroup + 4 * c));
            acc_b[j][t] = Dot4(acc_b[j][t], w1, Load4(q[t] + g * kQuantGroup + 4 * c + 4));
          }
        }
      } else {
        const VI low = hn::Set(di, 0x0F0F0F0F);
        for (size_t c = 0; c < 4; ++c) {
          const VI w = hn::LoadU(di, reinterpret_cast<const int32_t*>(gc + c * 64));
          if constexpr (kHigh16) {
            // High nibbles left in place (16 × code): saves a shift per vector; acc1 holds 16 × their dot.
            const VI lo = hn::And(w, low), hi16 = hn::AndNot(low, w);
            for (size_t t = 0; t < kT; ++t) {
              acc0[j][t] = Dot4(acc0[j][t], lo, Load4(q[t] + g * kQuantGroup + 8 * c));
              acc1[j][t] = Dot4(acc1[j][t], hi16, Load4(q[t] + g * kQuantGroup + 8 * c + 4));
            }
          } else {
            VI lo = hn::And(w, low);
            VI hi = hn::And(hn::ShiftRight<4>(w), low);
            if constexpr (K == QuantKind::kQ4NL) {  // codes → grid bytes (value + 128): one vpshufb each
              lo = NlLookup(lo);
              hi = NlLookup(hi);
            }
            for (size_t t = 0; t < kT; ++t) {
              acc0[j][t] = Dot4(acc0[j][t], lo, Load4(q[t] + g * kQuantGroup + 8 * c));
              acc_b[j][t] = Dot4(acc_b[j][t], hi, Load4(q[t] + g * kQuantGroup + 8 * c + 4));
            }
          }
        }
      }
    }
    for (size_t j = 0; j < kTiles; ++j) {
      const VF ws = LoadScales(reinterpret_cast<const uint16_t*>(tile + j * tile_bytes + scales_offset) +
                               g * kQuantTileRows + lane_begin);
      for (size_t t = 0; t < kT; ++t) {
        VI idot = acc0[j][t];
        if constexpr (kHigh16) {
          idot = hn::Add(idot, hn::ShiftRight<4>(acc1[j][t]));  // an exact multiple of 16
        } else if constexpr (kSplit) {
          idot = hn::Add(idot, acc1[j][t]);
        }
        const VF dot = hn::ConvertTo(df, idot);
        accf[j][t] = hn::MulAdd(dot, hn::Mul(ws, hn::Set(df, as[t][g])), accf[j][t]);
      }
    }
  }
  for (size_t j = 0; j < kTiles; ++j) {
    for (size_t t = 0; t < kT; ++t) hn::StoreU(accf[j][t], df, out + (j * kT + t) * kQuantTileRows + lane_begin);
  }
}

// kTiles tiles from `tile` (first row r0) against tokens [t0, t0 + kT); results (plus bias) into y for
// the valid rows (< rows).
template <QuantKind K, size_t kT, size_t kTiles = 1>
HWY_INLINE void TileTokens(const uint8_t* HWY_RESTRICT tp, size_t G, size_t tile_bytes, const QuantizedActs& a,
                           size_t t0, size_t pf_dist, const uint8_t* pf_end, size_t r0, size_t rows,
                           const float* HWY_RESTRICT bias, float* HWY_RESTRICT y, size_t y_stride) {
  const size_t N = hn::Lanes(DI());
  HWY_ALIGN float out[kTiles * kT * kQuantTileRows];
  for (size_t lane = 0; lane < kQuantTileRows; lane += N) {
    TileLanes<K, kT, kTiles>(tp, G, lane, a, t0, lane == 0 ? pf_dist : 0, pf_end, tile_bytes, out);
  }
  for (size_t j = 0; j < kTiles; ++j) {
    const size_t rj = r0 + j * kQuantTileRows;
    const size_t valid = rows - rj < kQuantTileRows ? rows - rj : kQuantTileRows;
    for (size_t t = 0; t < kT; ++t) {
      float* yr = y + (t0 + t) * y_stride + rj;
      const float* o = out + (j * kT + t) * kQuantTileRows;
      if (valid == kQuantTileRows) {  // whole vectors: with 1408 inputs a tile takes only ~1800 cycles
        const DF df;
        for (size_t r = 0; r < kQuantTileRows; r += N) {
          const VF v = hn::Load(df, o + r);
          hn::StoreU(bias ? hn::Add(v, hn::LoadU(df, bias + rj + r)) : v, df, yr + r);
        }
      } else {
        for (size_t r = 0; r < valid; ++r) yr[r] = o[r] + (bias ? bias[rj + r] : 0.0f);
      }
    }
  }
}

// Tiles [tile_begin, tile_end) against tokens [0, kT), kTiles tiles at a time as kTiles prefetching
// streams whose first bytes are requested up front. Returns the first tile not done (< kTiles left).
template <QuantKind K, size_t kT, size_t kTiles>
size_t StreamTiles(const uint8_t* w, size_t G, size_t tile_bytes, size_t tile_begin, size_t tile_end,
                   const QuantizedActs& a, size_t rows, const float* bias, float* y, size_t y_stride) {
  const uint8_t* range_end = w + tile_end * tile_bytes;
  for (size_t j = 0; j < kTiles && tile_begin + j < tile_end; ++j) {
    const uint8_t* b = w + (tile_begin + j) * tile_bytes;
    for (size_t off = 0; off < kPrefetchBytes && b + off < range_end; off += 64) hwy::Prefetch(b + off);
  }
  size_t tile = tile_begin;
  for (; tile + kTiles <= tile_end; tile += kTiles) {
    TileTokens<K, kT, kTiles>(w + tile * tile_bytes, G, tile_bytes, a, 0, kPrefetchBytes, range_end,
                              tile * kQuantTileRows, rows, bias, y, y_stride);
  }
  return tile;
}

template <QuantKind K>
void MatMulQuantT(const uint8_t* w, size_t rows, size_t cols, size_t tile_begin, size_t tile_end,
                  const QuantizedActs& a, size_t n, const float* bias, float* y, size_t y_stride) {
  const size_t G = QuantGroups(cols);
  const size_t tile_bytes = QuantTileBytes(K, cols);
  const uint8_t* range_end = w + tile_end * tile_bytes;
  constexpr size_t pf = kPrefetchBytes;
  size_t tile = tile_begin;
  // One to four tokens: the tiles are streamed once, several at a time (see kDecodeTiles).
  switch (n) {
    case 1: tile = StreamTiles<K, 1, kDecodeTiles>(w, G, tile_bytes, tile, tile_end, a, rows, bias, y, y_stride); break;
    case 2: tile = StreamTiles<K, 2, kPairTiles>(w, G, tile_bytes, tile, tile_end, a, rows, bias, y, y_stride); break;
    case 3: tile = StreamTiles<K, 3, kSmallBatchTiles>(w, G, tile_bytes, tile, tile_end, a, rows, bias, y, y_stride); break;
    case 4: tile = StreamTiles<K, 4, kSmallBatchTiles>(w, G, tile_bytes, tile, tile_end, a, rows, bias, y, y_stride); break;
    default: break;
  }
  for (; tile < tile_end; ++tile) {
    const uint8_t* tp = w + tile * tile_bytes;
    const size_t r0 = tile * kQuantTileRows;
    // Only the first token block prefetches: later ones re-read the tile from cache.
    size_t t0 = 0;
    for (; t0 + kTokenBlock <= n; t0 += kTokenBlock) {
      TileTokens<K, kTokenBlock>(tp, G, tile_bytes, a, t0, t0 == 0 ? pf : 0, range_end, r0, rows, bias, y, y_stride);
    }
    if constexpr (kTokenBlock > 4) {
      if (t0 + 4 <= n) {
        TileTokens<K, 4>(tp, G, tile_bytes, a, t0, t0 == 0 ? pf : 0, range_end, r0, rows, bias, y, y_stride);
        t0 += 4;
      }
    }
    const size_t pf_rest = t0 == 0 ? pf : 0;
    switch (n - t0) {
      case 1: TileTokens<K, 1>(tp, G, tile_bytes, a, t0, pf_rest, range_end, r0, rows, bias, y, y_stride); break;
      case 2: TileTokens<K, 2>(tp, G, tile_bytes, a, t0, pf_rest, range_end, r0, rows, bias, y, y_stride); break;
      case 3: TileTokens<K, 3>(tp, G, tile_bytes, a, t0, pf_rest, range_end, r0, rows, bias, y, y_stride); break;
      default: break;
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

// One group of `len` ≤ 32 values at x → codes q[0..32) (zero past len), its scale and Σq. max|x| by SIMD,
// then q = round(x · (127 / max)) with the same f32 operations as the scalar twin (the inverse is computed
// once in scalar code), so both give identical codes. A full group is read in place; a partial one via a
// zero-padded copy.
HWY_INLINE void QuantizeGroup(const float* HWY_RESTRICT x, size_t len, int8_t* HWY_RESTRICT q, float* scale,
                              int32_t* sum) {
  const hn::ScalableTag<float> d;
  const hn::Rebind<int32_t, decltype(d)> di;
  const hn::Rebind<int8_t, decltype(d)> d8;
  const size_t N = hn::Lanes(d);
  HWY_ALIGN float buf[kQuantGroup];
  if (len < kQuantGroup) {
    for (size_t i = 0; i < kQuantGroup; ++i) buf[i] = i < len ? x[i] : 0.0f;
    x = buf;
  }
  auto vmax = hn::Zero(d);
  for (size_t i = 0; i < kQuantGroup; i += N) vmax = hn::Max(vmax, hn::Abs(hn::LoadU(d, x + i)));
  const float amax = hn::GetLane(hn::MaxOfLanes(d, vmax));
  if (amax == 0.0f) {
    for (size_t i = 0; i < kQuantGroup; ++i) q[i] = 0;
    *scale = 0.0f;
    *sum = 0;
    return;
  }
  const auto inv = hn::Set(d, 127.0f / amax);
  auto vsum = hn::Zero(di);
  for (size_t i = 0; i < kQuantGroup; i += N) {
    const auto r = hn::NearestInt(hn::Mul(hn::LoadU(d, x + i), inv));
    hn::StoreU(hn::DemoteTo(d8, r), d8, q + i);  // |r| ≤ 127: exact
    vsum = hn::Add(vsum, r);
  }
  *scale = amax / 127.0f;
  *sum = hn::GetLane(hn::SumOfLanes(di, vsum));
}

void QuantizeActsImpl(const float* x, size_t n, size_t cols, size_t x_stride, int8_t* q, float* scale,
                      int32_t* sum) {
  const size_t G = QuantGroups(cols);
  for (size_t t = 0; t < n; ++t) {
    for (size_t g = 0; g < G; ++g) {
      const size_t begin = g * kQuantGroup;
      const size_t len = cols - begin < kQuantGroup ? cols - begin : kQuantGroup;
      QuantizeGroup(x + t * x_stride + begin, len, q + t * G * kQuantGroup + begin, scale + t * G + g, sum + t * G + g);
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
