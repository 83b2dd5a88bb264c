// FlashAttention over bf16 keys and values (KvPool's pair layout): the AVX512-BF16 loops give the bits of
// their plain-C++ emulation; every target's kernel agrees with the bf16 scalar twin, and with a two-pass
// softmax in double over the same rounded keys and values (within what rounding the query and the weights
// to bf16 costs); a row's output is bit-identical however rows are split; Spans page by page equal one call.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "simd/attention.h"
#include "simd/attention_bf16.h"
#include "tests/simd/attention_checks.h"
#include "tests/simd/attention_two_pass.h"
#include "tests/test_util.h"

namespace glmv::simd {
namespace {

// One kv-head over `length` positions in pages of P, in the bf16 pair layout, and its values as floats.
struct Case {
  size_t hd, group, P, length, rows, pairs;
  std::vector<std::vector<uint32_t>> k_pages, v_pages;
  std::vector<const uint32_t*> k_ptrs, v_ptrs;
  std::vector<float> keys, values;  // [length][hd], as rounded
  std::vector<float> q;
  size_t q_stride;

  Case(size_t hd_, size_t group_, size_t P_, size_t length_, size_t rows_, float q_gain, uint32_t seed)
      : hd(hd_), group(group_), P(P_), length(length_), rows(rows_), pairs((hd_ + 1) / 2) {
    const size_t pages = (length + P - 1) / P;
    const auto k_in = test::RandomFloats(length * hd, seed), v_in = test::RandomFloats(length * hd, seed + 1);
    keys.resize(length * hd);
    values.resize(length * hd);
    for (size_t p = 0; p < pages; ++p) {
      k_pages.emplace_back(pairs * P, 0u);
      v_pages.emplace_back((P + 1) / 2 * hd, 0u);
    }
    for (size_t t = 0; t < length; ++t) {
      for (size_t e = 0; e < hd; ++e) {
        const uint32_t kb = RoundToBF16(k_in[t * hd + e]), vb = RoundToBF16(v_in[t * hd + e]);
        k_pages[t / P][(e / 2) * P + t % P] |= kb << (16 * (e % 2));
        v_pages[t / P][((t % P) / 2) * hd + e] |= vb << (16 * ((t % P) % 2));
        keys[t * hd + e] = WidenBF16Half(kb, 0);
        values[t * hd + e] = WidenBF16Half(vb, 0);
      }
    }
    for (size_t p = 0; p < pages; ++p) {
      k_ptrs.push_back(k_pages[p].data());
      v_ptrs.push_back(v_pages[p].data());
    }
    q_stride = group * hd + 5;
    q = test::RandomFloats(rows * q_stride, seed + 9999);
    for (float& x : q) x *= q_gain;
  }
  KvHeadPagesBF16 kv() const { return {k_ptrs, v_ptrs, P}; }
  size_t start() const { return length - rows; }
  float scale() const { return 1.0f / std::sqrt(static_cast<float>(hd)); }

  template <typename Fn>
  void Run(Fn fn, size_t r0, size_t n, std::vector<float>& out) const {
    std::vector<float> state(FlashAttentionStateFloats(group, n, hd));
    const AttentionQueries a{q.data() + r0 * q_stride, q_stride, out.data() + r0 * q_stride, q_stride, start() + r0, n};
    fn(kv(), hd, group, scale(), a, state.data());
  }

