// Quantizers: binary16 conversion, llama.cpp's Q4_0 / Q8_0 rules as the round-to-nearest reference, the
// searched scales being no worse (and measurably better) than the reference, odd widths.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "quant/quantize.h"
#include "simd/quant_layout.h"
#include "tests/test_util.h"

namespace glmv::quant {
namespace {

TEST_CASE("binary16: every finite half survives a round trip; rounding is to nearest even") {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;  // inf / nan
    REQUIRE(FloatToHalf(HalfToFloat(static_cast<uint16_t>(h))) == h);
  }
  CHECK(FloatToHalf(1.0f) == 0x3c00);
  CHECK(FloatToHalf(1.0f + 1.0f / 2048) == 0x3c00);        // tie → even
  CHECK(FloatToHalf(1.0f + 3.0f / 2048) == 0x3c02);        // tie → even (up)
  CHECK(FloatToHalf(65504.0f) == 0x7bff);
  CHECK(FloatToHalf(1e6f) == 0x7c00);
  CHECK(HalfToFloat(0x0001) == std::ldexp(1.0f, -24));     // smallest subnormal
  CHECK(FloatToHalf(-0.0f) == 0x8000);
}

TEST_CASE("round-to-nearest is llama.cpp's Q4_0 rule") {
  // Largest magnitude −1.6 → scale = −1.6 / −8 = 0.2; q = min(15, int(w/0.2 + 8.5)).
  float w[32] = {};
  w[0] = -1.6f, w[1] = 0.3f, w[2] = 1.39f, w[3] = 1.5f, w[4] = -0.1f;
  uint8_t codes[32];
  uint16_t scale;
  QuantizeGroup(QuantKind::kQ4, QuantScheme::kRoundToNearest, w, 32, codes, &scale);
  CHECK(scale == FloatToHalf(0.2f));
  CHECK(codes[0] == 0);                   // −8
  CHECK(codes[1] == 10);                  // int(1.5 + 8.5) = 10 → +2 (llama.cpp rounds half up)
  CHECK(codes[2] == 15);                  // int(6.95 + 8.5) = 15
  CHECK(codes[3] == 15);                  // 7.5 + 8.5 = 16 → clamped to 15
  CHECK(codes[4] == 8);                   // int(−0.5 + 8.5) = 8 → 0
  CHECK(codes[5] == 8);
}

TEST_CASE("round-to-nearest is llama.cpp's Q8_0 rule") {
  float w[32] = {};
  w[0] = 2.54f, w[1] = -1.0f, w[2] = 0.01f;
  uint8_t codes[32];
  uint16_t scale;
  QuantizeGroup(QuantKind::kQ8, QuantScheme::kRoundToNearest, w, 32, codes, &scale);
  CHECK(scale == FloatToHalf(0.02f));
  CHECK(codes[0] == 128 + 127);
  CHECK(codes[1] == 128 - 50);
  CHECK(codes[2] == 128 + 1);  // 0.5 rounds away from zero
  CHECK(codes[3] == 128);
}

TEST_CASE("searched scales: never worse than round-to-nearest per group, better overall") {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (QuantKind k : {QuantKind::kQ4, QuantKind::kQ8}) {
    QuantError rtn_total, search_total;
    for (int trial = 0; trial < 2000; ++trial) {
      float w[32];
      for (float& v : w) v = normal(rng);
      if (trial % 7 == 0) w[trial % 32] *= 6.0f;  // outliers
      uint8_t c1[32], c2[32];
      uint16_t s1, s2;
      const QuantError rtn = QuantizeGroup(k, QuantScheme::kRoundToNearest, w, 32, c1, &s1);
      const QuantError srch = QuantizeGroup(k, QuantScheme::kSearch, w, 32, c2, &s2);
      REQUIRE(srch.noise <= rtn.noise * (1 + 1e-9));
      // The reported error is the error of what was stored.
      double noise = 0;
      for (int i = 0; i < 32; ++i) {
        const double e = w[i] - double(HalfToFloat(s2)) * (int(c2[i]) - simd::QuantZeroPoint(k));
        noise += e * e;
      }
      REQUIRE(noise == doctest::Approx(srch.noise).epsilon(1e-9));
      rtn_total.Add(rtn);
      search_total.Add(srch);
    }
    const double gain = search_total.SnrDb() - rtn_total.SnrDb();
    std::printf("Q%d gaussian groups: round-to-nearest SNR %.2f dB, searched %.2f dB (+%.2f dB)\n",
                k == QuantKind::kQ4 ? 4 : 8, rtn_total.SnrDb(), search_total.SnrDb(), gain);
    CHECK(gain > (k == QuantKind::kQ4 ? 0.3 : 0.5));  // measured: +0.38 dB and +0.85 dB
  }
}

TEST_CASE("Q4NL: the non-uniform grid beats the Q4_0 rule at the same 4.5 bits per weight") {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::student_t_distribution<float> heavy(5.0f);
  for (const char* dist : {"normal", "student-t(5)"}) {
    QuantError rtn_total, uniform_total, nl_total;
    for (int trial = 0; trial < 3000; ++trial) {
      float w[32];
      for (float& v : w) v = dist[0] == 'n' ? normal(rng) : 0.02f * heavy(rng);
      uint8_t codes[32];
      uint16_t scale;
      rtn_total.Add(QuantizeGroup(QuantKind::kQ4, QuantScheme::kRoundToNearest, w, 32, codes, &scale));
      uniform_total.Add(QuantizeGroup(QuantKind::kQ4, QuantScheme::kSearch, w, 32, codes, &scale));
      const QuantError nl = QuantizeGroup(QuantKind::kQ4NL, QuantScheme::kSearch, w, 32, codes, &scale);
      double noise = 0;  // the reported error is the error of what was stored
      for (int i = 0; i < 32; ++i) {
        REQUIRE(codes[i] < 16);
        const double e = w[i] - double(HalfToFloat(scale)) * simd::QuantCodeValue(QuantKind::kQ4NL, codes[i]);
        noise += e * e;
      }
      REQUIRE(noise == doctest::Approx(nl.noise).epsilon(1e-9));
      nl_total.Add(nl);
    }
    std::printf("Q4 %s groups: Q4_0 rule %.2f dB, uniform grid searched %.2f dB, Q4NL %.2f dB (+%.2f dB, MSE × %.2f)\n",
                dist, rtn_total.SnrDb(), uniform_total.SnrDb(), nl_total.SnrDb(), nl_total.SnrDb() - rtn_total.SnrDb(),
                nl_total.noise / rtn_total.noise);
    CHECK(nl_total.SnrDb() - rtn_total.SnrDb() > 1.1);  // measured in NumPy: +1.4 dB normal, +1.8 dB t(5)
  }
}

TEST_CASE("odd widths: padding inputs hold the padding code and dequantize to nothing") {
  for (QuantKind k : {QuantKind::kQ4, QuantKind::kQ8, QuantKind::kQ4NL}) {
    for (size_t cols : {16, 48, 33}) {
      const size_t rows = 19;
      const auto w = test::RandomFloats(rows * cols, 3);
      std::vector<uint8_t> packed(simd::QuantMatrixBytes(k, rows, cols));
      const QuantError e = QuantizeMatrix(k, QuantScheme::kSearch, w.data(), rows, cols, packed.data());
      CHECK(e.SnrDb() > (k == QuantKind::kQ8 ? 38.0 : 15.0));
      std::vector<float> row(cols);
      for (size_t r = 0; r < rows; ++r) {
        simd::DequantizeRow(k, packed.data(), cols, r, row.data());
        const uint8_t* tile = packed.data() + (r / 16) * simd::QuantTileBytes(k, cols);
        for (size_t i = cols; i < simd::QuantGroups(cols) * 32; ++i) {
          REQUIRE(simd::QuantTileCode(k, cols, tile, r % 16, i) == simd::QuantPaddingCode(k));
        }
        for (size_t i = 0; i < cols; ++i) REQUIRE(std::fabs(row[i] - w[r * cols + i]) < (k == QuantKind::kQ8 ? 0.01 : 0.15));
      }
      // Padding rows of the last tile: padding code and zero scale.
      const uint8_t* last = packed.data() + (rows / 16) * simd::QuantTileBytes(k, cols);
      CHECK(simd::QuantTileScale(k, cols, last, 15, 0) == 0);
      CHECK(simd::QuantTileCode(k, cols, last, 15, 0) == simd::QuantPaddingCode(k));
    }
  }
}

}  // namespace
}  // namespace glmv::quant
