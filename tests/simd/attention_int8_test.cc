// FlashAttention over int8 keys and values (KvPool's quad layout, a scale per position): the AVX512-VNNI loops
// give the bits of their plain-C++ emulation; every target's kernel agrees with the int8 scalar twin, and with
// a two-pass softmax in double over the same dequantized keys and values (within what quantizing the query and
// the weights costs); a row's output is bit-identical however rows are split; Spans page by page equal one call.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "simd/attention.h"
#include "simd/attention_int8.h"
#include "tests/simd/attention_checks.h"
#include "tests/simd/attention_two_pass.h"
#include "tests/test_util.h"

namespace glmv::simd {
namespace {

uint32_t Word(const int8_t* bytes) {
  uint32_t w;
  std::memcpy(&w, bytes, 4);
  return w;
}

// One kv-head over `length` positions in pages of P, in the int8 layout, and its keys and values dequantized.
struct Case {
  size_t hd, group, P, length, rows, quads;
  std::vector<std::vector<uint32_t>> k_pages, v_pages;
  std::vector<const uint32_t*> k_ptrs, v_ptrs;
  std::vector<float> keys, values;  // [length][hd], as dequantized
  std::vector<float> q;
  size_t q_stride;

  Case(size_t hd_, size_t group_, size_t P_, size_t length_, size_t rows_, float q_gain, uint32_t seed)
      : hd(hd_), group(group_), P(P_), length(length_), rows(rows_), quads((hd_ + 3) / 4) {
    const size_t pages = (length + P - 1) / P;
    const auto k_in = test::RandomFloats(length * hd, seed), v_in = test::RandomFloats(length * hd, seed + 1);
    keys.resize(length * hd);
    values.resize(length * hd);
    for (size_t p = 0; p < pages; ++p) {
      k_pages.emplace_back(Int8KeyScalesOffset(hd, P) + P, 0x80808080u);  // pads: the biased zero
      v_pages.emplace_back(Int8ValueScalesOffset(hd, P) + P, 0u);
    }
    std::vector<int8_t> codes(hd);
    for (size_t t = 0; t < length; ++t) {
      const size_t j = t % P;
      auto* kb = reinterpret_cast<uint8_t*>(k_pages[t / P].data());
      auto* vb = reinterpret_cast<uint8_t*>(v_pages[t / P].data());
      const float ks = QuantizeInt8(k_in.data() + t * hd, hd, codes.data());
      std::memcpy(kb + (Int8KeyScalesOffset(hd, P) + j) * 4, &ks, 4);
      for (size_t e = 0; e < hd; ++e) {
        kb[((e / 4) * P + j) * 4 + e % 4] = static_cast<uint8_t>(codes[e] + kInt8KeyBias);
        keys[t * hd + e] = static_cast<float>(codes[e]) * ks;
      }
      const float vs = QuantizeInt8(v_in.data() + t * hd, hd, codes.data());
      std::memcpy(vb + (Int8ValueScalesOffset(hd, P) + j) * 4, &vs, 4);
      for (size_t e = 0; e < hd; ++e) {
        vb[((j / 4) * hd + e) * 4 + j % 4] = static_cast<uint8_t>(codes[e]);
        values[t * hd + e] = static_cast<float>(codes[e]) * vs;
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
  KvHeadPagesInt8 kv() const { return {k_ptrs, v_ptrs, P}; }
  size_t start() const { return length - rows; }
  float scale() const { return 1.0f / std::sqrt(static_cast<float>(hd)); }

  template <typename Fn>
  void Run(Fn fn, size_t r0, size_t n, std::vector<float>& out) const {
    std::vector<float> state(FlashAttentionStateFloats(group, n, hd));
    const AttentionQueries a{q.data() + r0 * q_stride, q_stride, out.data() + r0 * q_stride, q_stride, start() + r0, n};
    fn(kv(), hd, group, scale(), a, state.data());
  }

  // Two-pass softmax in double over the dequantized keys and values, with the f32 queries.
  std::vector<float> Naive() const {
    return test::TwoPassAttention(
        q, q_stride, rows, start(), group, hd, scale(), [&](size_t t, size_t e) { return keys[t * hd + e]; },
        [&](size_t t, size_t e) { return values[t * hd + e]; });
  }
};

TEST_CASE("int8 quantization: scales, codes and round-to-nearest-even") {
  const float x[5] = {63.5f, -127.0f, 0.5f, 1.5f, 0.0f};  // absmax 127: codes are the values rounded
  int8_t codes[5];
  const float s = QuantizeInt8(x, 5, codes);
  CHECK(s == 1.0f);
  CHECK(codes[1] == -127);
  CHECK(codes[0] == 64);  // 63.5 rounds to even
  CHECK(codes[2] == 0);   // 0.5 rounds to even
  CHECK(codes[3] == 2);   // 1.5 rounds to even
  CHECK(codes[4] == 0);
  const float zeros[3] = {0, 0, 0};
  CHECK(QuantizeInt8(zeros, 3, codes) == 0.0f);
  CHECK(codes[0] == 0);
  // Weights: the largest becomes 255, positions outside [lead, lead + count) 0, all-zero weights scale 0.
  const float p[3] = {1.0f, 0.5f, 0.25f}, vs[8] = {9, 1, 1, 1, 9, 9, 9, 9};
  uint8_t w[8];
  const float ws = QuantizeWeightsInt8(p, 3, 1, 2, vs, w);
  CHECK(ws == 1.0f / 255.0f);
  CHECK(w[0] == 0);
  CHECK(w[1] == 255);
  CHECK(w[2] == 128);  // 127.5 rounds to even
  CHECK(w[3] == 64);   // 63.75
  CHECK(w[4] == 0);
  const float p0[2] = {0, 0};
  CHECK(QuantizeWeightsInt8(p0, 2, 0, 1, vs, w) == 0.0f);
  CHECK(w[0] == 0);
}

TEST_CASE("int8 dot-product loops: AVX512-VNNI gives the emulation's bits") {
  if (BestInt8Dot() != Int8Dot::kNative) {
    MESSAGE("this CPU has no AVX512-VNNI: only the emulation runs (the other tests cover it)");
    return;
  }
  size_t compared = 0;
  for (size_t P : {size_t{5}, size_t{16}, size_t{40}}) {
    for (size_t quads : {size_t{1}, size_t{7}, size_t{32}}) {
      for (size_t count : {size_t{1}, size_t{5}, size_t{16}, size_t{17}, size_t{32}}) {
        const size_t room = std::max(count, std::min<size_t>(P, 32));
        const size_t cols = std::max(P, room);
        const auto kf = test::RandomFloats(quads * cols * 4 + cols, static_cast<uint32_t>(P * 1000 + quads * 10 + count));
        std::vector<uint32_t> kp(quads * cols), qw(kInt8QueryBlock * quads);
        for (size_t i = 0; i < kp.size(); ++i) {
          int8_t b[4];
          for (size_t x = 0; x < 4; ++x) b[x] = static_cast<int8_t>(std::lround(kf[4 * i + x] * 127.0f));
          kp[i] = Word(b);
        }
        std::vector<float> ks(cols);
        for (size_t j = 0; j < cols; ++j) ks[j] = std::fabs(kf[quads * cols * 4 + j]) + 0.01f;
        const auto qf = test::RandomFloats(kInt8QueryBlock * quads * 4, 5);
        for (size_t i = 0; i < qw.size(); ++i) {
          int8_t b[4];
          for (size_t x = 0; x < 4; ++x) b[x] = static_cast<int8_t>(std::lround(qf[4 * i + x] * 127.0f));
          qw[i] = Word(b);  // queries transposed: quad r of query b at qw[r·kInt8QueryBlock + b]
        }
        int32_t bias[kInt8QueryBlock];
        float qs[kInt8QueryBlock];
        for (size_t b = 0; b < kInt8QueryBlock; ++b) {
          bias[b] = static_cast<int32_t>(b * 1000) - 5000;
          qs[b] = 0.001f * static_cast<float>(b + 1);
        }
        const Int8QueryBlock q{qw.data(), kInt8QueryBlock, bias, qs};
        float s_native[kInt8QueryBlock][kInt8TileKeys] = {}, s_emulated[kInt8QueryBlock][kInt8TileKeys] = {};
        ScoresInt8(Int8Dot::kNative, q, kp.data(), ks.data(), cols, room, quads, count, s_native);
        ScoresInt8(Int8Dot::kEmulated, q, kp.data(), ks.data(), cols, room, quads, count, s_emulated);
        for (size_t b = 0; b < kInt8QueryBlock; ++b) {
          for (size_t j = 0; j < count; ++j) {
            REQUIRE(s_native[b][j] == s_emulated[b][j]);
            ++compared;
          }
        }
      }
    }
  }
  for (size_t hd : {size_t{8}, size_t{20}, size_t{128}}) {
    for (size_t len : {size_t{1}, size_t{3}, size_t{17}, size_t{32}}) {
      for (size_t lead : {size_t{0}, size_t{1}, size_t{3}}) {
        for (size_t queries : {size_t{1}, size_t{4}, kInt8QueryBlock}) {
          const size_t quad_count = (lead + len + 3) / 4;
          const auto vf = test::RandomFloats(quad_count * hd * 4 + 4 * quad_count, static_cast<uint32_t>(hd + len + lead));
          std::vector<uint32_t> vp(quad_count * hd);
          for (size_t i = 0; i < vp.size(); ++i) {
            int8_t b[4];
            for (size_t x = 0; x < 4; ++x) b[x] = static_cast<int8_t>(std::lround(vf[4 * i + x] * 127.0f));
            vp[i] = Word(b);
          }
          std::vector<float> vs(4 * quad_count);
          for (size_t k = 0; k < vs.size(); ++k) vs[k] = std::fabs(vf[quad_count * hd * 4 + k]) + 0.01f;
          const auto pf = test::RandomFloats(kInt8QueryBlock * kInt8TileKeys, 3);
          float p[kInt8QueryBlock][kInt8TileKeys];
          size_t count[kInt8QueryBlock];
          for (size_t b = 0; b < kInt8QueryBlock; ++b) {
            count[b] = std::max<size_t>(1, len - b % len);  // queries of one block see different counts
            for (size_t j = 0; j < kInt8TileKeys; ++j) p[b][j] = std::fabs(pf[b * kInt8TileKeys + j]);
          }
          for (size_t j = 0; j < kInt8TileKeys; ++j) p[2][j] = 0.0f;  // a query whose weights are all zero
          float corr[kInt8QueryBlock];
          for (size_t b = 0; b < kInt8QueryBlock; ++b) corr[b] = 1.0f / static_cast<float>(b + 1);
          const auto start = test::RandomFloats(kInt8QueryBlock * hd, 11);
          std::vector<float> a = start, e = start;
          float* out_a[kInt8QueryBlock];
          float* out_e[kInt8QueryBlock];
          for (size_t b = 0; b < kInt8QueryBlock; ++b) {
            out_a[b] = a.data() + b * hd;
            out_e[b] = e.data() + b * hd;
          }
          AccumulateInt8(Int8Dot::kNative, p, count, lead, quad_count, vs.data(), corr, vp.data(), hd, out_a, queries);
          AccumulateInt8(Int8Dot::kEmulated, p, count, lead, quad_count, vs.data(), corr, vp.data(), hd, out_e, queries);
          for (size_t i = 0; i < a.size(); ++i) {
            REQUIRE(a[i] == e[i]);  // queries past `queries` untouched on both sides
            ++compared;
          }
          CHECK(a != start);
        }
      }
    }
  }
  MESSAGE(compared << " scores and outputs bit-identical, AVX512-VNNI against its emulation");
}

// The twin quantizes the same queries and weights with the kernel's own functions and sums integers exactly:
// it differs from the kernel only in exp (Highway's against std::exp) and in summing the output in double, so a
// weight sitting on a byte's rounding boundary can round the other way (1/255 of the tile's largest weight).
// Against the two-pass softmax over the dequantized keys and values, quantizing the query (1/254 of its
// largest element) and the weights (1/510 of each tile's largest) moves an output by up to about 1 % of the
// values' spread of 2. Measured worst errors are printed.
constexpr double kTolTwin = 1e-2, kTolNaive = 6e-2;

TEST_CASE("int8 FlashAttention matches its scalar twin and a two-pass softmax on every target") {
  const std::string what = std::string("int8 FlashAttention (") + (BestInt8Dot() == Int8Dot::kNative ? "AVX512-VNNI" : "emulated") + ")";
  attention_checks::CheckAgainstTwinAndTwoPass<Case>(what, kTolTwin, kTolNaive);
}

TEST_CASE("int8 FlashAttention: row splits and page-by-page Spans give the one call's bits") {
  attention_checks::CheckRowSplitsAndSpans<Case, KvHeadPagesInt8>("int8");
}

}  // namespace
}  // namespace glmv::simd
