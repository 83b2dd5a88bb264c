// The packed layout's accessors (simd/quant_layout.h) and the scalar twins of the quantized kernels: plain
// loops over (row, input) that read codes through QuantCodePosition, the definition the SIMD code must match.
#include <cmath>
#include <cstring>

#include "simd/kernels_quant.h"
#include "simd/quant_layout.h"

namespace glmv::simd {

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: value = mant · 2^-24
      float f = std::ldexp(static_cast<float>(mant), -24);
      std::memcpy(&bits, &f, 4);
      bits |= sign;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void PackQuantTile(QuantKind k, size_t cols, const uint8_t* codes, const uint16_t* scales, uint8_t* tile) {
  const size_t G = QuantGroups(cols), padded = G * kQuantGroup;
  std::memset(tile, 0, QuantTileBytes(k, cols));
  for (size_t r = 0; r < kQuantTileRows; ++r) {
    for (size_t g = 0; g < G; ++g) {
      for (size_t i = 0; i < kQuantGroup; ++i) {
        const uint8_t code = codes[r * padded + g * kQuantGroup + i];
        const CodePosition p = QuantCodePosition(k, r, g, i);
        if (!IsNibbleKind(k)) {
          tile[p.byte] = code;
        } else {
          tile[p.byte] |= static_cast<uint8_t>((code & 0x0f) << (p.high_nibble ? 4 : 0));
        }
      }
    }
  }
  uint8_t* s = tile + QuantTileScalesOffset(k, cols);
  for (size_t g = 0; g < G; ++g) {
    for (size_t r = 0; r < kQuantTileRows; ++r) {
      std::memcpy(s + (g * kQuantTileRows + r) * 2, &scales[r * G + g], 2);
    }
  }
}

uint8_t QuantTileCode(QuantKind k, size_t cols, const uint8_t* tile, size_t r, size_t i) {
  const CodePosition p = QuantCodePosition(k, r, i / kQuantGroup, i % kQuantGroup);
  if (!IsNibbleKind(k)) return tile[p.byte];
  return p.high_nibble ? tile[p.byte] >> 4 : tile[p.byte] & 0x0f;
}

uint16_t QuantTileScale(QuantKind k, size_t cols, const uint8_t* tile, size_t r, size_t g) {
  uint16_t h;
  std::memcpy(&h, tile + QuantTileScalesOffset(k, cols) + (g * kQuantTileRows + r) * 2, 2);
  return h;
}

void DequantizeRow(QuantKind k, const uint8_t* matrix, size_t cols, size_t row, float* out) {
  const uint8_t* tile = matrix + (row / kQuantTileRows) * QuantTileBytes(k, cols);
  const size_t r = row % kQuantTileRows;
  for (size_t i = 0; i < cols; ++i) {
    const float s = HalfToFloat(QuantTileScale(k, cols, tile, r, i / kQuantGroup));
    out[i] = s * static_cast<float>(QuantCodeValue(k, QuantTileCode(k, cols, tile, r, i)));
  }
}

namespace scalar {

void QuantizeActs(const float* x, size_t n, size_t cols, size_t x_stride, int8_t* q, float* scale, int32_t* sum) {
  const size_t G = QuantGroups(cols);
  for (size_t t = 0; t < n; ++t) {
    for (size_t g = 0; g < G; ++g) {
      const size_t begin = g * kQuantGroup;
      const size_t len = cols - begin < kQuantGroup ? cols - begin : kQuantGroup;
      const float* xg = x + t * x_stride + begin;
      float amax = 0.0f;
      for (size_t i = 0; i < len; ++i) amax = std::fmax(amax, std::fabs(xg[i]));
      int8_t* qg = q + t * G * kQuantGroup + begin;
      const size_t ag = t * G + g;
      std::memset(qg, 0, kQuantGroup);
      if (amax == 0.0f) {
        scale[ag] = 0.0f;
        sum[ag] = 0;
        continue;
      }
      const float inv = 127.0f / amax;
      int32_t s = 0;
      for (size_t i = 0; i < len; ++i) {
        const int v = static_cast<int>(std::nearbyint(xg[i] * inv));
        qg[i] = static_cast<int8_t>(v);
        s += v;
      }
      scale[ag] = amax / 127.0f;
      sum[ag] = s;
    }
  }
}

void MatMulQuant(QuantKind k, const uint8_t* w, size_t rows, size_t cols, size_t tile_begin, size_t tile_end,
                 const QuantizedActs& a, size_t n, const float* bias, float* y, size_t y_stride) {
  const size_t G = QuantGroups(cols), act_stride = G * kQuantGroup;
  const size_t tile_bytes = QuantTileBytes(k, cols);
  for (size_t tile = tile_begin; tile < tile_end; ++tile) {
    const uint8_t* tp = w + tile * tile_bytes;
    for (size_t r = 0; r < kQuantTileRows && tile * kQuantTileRows + r < rows; ++r) {
      const size_t row = tile * kQuantTileRows + r;
      for (size_t t = 0; t < n; ++t) {
        float acc = 0.0f;
        for (size_t g = 0; g < G; ++g) {
          int32_t dot = 0;
          for (size_t i = 0; i < kQuantGroup; ++i) {
            dot += QuantCodeValue(k, QuantTileCode(k, cols, tp, r, g * kQuantGroup + i)) *
                   a.q[t * act_stride + g * kQuantGroup + i];
          }
          const float ws = HalfToFloat(QuantTileScale(k, cols, tp, r, g));
          acc = std::fma(static_cast<float>(dot), ws * a.scale[t * G + g], acc);
        }
        y[t * y_stride + row] = acc + (bias ? bias[row] : 0.0f);
      }
    }
  }
}

}  // namespace scalar
}  // namespace glmv::simd