  // Two-pass softmax in double over the rounded keys and values, with the f32 queries.
  std::vector<float> Naive() const {
    return test::TwoPassAttention(
        q, q_stride, rows, start(), group, hd, scale(), [&](size_t t, size_t e) { return keys[t * hd + e]; },
        [&](size_t t, size_t e) { return values[t * hd + e]; });
  }
};

TEST_CASE("prefetch: a loop's steps fetch every line of the next tile's run once") {
  // The kernels fetch PrefetchLinesPerStep lines per step of their loop: whatever the run's alignment and
  // length, the steps together must reach every line of it (a missed line is a stall on the next tile).
  alignas(64) static char buf[64 * 200];
  size_t runs = 0;
  for (size_t offset : {0, 4, 60}) {
    for (size_t bytes : {4, 64, 128, 1000, 4096, 8192}) {
      for (size_t steps : {1, 8, 64, 128}) {
        const simd::PrefetchRun run{buf + offset, bytes};
        const size_t per = simd::PrefetchLinesPerStep(run, steps);
        std::vector<int> fetched(200, 0);
        for (size_t step = 0; step < steps; ++step) {
          const simd::LineRange r = simd::PrefetchLineRange(run, step * per, per);
          for (uintptr_t a = r.begin; a < r.end; a += 64) ++fetched[(a - reinterpret_cast<uintptr_t>(buf)) / 64];
        }
        const size_t first = offset / 64, last = (offset + bytes - 1) / 64;
        for (size_t line = 0; line < fetched.size(); ++line) {
          CAPTURE(offset);
          CAPTURE(bytes);
          CAPTURE(steps);
          CAPTURE(line);
          CHECK(fetched[line] == (line >= first && line <= last ? 1 : 0));
        }
        // No more than one line per step beyond what the run needs: spread, not front-loaded in a burst.
        CHECK(per <= (last - first + 1 + steps - 1) / steps);
        ++runs;
      }
    }
  }
  CHECK(runs == 72);
}

TEST_CASE("bf16 dot-product loops: AVX512-BF16 gives the emulation's bits") {
  if (BestBF16Dot() != BF16Dot::kNative) {
    MESSAGE("this CPU has no AVX512-BF16: only the emulation runs (the other tests cover it)");
    return;
  }
  size_t compared = 0;
  for (size_t P : {size_t{5}, size_t{16}, size_t{40}}) {
    for (size_t pairs : {size_t{1}, size_t{7}, size_t{64}}) {
      for (size_t count : {size_t{1}, size_t{5}, size_t{16}, size_t{17}, size_t{32}}) {
        const size_t room = std::max(count, std::min<size_t>(P, 32));
        const size_t cols = std::max(P, room);
        const auto kf = test::RandomFloats(pairs * cols * 2, static_cast<uint32_t>(P * 1000 + pairs * 10 + count));
        const auto qf = test::RandomFloats(kBF16QueryBlock * pairs * 2, 5);
        std::vector<uint32_t> kp(pairs * cols), qw(kBF16QueryBlock * pairs);
        for (size_t i = 0; i < kp.size(); ++i) kp[i] = PackBF16Pair(kf[2 * i], kf[2 * i + 1]);
        // queries transposed: pair r of query b at qw[r·kBF16QueryBlock + b]
        for (size_t i = 0; i < qw.size(); ++i) qw[i] = PackBF16Pair(4 * qf[2 * i], 4 * qf[2 * i + 1]);
        float s_native[kBF16QueryBlock][kBF16TileKeys] = {}, s_emulated[kBF16QueryBlock][kBF16TileKeys] = {};
        ScoresBF16(BF16Dot::kNative, qw.data(), kBF16QueryBlock, kp.data(), cols, room, pairs, count, 0.125f, s_native);
        ScoresBF16(BF16Dot::kEmulated, qw.data(), kBF16QueryBlock, kp.data(), cols, room, pairs, count, 0.125f, s_emulated);
        for (size_t b = 0; b < kBF16QueryBlock; ++b) {
          for (size_t j = 0; j < count; ++j) {
            REQUIRE(s_native[b][j] == s_emulated[b][j]);
            ++compared;
          }
        }
      }
    }
  }
  for (size_t hd : {size_t{8}, size_t{20}, size_t{128}}) {
    for (size_t len : {size_t{1}, size_t{2}, size_t{17}, size_t{32}}) {
      for (size_t lead : {size_t{0}, size_t{1}}) {
        for (size_t queries : {size_t{1}, size_t{4}, kBF16QueryBlock}) {
          const size_t pair_count = (lead + len + 1) / 2;
          const auto vf = test::RandomFloats(pair_count * hd * 2, static_cast<uint32_t>(hd + len + lead));
          const auto pf = test::RandomFloats(kBF16QueryBlock * kBF16TileKeys, 3);
          std::vector<uint32_t> vp(pair_count * hd);
          for (size_t i = 0; i < vp.size(); ++i) vp[i] = PackBF16Pair(vf[2 * i], vf[2 * i + 1]);
          float p[kBF16QueryBlock][kBF16TileKeys];
          size_t count[kBF16QueryBlock];
          for (size_t b = 0; b < kBF16QueryBlock; ++b) {
            count[b] = std::max<size_t>(1, len - b % len);  // queries of one block see different counts
            for (size_t j = 0; j < kBF16TileKeys; ++j) p[b][j] = std::fabs(pf[b * kBF16TileKeys + j]);
          }
          p[1][0] = 1e-39f;  // a denormal weight: both sides flush it
          float corr[kBF16QueryBlock];
          for (size_t b = 0; b < kBF16QueryBlock; ++b) corr[b] = 1.0f / static_cast<float>(b + 1);
          const auto start = test::RandomFloats(kBF16QueryBlock * hd, 11);
          std::vector<float> a = start, e = start;
          float* out_a[kBF16QueryBlock];
          float* out_e[kBF16QueryBlock];
          for (size_t b = 0; b < kBF16QueryBlock; ++b) {
            out_a[b] = a.data() + b * hd;
            out_e[b] = e.data() + b * hd;
          }
          AccumulateBF16(BF16Dot::kNative, p, count, lead, pair_count, corr, vp.data(), hd, out_a, queries);
          AccumulateBF16(BF16Dot::kEmulated, p, count, lead, pair_count, corr, vp.data(), hd, out_e, queries);
          for (size_t i = 0; i < a.size(); ++i) {
            REQUIRE(a[i] == e[i]);  // queries past `queries` untouched on both sides
            ++compared;
          }
          CHECK(a != start);
        }
      }
    }
  }
  MESSAGE(compared << " scores and outputs bit-identical, AVX512-BF16 against its emulation");
}

// Rounding each query and each tile's softmax weights to bf16 (8 significant bits) moves an output by up to
// about 2^-8 of its spread: the two-pass softmax in double keeps f32 queries and weights. The twin rounds the
// same numbers, but its scores (double sums) can differ from the kernel's (f32 chains) in the last bit, and a
// weight that sits on a bf16 rounding boundary then rounds the other way: 2^-8 of that weight (one dominant
// weight moves an output up to 4e-3 of the values' spread of 2). Measured worst errors are printed.
constexpr double kTolTwin = 2e-3, kTolNaive = 2e-2;

TEST_CASE("bf16 FlashAttention matches its scalar twin and a two-pass softmax on every target") {
  const std::string what = std::string("bf16 FlashAttention (") + (BestBF16Dot() == BF16Dot::kNative ? "AVX512-BF16" : "emulated") + ")";
  attention_checks::CheckAgainstTwinAndTwoPass<Case>(what, kTolTwin, kTolNaive);
}

TEST_CASE("bf16 FlashAttention: row splits and page-by-page Spans give the one call's bits") {
  attention_checks::CheckRowSplitsAndSpans<Case, KvHeadPagesBF16>("bf16");
}

}  // namespace
}  // namespace glmv::simd
