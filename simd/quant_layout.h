// The packed int4 / int8 weight layouts the quantized kernels read (simd/matmul_quant.cc), identical on
// every SIMD target. quant/ produces them, the model file stores them verbatim, the runtime maps them.
//
// A matrix W [rows, cols] (out × in) is cut into tiles of kQuantTileRows = 16 consecutive rows; the last
// tile is padded with zero rows. Along the input dimension it is cut into groups of kQuantGroup = 32
// inputs, each with its own scale per row; the last group is padded with QuantPaddingCode (zero weights;
// value 1 in Q4NL, harmless: padded activations are zero), so any width works. Each weight is a code u
// with value w = scale · QuantCodeValue(u):
//
//   Q4G32: u in [0, 15], zero point 8 (so w/scale in [−8, 7], llama.cpp's Q4_0 range), 4 bits.
//   Q8G32: u in [1, 255], zero point 128 (w/scale in [−127, 127]), 8 bits.
//   Q4NLG32: u in [0, 15] indexes kQ4NlValues, w = scale · kQ4NlValues[u], 4 bits packed as Q4G32. A
//            non-uniform grid, denser near zero, where bell-shaped weights lie: at the same 4.5 bits per
//            weight it has 1.4 dB (normal) to 1.8 dB (Laplace) more SNR than Q4_0's rule. The kernels look
//            the values up as bytes (value + 128, zero point 128) and take the Q8 path's dot products.
//
// Scales are IEEE binary16. One tile, G = ceil(cols / 32) groups, in this order:
//
//   codes:  G × GroupCodeBytes(kind) bytes, group after group;
//   scales: G × 16 binary16 values, group after group, row 0..15 within a group;
//   zero padding up to a multiple of 64 bytes (QuantTileBytes).
//
// Within one group's codes the 16 rows are interleaved so that one 64-byte vector holds, for each row r,
// 4 consecutive inputs in its 32-bit lane r (bytes 4r..4r+3): the shape of a u8×i8 four-way dot product
// (AVX-512 VNNI vpdpbusd) with the 4 matching activations broadcast to all lanes.
//   Q8G32: 8 vectors; vector c, byte 4r + j  = code of row r, input 4c + j          (c < 8, j < 4).
//   Q4G32: 4 vectors; vector c, byte 4r + j  = low nibble: row r, input 8c + j;
//                                              high nibble: row r, input 8c + 4 + j.
// A whole matrix is its tiles in row order: QuantMatrixBytes = ceil(rows / 16) × QuantTileBytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace glmv::simd {

enum class QuantKind : uint8_t { kQ4 = 4, kQ8 = 8, kQ4NL = 5 };

// The Q4NLG32 grid in units of the group's scale, ascending. Fitted by alternating least squares (scale
// search per group ↔ grid = mean of the assigned values) on groups of 32 drawn half from a normal and half
// from a Student-t(5) distribution, then scaled so the extreme is −127 (fits an int8 lane).
inline constexpr int8_t kQ4NlValues[16] = {-127, -99, -80, -65, -50, -37, -24, -11, 1, 13, 25, 38, 52, 66, 83, 106};

// Codes packed two per byte (Q4G32 and Q4NLG32) or one per byte (Q8G32).
constexpr bool IsNibbleKind(QuantKind k) { return k != QuantKind::kQ8; }

inline constexpr size_t kQuantGroup = 32;
inline constexpr size_t kQuantTileRows = 16;
inline constexpr size_t kQuantTileAlign = 64;

constexpr size_t QuantGroups(size_t cols) { return (cols + kQuantGroup - 1) / kQuantGroup; }
constexpr size_t QuantTiles(size_t rows) { return (rows + kQuantTileRows - 1) / kQuantTileRows; }
// The zero point of the bytes the dot products see: the code itself (Q4, Q8) or its looked-up value + 128
// (Q4NL), so w = scale · (byte − zero point).
constexpr int QuantZeroPoint(QuantKind k) { return k == QuantKind::kQ4 ? 8 : 128; }
constexpr int QuantMaxCode(QuantKind k) { return IsNibbleKind(k) ? 15 : 255; }
constexpr int QuantMinCode(QuantKind k) { return IsNibbleKind(k) ? 0 : 1; }
// w / scale of a code.
constexpr int QuantCodeValue(QuantKind k, int code) {
  return k == QuantKind::kQ4NL ? kQ4NlValues[code & 15] : code - QuantZeroPoint(k);
}
// The code whose value is 0 (padding): Q4NL has no exact zero, its padding inputs are zero activations.
constexpr int QuantPaddingCode(QuantKind k) { return k == QuantKind::kQ4NL ? 8 : QuantZeroPoint(k); }
// Bytes of one group's codes for all 16 rows of a tile.
constexpr size_t GroupCodeBytes(QuantKind k) { return IsNibbleKind(k) ? 256 : 512; }
constexpr size_t GroupScaleBytes() { return kQuantTileRows * sizeof(uint16_t); }
constexpr size_t QuantTileScalesOffset(QuantKind k, size_t cols) { return QuantGroups(cols) * GroupCodeBytes(k); }
constexpr size_t QuantTileBytes(QuantKind k, size_t cols) {
  const size_t raw = QuantGroups(cols) * (GroupCodeBytes(k) + GroupScaleBytes());
  return (raw + kQuantTileAlign - 1) / kQuantTileAlign * kQuantTileAlign;
}
constexpr size_t QuantMatrixBytes(QuantKind k, size_t rows, size_t cols) {
  return QuantTiles(rows) * QuantTileBytes(k, cols);
}

// Byte offset inside a tile's code block of (row r, input i within group g) and whether it is the high
// nibble (Q4 only). The kernels rely on exactly this mapping.
struct CodePosition {
  size_t byte;
  bool high_nibble;
};
constexpr CodePosition QuantCodePosition(QuantKind k, size_t r, size_t g, size_t i) {
  const size_t group_base = g * GroupCodeBytes(k);
  if (k == QuantKind::kQ8) return {group_base + (i / 4) * 64 + 4 * r + (i % 4), false};
  const size_t c = i / 8, within = i % 8;
  return {group_base + c * 64 + 4 * r + (within % 4), within >= 4};
}

// Packs one tile: codes[r * padded_cols + i] (padded_cols = 32·G; codes of padding rows/inputs must be the
// zero point) and scales[r * G + g] (binary16 bits) for r < 16 → `tile` (QuantTileBytes bytes, written
// entirely, padding zeroed).
void PackQuantTile(QuantKind k, size_t cols, const uint8_t* codes, const uint16_t* scales, uint8_t* tile);

// Code and scale of (row r within the tile, input i) of a packed tile.
uint8_t QuantTileCode(QuantKind k, size_t cols, const uint8_t* tile, size_t r, size_t i);
uint16_t QuantTileScale(QuantKind k, size_t cols, const uint8_t* tile, size_t r, size_t g);

// IEEE binary16 bits → f32 (exact), the scales' format.
float HalfToFloat(uint16_t h);

// Row `row` of a packed matrix as f32 (cols values): embeddings and tests.
void DequantizeRow(QuantKind k, const uint8_t* matrix, size_t cols, size_t row, float* out);

}  // namespace glmv::simd
