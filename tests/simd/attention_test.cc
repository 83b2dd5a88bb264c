// FlashAttention on every compiled target against its scalar twin and against a naive two-pass softmax in
// double, over head dims, group sizes, page sizes and lengths that are not multiples of the key tile; and the
// property the engine relies on: a row's output is bit-identical however rows are split between calls.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "simd/attention.h"
#include "tests/simd/attention_checks.h"
#include "tests/simd/attention_two_pass.h"
#include "tests/simd/for_each_target.h"
#include "tests/test_util.h"

namespace glmv::simd {
namespace {

// Keys and values of one kv-head over `length` positions in pages of P, plus `rows` query rows of `group`
// heads at positions [length − rows, length), with a row stride wider than the heads (as in the model,
// where q rows hold every kv-head's queries).
struct Case {
  size_t hd, group, P, length, rows;
  float q_gain;  // scores' spread: 1 gives near-uniform weights, 8 makes the running max move a lot
  std::vector<std::vector<float>> k_pages, v_pages;
  std::vector<const float*> k_ptrs, v_ptrs;
  std::vector<float> q;
  size_t q_stride;

  Case(size_t hd_, size_t group_, size_t P_, size_t length_, size_t rows_, float q_gain_, uint32_t seed)
      : hd(hd_), group(group_), P(P_), length(length_), rows(rows_), q_gain(q_gain_) {
    const size_t pages = (length + P - 1) / P;
    for (size_t p = 0; p < pages; ++p) {
      k_pages.push_back(test::RandomFloats(P * hd, seed + 2 * static_cast<uint32_t>(p)));
      v_pages.push_back(test::RandomFloats(P * hd, seed + 2 * static_cast<uint32_t>(p) + 1));
    }
    for (size_t p = 0; p < pages; ++p) {
      k_ptrs.push_back(k_pages[p].data());
      v_ptrs.push_back(v_pages[p].data());
    }
    q_stride = group * hd + 5;
    q = test::RandomFloats(rows * q_stride, seed + 9999);
    for (float& x : q) x *= q_gain;
  }
  KvHeadPages kv() const { return {k_ptrs, v_ptrs, P}; }
  size_t start() const { return length - rows; }
  float scale() const { return 1.0f / std::sqrt(static_cast<float>(hd)); }

  // Rows [r0, r0 + n) in one call of `fn`; out has the same stride as q.
  template <typename Fn>
  void Run(Fn fn, size_t r0, size_t n, std::vector<float>& out) const {
    std::vector<float> state(FlashAttentionStateFloats(group, n, hd));
    const AttentionQueries a{q.data() + r0 * q_stride, q_stride, out.data() + r0 * q_stride, q_stride, start() + r0, n};
    fn(kv(), hd, group, scale(), a, state.data());
  }

