#include "quant/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "simd/kernels_quant_fit.h"

namespace glmv::quant {
namespace {

constexpr size_t kG = simd::kQuantGroup;

// x rounded half to even, for |x| < 2^22: adding and removing 1.5 · 2^23 leaves no fraction bits, and
// the FPU's default rounding mode is to nearest even. Unlike std::nearbyint (a library call on baseline
// x86-64) it vectorises, which makes the scale search ~10× faster.
inline float RoundHalfEven(float x) {
  constexpr float kMagic = 12582912.0f;  // 1.5 · 2^23
  return (x + kMagic) - kMagic;
}

// std::round's rule (half away from zero) for |x| ≤ 2^23, inline (the library call is not, on baseline
// x86-64): the truncated value, moved one step out when the dropped fraction is at least a half (exact).
inline int RoundHalfAway(float x) {
  const int t = static_cast<int>(x);
  const float frac = x - static_cast<float>(t);
  return t + (frac >= 0.5f) - (frac <= -0.5f);
}

// The nearest codes q in [qmin, qmax] (signed, before the zero point) for scale d, ties to even — the
// codes simd::FitGroupScales ranked the scale by.
void NearestCodes(const float* w, size_t len, float d, int qmin, int qmax, int* q) {
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  const float lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  for (size_t i = 0; i < len; ++i) q[i] = static_cast<int>(std::min(hi, std::max(lo, RoundHalfEven(w[i] * inv))));
}

// llama.cpp's Q4_0 / Q8_0 rules exactly (their rounding: Q4_0 truncates x/d + 8.5, Q8_0 rounds half away).
float RoundToNearestCodes(QuantKind kind, const float* w, size_t len, int* q) {
  if (kind == QuantKind::kQ4) {
    float amax = 0.0f, m = 0.0f;
    for (size_t i = 0; i < len; ++i) {
      if (std::fabs(w[i]) > amax) amax = std::fabs(w[i]), m = w[i];
    }
    const float d = m / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (size_t i = 0; i < len; ++i) q[i] = std::min(15, static_cast<int>(w[i] * id + 8.5f)) - 8;
    return d;
  }
  float amax = 0.0f;
  for (size_t i = 0; i < len; ++i) amax = std::max(amax, std::fabs(w[i]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (size_t i = 0; i < len; ++i) q[i] = RoundHalfAway(w[i] * id);
  return d;
}

double ErrorOf(const float* w, size_t len, float d, const int* q) {
  double err = 0.0;
  for (size_t i = 0; i < len; ++i) {
    const double e = static_cast<double>(w[i]) - static_cast<double>(d) * q[i];
    err += e * e;
  }
  return err;
}

}  // namespace

double QuantError::SnrDb() const {
  if (noise <= 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t abs = x & 0x7fffffff;
  if (abs >= 0x7f800000) return static_cast<uint16_t>(sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0));  // inf/nan
  if (abs >= 0x477ff000) return static_cast<uint16_t>(sign | 0x7c00);  // rounds past 65504
  if (abs < 0x38800000) {  // subnormal or zero in half precision: value / 2^-24, rounded to even
    float a;
    std::memcpy(&a, &abs, 4);
    const float scaled = a * 16777216.0f;  // exact (power of two)
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  const uint32_t mant = abs & 0x7fffff;
  uint32_t h = ((abs >> 23) - 112) << 10 | (mant >> 13);
  const uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;  // carries into the exponent correctly
  return static_cast<uint16_t>(sign | h);
}

float HalfToFloat(uint16_t h) { return simd::HalfToFloat(h); }

namespace {

// Q4NL: the nearest grid value of x (in scale units). Every midpoint between grid values is a multiple of
// 0.5, so the code is constant on each interval [k/2, (k+1)/2): one table lookup on floor(2x) (15
// comparisons per value made the scale search the slowest part of glmv convert).
struct NlNearest {
  static constexpr int kHalfSteps = 2 * 128;  // |2x| < 256 covers the grid and what clamps to its ends
  uint8_t code[2 * kHalfSteps];
  constexpr NlNearest() : code() {
    for (int h = -kHalfSteps; h < kHalfSteps; ++h) {
      const double x = 0.5 * h + 0.25;  // inside the interval: never on a midpoint
      int best = 0;
      for (int c = 1; c < 16; ++c) {
        if (std::abs(x - simd::kQ4NlValues[c]) < std::abs(x - simd::kQ4NlValues[best])) best = c;
      }
      code[h + kHalfSteps] = static_cast<uint8_t>(best);
    }
  }
};
constexpr NlNearest kNlNearest;

inline int NearestNl(float x) {
  const float y = std::min(255.5f, std::max(-256.0f, 2.0f * x));
  int h = static_cast<int>(y);  // truncates toward zero; floor below (std::floor is a library call here)
  h -= static_cast<float>(h) > y;
  return kNlNearest.code[h + NlNearest::kHalfSteps];
}

float NlCodesFor(const float* w, size_t len, float d, int* q) {
  float err = 0.0f;
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  for (size_t i = 0; i < len; ++i) {
    q[i] = NearestNl(w[i] * inv);
    const float e = w[i] - d * static_cast<float>(simd::kQ4NlValues[q[i]]);
    err += e * e;
  }
  return err;
}

// The value FloatToHalf(x) stores, as a float: inline for normal binary16 values (round the mantissa to 10
// bits, to nearest even — FloatToHalf's rule), the general conversion otherwise. The search rounds ~30
// candidate scales per group; two out-of-line conversions each were a sixth of its time.
inline float RoundToHalf(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs < 0x38800000u || abs >= 0x477ff000u) return HalfToFloat(FloatToHalf(x));  // subnormal, zero, ≥ 65520, inf, NaN
  u += 0xfffu + ((u >> 13) & 1u);
  u &= ~0x1fffu;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

// The search's candidates, evaluated by simd::FitGroupScales: each scale of `first` (already rounded to
// binary16), then each one's least-squares refit to its codes (rounded too), in that order; the first with
// the least error wins unless `best_err` (the reference's) is not beaten. Returns whether one won, and its
// bits in *best.
bool BestScale(QuantKind kind, const float* w, size_t len, const float* first, size_t n, float best_err,
               uint16_t* best) {
  constexpr size_t kMaxCandidates = 64;
  simd::GroupFit fits[kMaxCandidates], refits[kMaxCandidates];
  float second[kMaxCandidates];
  simd::FitGroupScales(kind, w, len, first, n, fits);
  for (size_t c = 0; c < n; ++c) {
    const float d = fits[c].vv > 0.0f ? RoundToHalf(fits[c].wv / fits[c].vv) : 0.0f;
    second[c] = d != 0.0f && std::isfinite(d) ? d : 0.0f;  // 0: no refit (skipped below)
  }
  simd::FitGroupScales(kind, w, len, second, n, refits);
  float best_d = 0.0f;
  for (size_t c = 0; c < n; ++c) {
    if (fits[c].err < best_err) best_err = fits[c].err, best_d = first[c];
    if (second[c] != 0.0f && refits[c].err < best_err) best_err = refits[c].err, best_d = second[c];
  }
  if (best_d == 0.0f) return false;
  *best = FloatToHalf(best_d);
  return true;
}

// Q4NL: scales that put the group's extreme at either end of the grid, shrunk by up to 30 % (clipping the
// extreme a little often fits the rest better), each followed by a least-squares refit. "rtn" is the first
// candidate only (extreme → −127).
QuantError QuantizeGroupNl(QuantScheme scheme, const float* w, size_t len, uint8_t* codes, uint16_t* scale) {
  int best_q[kG];
  QuantError e;
  float amax = 0.0f, m = 0.0f;
  for (size_t i = 0; i < len; ++i) {
    e.signal += static_cast<double>(w[i]) * w[i];
    if (std::fabs(w[i]) > amax) amax = std::fabs(w[i]), m = w[i];
  }
  uint16_t best_h = FloatToHalf(m / -127.0f);
  if (scheme == QuantScheme::kSearch && amax > 0.0f) {
    float first[16];
    size_t n = 0;
    for (const float end : {-127.0f, 106.0f}) {
      for (int s = 0; s <= 6; ++s) {  // 0, 5, …, 30 %: steps of 2.5 % gained < 0.01 dB for twice the time
        const float d = RoundToHalf(m / (end * (1.0f - 0.05f * static_cast<float>(s))));
        if (d != 0.0f && std::isfinite(d)) first[n++] = d;
      }
    }
    // The reference's scale is first[0] when it is usable: it keeps the stored bits unless another
    // candidate fits better. When it rounded to 0 (a group of tiny weights), it is measured as it is.
    const float d_rtn = HalfToFloat(best_h);
    const float rtn_err = d_rtn != 0.0f && std::isfinite(d_rtn) ? std::numeric_limits<float>::infinity()
                                                                 : NlCodesFor(w, len, d_rtn, best_q);
    BestScale(QuantKind::kQ4NL, w, len, first, n, rtn_err, &best_h);
  }
  // The codes and the exact error (in double like the other kinds) of the stored scale.
  const float d = HalfToFloat(best_h);
  NlCodesFor(w, len, d, best_q);
  for (size_t i = 0; i < kG; ++i) codes[i] = static_cast<uint8_t>(i < len ? best_q[i] : simd::QuantPaddingCode(QuantKind::kQ4NL));
  *scale = best_h;
  for (size_t i = 0; i < len; ++i) {
    const double err = static_cast<double>(w[i]) - static_cast<double>(d) * simd::kQ4NlValues[best_q[i]];
    e.noise += err * err;
  }
  return e;
}

}  // namespace

QuantError QuantizeGroup(QuantKind kind, QuantScheme scheme, const float* w, size_t len, uint8_t* codes,
                         uint16_t* scale) {
  if (kind == QuantKind::kQ4NL) return QuantizeGroupNl(scheme, w, len, codes, scale);
  const int zero = simd::QuantZeroPoint(kind);
  const int qmin = simd::QuantMinCode(kind) - zero, qmax = simd::QuantMaxCode(kind) - zero;
  int best_q[kG];
  QuantError e;
  for (size_t i = 0; i < len; ++i) e.signal += static_cast<double>(w[i]) * w[i];

  // The reference: its codes with its stored (binary16) scale.
  const float d_rtn = RoundToNearestCodes(kind, w, len, best_q);
  uint16_t best_h = FloatToHalf(d_rtn);
  double best_err = ErrorOf(w, len, HalfToFloat(best_h), best_q);

  if (scheme == QuantScheme::kSearch && e.signal > 0.0) {
    float amax = 0.0f, m = 0.0f;
    for (size_t i = 0; i < len; ++i) {
      if (std::fabs(w[i]) > amax) amax = std::fabs(w[i]), m = w[i];
    }
    // Divisors of the extreme value: a band at and below the largest code (clipping the extreme a little
    // often lowers the error of the rest), both signs for int4 (whose range [−8, 7] is asymmetric); each
    // scale is followed by one refit to its codes (more rounds of alternating least squares gained
    // < 0.01 dB on Gaussian weights).
    float divs[64];
    size_t ndiv = 0;
    if (kind == QuantKind::kQ4) {
      for (int s = 0; s <= 20; ++s) divs[ndiv++] = -8.5f + 0.125f * s;  // −8.5 … −6
      for (int s = 0; s <= 12; ++s) divs[ndiv++] = 6.0f + 0.125f * s;   // 6 … 7.5
    } else {
      for (int s = 0; s <= 12; ++s) divs[ndiv++] = 127.5f - 0.75f * s;  // 127.5 … 118.5
    }
    const float base = kind == QuantKind::kQ4 ? m : amax;
    float first[64];
    size_t n = 0;
    for (size_t c = 0; c < ndiv; ++c) {
      const float d = RoundToHalf(base / divs[c]);
      if (d != 0.0f && std::isfinite(d)) first[n++] = d;
    }
    if (BestScale(kind, w, len, first, n, static_cast<float>(best_err), &best_h)) {
      // A searched scale: nearest codes (the reference keeps its own rounding).
      NearestCodes(w, len, HalfToFloat(best_h), qmin, qmax, best_q);
      best_err = ErrorOf(w, len, HalfToFloat(best_h), best_q);
    }
  }
  for (size_t i = 0; i < kG; ++i) codes[i] = static_cast<uint8_t>(i < len ? best_q[i] + zero : zero);
  *scale = best_h;
  e.noise = best_err;
  return e;
}

QuantError QuantizeTile(QuantKind kind, QuantScheme scheme, const float* w, size_t rows, size_t cols, size_t stride,
                        size_t tile, uint8_t* out) {
  const size_t R = simd::kQuantTileRows, G = simd::QuantGroups(cols), padded = G * kG;
  std::vector<uint8_t> codes(R * padded, static_cast<uint8_t>(simd::QuantPaddingCode(kind)));
  std::vector<uint16_t> scales(R * G, 0);
  QuantError total;
  for (size_t r = 0; r < R; ++r) {
    const size_t row = tile * R + r;
    if (row >= rows) break;
    for (size_t g = 0; g < G; ++g) {
      const size_t begin = g * kG, len = std::min(kG, cols - begin);
      total.Add(QuantizeGroup(kind, scheme, w + row * stride + begin, len, &codes[r * padded + begin], &scales[r * G + g]));
    }
  }
  simd::PackQuantTile(kind, cols, codes.data(), scales.data(), out);
  return total;
}

QuantError QuantizeMatrix(QuantKind kind, QuantScheme scheme, const float* w, size_t rows, size_t cols, uint8_t* out) {
  QuantError total;
  const size_t tile_bytes = simd::QuantTileBytes(kind, cols);
  for (size_t t = 0; t < simd::QuantTiles(rows); ++t) {
    total.Add(QuantizeTile(kind, scheme, w, rows, cols, cols, t, out + t * tile_bytes));
  }
  return total;
}

}  // namespace glmv::quant
