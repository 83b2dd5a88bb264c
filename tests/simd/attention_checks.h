// Checks the attention tests share, over a test's `Case` (one kv-head's pages in its type's layout, with rows,
// q_stride, group, hd, Run(fn, r0, n, out) and Naive()). The narrow key/value types (bf16, int8) share all of
// them: every target's FlashAttention against the type's scalar twin and a two-pass softmax in double over the
// same stored keys and values, and a row's bits however rows are split and Spans cover the pages.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "simd/attention.h"
#include "tests/simd/for_each_target.h"

namespace glmv::simd::attention_checks {

// Largest |a − b| over the head lanes (the padding floats of each row are skipped).
template <typename Case>
double MaxAbsErr(const Case& c, const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t r = 0; r < c.rows; ++r) {
    for (size_t i = 0; i < c.group * c.hd; ++i) {
      worst = std::max(worst, std::fabs(double(a[r * c.q_stride + i]) - b[r * c.q_stride + i]));
    }
  }
  return worst;
}

// Head dims (odd ones pad), groups, page sizes and lengths that are not multiples of the key tile; rows of
// one, all, and two thirds of the length. Prints the worst errors, labelled with `what`.
template <typename Case>
void CheckAgainstTwinAndTwoPass(const std::string& what, double tol_twin, double tol_naive) {
  test::ForEachTarget([&](const std::string& target) {
    double worst_twin = 0, worst_naive = 0;
    uint32_t seed = 1;
    for (size_t hd : {size_t{7}, size_t{8}, size_t{24}, size_t{128}}) {
      for (size_t group : {size_t{1}, size_t{3}, size_t{12}}) {
        for (size_t P : {size_t{3}, size_t{7}, size_t{16}, size_t{40}}) {
          for (size_t length : {size_t{1}, size_t{33}, size_t{200}}) {
            for (size_t rows : {size_t{1}, length, length - length / 3}) {
              const Case c(hd, group, P, length, rows, seed % 2 ? 1.0f : 8.0f, seed);
              ++seed;
              std::vector<float> out(rows * c.q_stride, -7.0f), twin(rows * c.q_stride, -7.0f);
              c.Run([](auto&&... a) { FlashAttention(a...); }, 0, rows, out);
              c.Run([](auto&&... a) { scalar::FlashAttention(a...); }, 0, rows, twin);
              worst_twin = std::max(worst_twin, MaxAbsErr(c, out, twin));
              worst_naive = std::max(worst_naive, MaxAbsErr(c, out, c.Naive()));
              for (size_t r = 0; r < rows; ++r) CHECK(out[r * c.q_stride + group * hd] == -7.0f);
            }
          }
        }
      }
    }
    MESSAGE(target << " " << what << ": worst abs error vs scalar twin " << worst_twin
                   << ", vs two-pass over the stored keys and values " << worst_naive);
    CHECK(worst_twin < tol_twin);
    CHECK(worst_naive < tol_naive);
  });
}

// Rows split in sevens, and Spans of one page each, give the one call's bits.
template <typename Case, typename Pages>
void CheckRowSplitsAndSpans(const std::string& what) {
  test::ForEachTarget([&](const std::string& target) {
    size_t compared = 0;
    for (size_t group : {size_t{1}, size_t{12}}) {
      for (size_t P : {size_t{5}, size_t{7}, size_t{32}}) {
        const Case c(24, group, P, 75, 75, 8.0f, 77);
        std::vector<float> whole(c.rows * c.q_stride), split(c.rows * c.q_stride), parts(c.rows * c.q_stride);
        auto flash = [](auto&&... a) { FlashAttention(a...); };
        c.Run(flash, 0, c.rows, whole);
        for (size_t r0 = 0; r0 < c.rows; r0 += 7) c.Run(flash, r0, std::min<size_t>(7, c.rows - r0), split);
        c.Run([&](const Pages& kv, size_t hd, size_t g, float scale, const AttentionQueries& a, float* state) {
          FlashAttentionBegin(hd, g, a, state);
          for (size_t t = 0; t < a.start + a.rows; t += P) FlashAttentionSpan(kv, hd, g, scale, a, t, t + P, state);
          FlashAttentionEnd(hd, g, a, state);
        }, 0, c.rows, parts);
        for (size_t r = 0; r < c.rows; ++r) {
          for (size_t i = 0; i < group * c.hd; ++i) {
            REQUIRE(whole[r * c.q_stride + i] == split[r * c.q_stride + i]);
            REQUIRE(whole[r * c.q_stride + i] == parts[r * c.q_stride + i]);
            ++compared;
          }
        }
      }
    }
    MESSAGE(target << ": " << compared << " " << what << " outputs bit-identical across row splits and Spans");
  });
}

}  // namespace glmv::simd::attention_checks