  // The definition (tests/simd/attention_two_pass.h); keys are transposed within a page: [hd][P].
  std::vector<float> Naive() const {
    return test::TwoPassAttention(
        q, q_stride, rows, start(), group, hd, scale(),
        [&](size_t t, size_t e) { return k_pages[t / P][e * P + t % P]; },
        [&](size_t t, size_t e) { return v_pages[t / P][(t % P) * hd + e]; });
  }
};

using attention_checks::MaxAbsErr;

// The f32 overloads (simd/attention.h has bf16 ones too).
using F32Attention = void (*)(const KvHeadPages&, size_t, size_t, float, const AttentionQueries&, float*);
const F32Attention kFlash = FlashAttention, kTwin = scalar::FlashAttention;

const size_t kHeadDims[] = {8, 16, 24, 32, 128};
const size_t kGroups[] = {1, 2, 3, 12};
const size_t kPages[] = {3, 16, 40, 64};
const size_t kLengths[] = {1, 7, 33, 200};

// Outputs are convex combinations of values in [−1, 1]; f32 dots, exp and sums over ≤ 200 positions stay
// well inside these (measured worst errors are printed).
constexpr double kTolTwin = 2e-5, kTolNaive = 2e-5;

TEST_CASE("FlashAttention matches its scalar twin and a two-pass softmax on every target") {
  test::ForEachTarget([](const std::string& target) {
    double worst_twin = 0, worst_naive = 0, worst_twin_naive = 0;
    uint32_t seed = 1;
    for (size_t hd : kHeadDims) {
      for (size_t group : kGroups) {
        for (size_t P : kPages) {
          for (size_t length : kLengths) {
            // decode (one row), a prefill of every position, and a prefill after a cached prefix
            for (size_t rows : {size_t{1}, length, length - length / 3}) {
              const Case c(hd, group, P, length, rows, seed % 2 ? 1.0f : 8.0f, seed);
              ++seed;
              std::vector<float> out(rows * c.q_stride, -7.0f), twin(rows * c.q_stride, -7.0f);
              c.Run(kFlash, 0, rows, out);
              c.Run(kTwin, 0, rows, twin);
              const auto naive = c.Naive();
              worst_twin = std::max(worst_twin, MaxAbsErr(c, out, twin));
              worst_naive = std::max(worst_naive, MaxAbsErr(c, out, naive));
              worst_twin_naive = std::max(worst_twin_naive, MaxAbsErr(c, twin, naive));
              // padding between rows is never written
              for (size_t r = 0; r < rows; ++r) CHECK(out[r * c.q_stride + group * hd] == -7.0f);
            }
          }
        }
      }
    }
    MESSAGE(target << " FlashAttention worst abs error vs scalar twin " << worst_twin << ", vs two-pass "
                   << worst_naive << " (twin vs two-pass " << worst_twin_naive << ")");
    CHECK(worst_twin < kTolTwin);
    CHECK(worst_naive < kTolNaive);
    CHECK(worst_twin_naive < kTolNaive);
  });
}

TEST_CASE("FlashAttention: a row's output does not depend on which rows share its call") {
  test::ForEachTarget([](const std::string& target) {
    size_t compared = 0;
    for (size_t group : {size_t{1}, size_t{3}, size_t{12}}) {
      for (size_t P : {size_t{5}, size_t{32}}) {
        const Case c(24, group, P, 75, 75, 8.0f, 77);
        std::vector<float> whole(c.rows * c.q_stride), split(c.rows * c.q_stride), single(c.rows * c.q_stride);
        c.Run(kFlash, 0, c.rows, whole);
        for (size_t r0 = 0; r0 < c.rows; r0 += 7) c.Run(kFlash, r0, std::min<size_t>(7, c.rows - r0), split);
        for (size_t r0 = 0; r0 < c.rows; ++r0) c.Run(kFlash, r0, 1, single);
        for (size_t r = 0; r < c.rows; ++r) {
          for (size_t i = 0; i < group * c.hd; ++i) {
            REQUIRE(whole[r * c.q_stride + i] == split[r * c.q_stride + i]);
            REQUIRE(whole[r * c.q_stride + i] == single[r * c.q_stride + i]);
            ++compared;
          }
        }
      }
    }
    MESSAGE(target << ": " << compared << " outputs bit-identical across row splits");
  });
}

TEST_CASE("FlashAttention in parts: Begin, page-aligned Spans in order, End give the one call's bits") {
  test::ForEachTarget([](const std::string& target) {
    size_t compared = 0;
    for (size_t P : {size_t{5}, size_t{16}, size_t{40}}) {
      for (size_t rows : {size_t{1}, size_t{9}}) {
        const Case c(32, 12, P, 137, rows, 8.0f, 91);
        std::vector<float> whole(c.rows * c.q_stride), parts(c.rows * c.q_stride);
        c.Run(kFlash, 0, c.rows, whole);
        // Spans of 1, 2, 3, ... pages, the last one past the end.
        c.Run([&](const KvHeadPages& kv, size_t hd, size_t group, float scale, const AttentionQueries& a, float* state) {
          FlashAttentionBegin(hd, group, a, state);
          for (size_t t = 0, pages = 1; t < a.start + a.rows; t += pages * P, ++pages) {
            FlashAttentionSpan(kv, hd, group, scale, a, t, t + pages * P, state);
          }
          FlashAttentionEnd(hd, group, a, state);
        }, 0, c.rows, parts);
        for (size_t r = 0; r < c.rows; ++r) {
          for (size_t i = 0; i < c.group * c.hd; ++i) {
            REQUIRE(whole[r * c.q_stride + i] == parts[r * c.q_stride + i]);
            ++compared;
          }
        }
      }
    }
    MESSAGE(target << ": " << compared << " outputs bit-identical in parts");
  });
}

}  // namespace
}  // namespace glmv::simd
