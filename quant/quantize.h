// Quantizers that produce the packed int4 / int8 layouts of simd/quant_layout.h from f32 weights.
//
// Two schemes per format:
//   kRoundToNearest — the reference, so gains can be measured. Q4: llama.cpp's Q4_0 rule (groups of 32;
//     scale = the group's value of largest magnitude, with its sign, / −8; q = round(w / scale) clamped to
//     [−8, 7]). Q8: llama.cpp's Q8_0 rule (scale = max|w| / 127, q = round(w / scale)).
//   kSearch — per group, tries a grid of scales around the round-to-nearest one, each followed by one
//     least-squares refit of the scale to its codes (d = Σ w·q / Σ q²), all with the scale rounded to
//     binary16 as stored, and keeps the one with the least squared error. Never worse than round-to-nearest
//     (that candidate is in the grid).
#pragma once

#include <cstddef>
#include <cstdint>

#include "simd/quant_layout.h"

namespace glmv::quant {

using simd::QuantKind;

enum class QuantScheme : uint8_t { kRoundToNearest, kSearch };

// Squared-error bookkeeping: Σ w² and Σ (w − ŵ)² over the quantized values.
struct QuantError {
  double signal = 0.0, noise = 0.0;
  void Add(const QuantError& o) { signal += o.signal, noise += o.noise; }
  // 10·log10(signal / noise); +inf when exact.
  double SnrDb() const;
};

// IEEE binary16 conversions (round to nearest even; overflow to ±inf).
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);

// One group of `len` ≤ 32 weights → 32 codes (padding = zero point) and the binary16 scale.
QuantError QuantizeGroup(QuantKind kind, QuantScheme scheme, const float* w, size_t len, uint8_t* codes,
                         uint16_t* scale);

// Rows [tile·16, tile·16 + 16) ∩ [0, rows) of W [rows, cols] (row stride `stride` floats) → one packed tile
// of QuantTileBytes(kind, cols) bytes.
QuantError QuantizeTile(QuantKind kind, QuantScheme scheme, const float* w, size_t rows, size_t cols, size_t stride,
                        size_t tile, uint8_t* out);

// The whole matrix, tile after tile (single-threaded; the converter parallelises over tiles itself).
// `out` holds QuantMatrixBytes(kind, rows, cols) bytes.
QuantError QuantizeMatrix(QuantKind kind, QuantScheme scheme, const float* w, size_t rows, size_t cols, uint8_t* out);

}  // namespace glmv::quant
