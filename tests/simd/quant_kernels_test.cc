// The packed int4/int8 layout and its kernels: the layout's accessors against its definition, and every
// Highway target's MatMulQuant / QuantizeActs against the scalar twins, over shapes with partial tiles,
// partial groups and token counts that are not multiples of the kernel's token block.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <hwy/targets.h>
#include <set>

#include "quant/quantize.h"
#include "simd/kernels_quant.h"
#include "simd/quant_layout.h"
#include "tests/simd/for_each_target.h"
#include "tests/test_util.h"

namespace glmv::simd {
namespace {

using test::RandomFloats;

using test::ForEachTarget;

struct Acts {
  std::vector<int8_t> q;
  std::vector<float> scale;
  std::vector<int32_t> sum;
  QuantizedActs view(size_t cols) const { return {q.data(), scale.data(), sum.data(), QuantGroups(cols)}; }
};

Acts MakeActs(const std::vector<float>& x, size_t n, size_t cols, bool use_scalar) {
  const size_t G = QuantGroups(cols);
  Acts a{std::vector<int8_t>(n * G * kQuantGroup, 99), std::vector<float>(n * G), std::vector<int32_t>(n * G)};
  if (use_scalar) {
    scalar::QuantizeActs(x.data(), n, cols, cols, a.q.data(), a.scale.data(), a.sum.data());
  } else {
    QuantizeActs(x.data(), n, cols, cols, a.q.data(), a.scale.data(), a.sum.data());
  }
  return a;
}

TEST_CASE("quant layout: sizes and every code position distinct") {
  CHECK(QuantTileBytes(QuantKind::kQ4, 32) == 320);   // 256 codes + 32 scales, rounded to 64
  CHECK(QuantTileBytes(QuantKind::kQ8, 32) == 576);   // 512 + 32, rounded to 64
  CHECK(QuantTileBytes(QuantKind::kQ4, 4096) == 128 * 288);
  CHECK(QuantMatrixBytes(QuantKind::kQ4, 17, 48) == 2 * QuantTileBytes(QuantKind::kQ4, 48));
  for (QuantKind k : {QuantKind::kQ4, QuantKind::kQ8, QuantKind::kQ4NL}) {
    std::set<std::pair<size_t, bool>> seen;
    for (size_t r = 0; r < kQuantTileRows; ++r) {
      for (size_t i = 0; i < 2 * kQuantGroup; ++i) {
        const CodePosition p = QuantCodePosition(k, r, i / kQuantGroup, i % kQuantGroup);
        CHECK(p.byte < 2 * GroupCodeBytes(k));
        CHECK(seen.insert({p.byte, p.high_nibble}).second);
      }
    }
  }
}

TEST_CASE("quant layout: pack then read back codes and scales") {
  for (QuantKind k : {QuantKind::kQ4, QuantKind::kQ8, QuantKind::kQ4NL}) {
    for (size_t cols : {16, 32, 48, 100}) {
      const size_t G = QuantGroups(cols), padded = G * kQuantGroup;
      std::vector<uint8_t> codes(kQuantTileRows * padded);
      std::vector<uint16_t> scales(kQuantTileRows * G);
      for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>((i * 37 + 11) % (QuantMaxCode(k) + 1));
      for (size_t i = 0; i < scales.size(); ++i) scales[i] = static_cast<uint16_t>(0x3c00 + i);
      std::vector<uint8_t> tile(QuantTileBytes(k, cols), 0xAB);
      PackQuantTile(k, cols, codes.data(), scales.data(), tile.data());
      for (size_t r = 0; r < kQuantTileRows; ++r) {
        for (size_t i = 0; i < padded; ++i) REQUIRE(QuantTileCode(k, cols, tile.data(), r, i) == codes[r * padded + i]);
        for (size_t g = 0; g < G; ++g) REQUIRE(QuantTileScale(k, cols, tile.data(), r, g) == scales[r * G + g]);
      }
      // Padding past the scales is zero.
      const size_t used = G * (GroupCodeBytes(k) + GroupScaleBytes());
      CHECK(std::all_of(tile.begin() + used, tile.end(), [](uint8_t b) { return b == 0; }));
    }
  }
}

TEST_CASE("QuantizeActs: every target gives the scalar twin's codes, scales and sums exactly") {
  for (size_t cols : {1, 16, 31, 32, 48, 100, 257}) {
    for (size_t n : {1, 3, 5}) {
      auto x = RandomFloats(n * cols, static_cast<uint32_t>(cols * 7 + n));
      if (cols > 40) std::fill(x.begin() + 32, x.begin() + 40, 0.0f);  // a partly zero group
      if (cols == 48) std::fill(x.begin(), x.begin() + 32, 0.0f);       // an all-zero group
      const Acts ref = MakeActs(x, n, cols, true);
      ForEachTarget([&](const std::string& target) {
        CAPTURE(target);
        CAPTURE(cols);
        const Acts got = MakeActs(x, n, cols, false);
        CHECK(got.q == ref.q);
        CHECK(got.scale == ref.scale);
        CHECK(got.sum == ref.sum);
      });
      // The codes reconstruct x to within half a step.
      const size_t G = QuantGroups(cols);
      double worst = 0;
      for (size_t t = 0; t < n; ++t) {
        for (size_t i = 0; i < cols; ++i) {
          const float s = ref.scale[t * G + i / kQuantGroup];
          const double err = std::fabs(x[t * cols + i] - s * ref.q[t * G * kQuantGroup + i]);
          worst = std::max(worst, err / std::max(s, 1e-30f));
        }
      }
      CHECK(worst <= 0.5001);
    }
  }
}

TEST_CASE("MatMulQuant: every target against the scalar twin, and both against f64 dequantized math") {
  double worst_target = 0, worst_f64 = 0;
  for (QuantKind k : {QuantKind::kQ4, QuantKind::kQ8, QuantKind::kQ4NL}) {
    for (size_t rows : {1, 15, 16, 17, 40, 117}) {  // 117: halves of 4 tiles, the last one partial
      for (size_t cols : {16, 32, 48, 100, 257}) {
        const auto wf = RandomFloats(rows * cols, static_cast<uint32_t>(rows * 131 + cols));
        std::vector<uint8_t> w(QuantMatrixBytes(k, rows, cols));
        quant::QuantizeMatrix(k, quant::QuantScheme::kSearch, wf.data(), rows, cols, w.data());
        const auto bias = RandomFloats(rows, 5);
        for (size_t n : {1, 2, 3, 4, 5, 9, 15}) {  // 15 = 8 + 4 + 3: every token block size
          const auto x = RandomFloats(n * cols, static_cast<uint32_t>(n + cols));
          const Acts a = MakeActs(x, n, cols, true);
          const size_t tiles = QuantTiles(rows);
          const size_t y_stride = rows + 3;
          std::vector<float> ref(n * y_stride, -7.0f);
          scalar::MatMulQuant(k, w.data(), rows, cols, 0, tiles, a.view(cols), n, bias.data(), ref.data(), y_stride);
          // Double-precision check of the definition with the dequantized weights and activations.
          std::vector<float> wrow(cols);
          const size_t G = QuantGroups(cols);
          for (size_t r = 0; r < rows; ++r) {
            DequantizeRow(k, w.data(), cols, r, wrow.data());
            for (size_t t = 0; t < n; ++t) {
              double acc = bias[r];
              for (size_t i = 0; i < cols; ++i) {
                acc += double(wrow[i]) * a.scale[t * G + i / kQuantGroup] * a.q[t * G * kQuantGroup + i];
              }
              worst_f64 = std::max(worst_f64, std::fabs(acc - ref[t * y_stride + r]) / std::max(1.0, std::fabs(acc)));
            }
          }
          ForEachTarget([&](const std::string& target) {
            CAPTURE(target);
            std::vector<float> got(n * y_stride, -7.0f);
            // Two calls over split tile ranges, as threads would make them.
            const size_t mid = tiles / 2;
            MatMulQuant(k, w.data(), rows, cols, 0, mid, a.view(cols), n, bias.data(), got.data(), y_stride);
            MatMulQuant(k, w.data(), rows, cols, mid, tiles, a.view(cols), n, bias.data(), got.data(), y_stride);
            for (size_t t = 0; t < n; ++t) {
              for (size_t r = 0; r < y_stride; ++r) {
                const float g = got[t * y_stride + r], e = ref[t * y_stride + r];
                if (r >= rows) {
                  REQUIRE(g == -7.0f);  // nothing written past the rows
                  continue;
                }
                worst_target = std::max(worst_target, double(std::fabs(g - e)) / std::max(1.0f, std::fabs(e)));
              }
            }
          });
        }
      }
    }
  }
  std::printf("MatMulQuant: worst |target - scalar| = %.3g, worst |scalar - f64| = %.3g (relative, floor 1); quant "
              "target here: %s\n", worst_target, worst_f64, QuantTargetName());
  CHECK(worst_target < 1e-5);
  CHECK(worst_f64 < 1e-5);
}

}  // namespace
}  // namespace glmv::simd
