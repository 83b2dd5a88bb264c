// Packed int4 / int8 and bf16 linear layers at GLM-4.5V's real shapes, the way the runtime calls them
// (through lib/linear.cc's Linear: activations quantized on the calling thread — twice for up to 4 tokens
// under the default --act-precision auto — then ParallelFor over tiles of 16 rows; bf16 for 8+ tokens is
// widened per call and run by oneDNN).
//
// Decode (one token) is a matrix-vector product bound by memory bandwidth, so it is reported as GB/s of
// weight bytes streamed and as a ratio of the read bandwidth measured first in the same run. Each pass
// cycles through distinct weight matrices totalling ≥ --gib GiB, so no cache holds them between calls;
// the best pass counts and `spread` says how much slower the worst was. Small batches (4, 16, 64 tokens)
// show the path prefill and batched decode take: GFLOP/s-equivalent (2·rows·cols·tokens) and token-rows/s.
// Activation quantization is inside the timed call: it is part of the real cost.
//
//   bench_quant [--threads N (2)] [--passes N (7; batches use half)] [--gib G (1)]
//               [--shapes expert_up,...] [--formats q4,q4nl,q8,bf16] [--tokens 1,4,16,64 (any of 1..64)]
//               [--act-precision auto|int8|int8x2 (auto, the runtime's default)]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "benchmarks/bench_util.h"
#include "lib/model/linear.h"
#include "lib/base/parallel.h"
#include "quant/quantize.h"
#include "simd/kernels_bf16.h"
#include "simd/kernels_quant.h"
#include "simd/quant_layout.h"

using namespace glmv;

namespace {

ActPrecision g_precision = ActPrecision::kAuto;  // --act-precision (this program's own setting)
constexpr size_t kDecodeRows = 8;  // calls of at most this many tokens are measured as decode rows

struct Shape {
  const char* name;
  size_t rows, cols;  // out × in
};
// GLM-4.5V's text decoder: hidden 4096, routed experts of width 1408, 96 query heads and 8 K/V heads of
// 128, a 151552-token vocabulary.
constexpr Shape kShapes[] = {
    {"expert_up", 1408, 4096},   {"expert_down", 4096, 1408}, {"attn_q", 12288, 4096},
    {"attn_o", 4096, 12288},     {"attn_kv", 1024, 4096},     {"lm_head", 151552, 4096},
};

// q4nl: int4 codes on the non-uniform grid convert writes by default (simd/quant_layout.h), same bytes as q4.
enum class Format { kQ4, kQ4NL, kQ8, kBF16 };
constexpr Format kFormats[] = {Format::kQ4, Format::kQ4NL, Format::kQ8, Format::kBF16};
const char* FormatName(Format f) {
  return f == Format::kQ4 ? "q4" : f == Format::kQ4NL ? "q4nl" : f == Format::kQ8 ? "q8" : "bf16";
}
simd::QuantKind KindOf(Format f) {
  return f == Format::kQ4 ? simd::QuantKind::kQ4 : f == Format::kQ4NL ? simd::QuantKind::kQ4NL : simd::QuantKind::kQ8;
}

size_t MatrixBytes(Format f, const Shape& s) {
  if (f == Format::kBF16) return s.rows * s.cols * sizeof(uint16_t);
  return simd::QuantMatrixBytes(KindOf(f), s.rows, s.cols);
}


// `copies` matrices of shape s, back to back in `w`. Quantized: a pool of tiles packed by
// simd::PackQuantTile from random codes and scales, copied in a scattered order (contents do not change
// the bandwidth; distinct addresses do). bf16: random signs and mantissas around 2^-7. Written by the
// benchmark's threads, so pages are first touched where they are read.
void Fill(Format f, const Shape& s, size_t copies, uint8_t* w) {
  if (f == Format::kBF16) {
    auto* p = reinterpret_cast<uint16_t*>(w);
    const size_t n = copies * s.rows * s.cols;
    ParallelFor(n, 1 << 20, [&](size_t b, size_t e, size_t) {
      for (size_t i = b; i < e; ++i) p[i] = static_cast<uint16_t>(0x3c00 | (bench::Hash(i) & 0x807f));
    });
    return;
  }
  bench::FillPackedTiles(KindOf(f), s.cols, copies * simd::QuantTiles(s.rows), w);
}

// The runtime's own call (lib/linear.cc): activations quantized (once, or twice under int8x2 — the
// default for decode), then tiles of 16 rows split across threads. y [n, rows] = W [rows, cols] · x.
void Call(LinearContext& cx, Format f, const Shape& s, const uint8_t* w, size_t n, const std::vector<float>& x,
          std::vector<float>& y) {
  Weight weight;
  weight.shape = {static_cast<int64_t>(s.rows), static_cast<int64_t>(s.cols)};
  if (f == Format::kBF16) {
    weight.bf16 = reinterpret_cast<const uint16_t*>(w);
    weight.dtype = DType::kBF16;
  } else {
    weight.packed = w;
    weight.dtype = f == Format::kQ4 ? DType::kQ4G32 : f == Format::kQ4NL ? DType::kQ4NLG32 : DType::kQ8G32;
  }
  // Calls of up to kDecodeRows tokens stand for decode steps (one row per sequence), larger ones for prefill.
  Linear(cx, weight, nullptr, x.data(), n, y.data(), ActRows{.all = ActQuantFor(g_precision, n <= kDecodeRows)});
}

std::vector<std::string> SplitList(const char* s) {
  std::vector<std::string> out;
  std::string cur;
  for (const char* p = s;; ++p) {
    if (*p == ',' || *p == 0) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
      if (*p == 0) break;
    } else {
      cur += *p;
    }
  }
  return out;
}

bool Wanted(const std::vector<std::string>& list, const std::string& name) {
  return list.empty() || std::find(list.begin(), list.end(), name) != list.end();
}

double LoadAverage1() {
  std::ifstream f("/proc/loadavg");
  double l = -1;
  f >> l;
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, passes = 7;
  double gib = 1.0;
  std::vector<std::string> shapes, formats, tokens_list;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--passes")) passes = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--gib")) gib = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--shapes")) shapes = SplitList(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--formats")) formats = SplitList(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--tokens")) tokens_list = SplitList(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--act-precision")) {
      auto p = ParseActPrecision(argv[i + 1]);
      if (!p.ok()) {
        std::fprintf(stderr, "bench_quant: %s\n", p.status().message().c_str());
        return 2;
      }
      g_precision = *p;
    }
    else {
      std::fprintf(stderr, "bench_quant: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  SetNumThreads(threads);
  const double bw = bench::MeasureReadBandwidth();
  bench::Emit({{"bench", "read_bandwidth"}, {"bytes_per_s", bw}, {"threads", NumThreads()},
               {"quant_target", simd::QuantTargetName()}, {"load_1min", LoadAverage1()},
               {"act_precision", ActPrecisionName(g_precision)}});

  const size_t min_bytes = static_cast<size_t>(gib * double(size_t{1} << 30));
  constexpr size_t kMaxTokens = 64;
  // --tokens: any counts from 1 to kMaxTokens (default 1, 4, 16, 64).
  std::vector<size_t> token_counts = {1, 4, 16, 64};
  if (!tokens_list.empty()) {
    token_counts.clear();
    for (const auto& t : tokens_list) {
      const long n = std::atol(t.c_str());
      if (n < 1 || n > static_cast<long>(kMaxTokens)) {
        std::fprintf(stderr, "bench_quant: --tokens takes counts from 1 to %zu, not '%s'\n", kMaxTokens, t.c_str());
        return 2;
      }
      token_counts.push_back(static_cast<size_t>(n));
    }
  }
  size_t buffer_bytes = 0, max_cols = 0, max_rows = 0;
  for (const auto& s : kShapes) {
    max_cols = std::max(max_cols, s.cols), max_rows = std::max(max_rows, s.rows);
    for (Format f : kFormats) {
      const size_t per = MatrixBytes(f, s);
      buffer_bytes = std::max(buffer_bytes, (min_bytes + per - 1) / per * per);
    }
  }
  // Page-aligned like a mapped model file; allocated once and refilled per (shape, format).
  std::unique_ptr<uint8_t, decltype(&std::free)> w(static_cast<uint8_t*>(std::aligned_alloc(4096, buffer_bytes)),
                                                   &std::free);
  std::vector<float> x(kMaxTokens * max_cols), y(kMaxTokens * max_rows);
  LinearContext cx;
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(bench::Hash(i) % 2001) / 1000.0f - 1.0f;

  for (const auto& s : kShapes) {
    if (!Wanted(shapes, s.name)) continue;
    for (Format f : kFormats) {
      if (!Wanted(formats, FormatName(f))) continue;
      const size_t per = MatrixBytes(f, s), copies = (min_bytes + per - 1) / per;
      Fill(f, s, copies, w.get());
      // The machine is shared and its bandwidth drifts: measure it again right before each (shape, format)
      // and divide by the better of this and the first measurement, so no ratio is flattered.
      const double bw_here = bench::MeasureReadBandwidth(size_t{1} << 30, 2);
      const double yardstick = std::max(bw, bw_here);
      for (size_t n : token_counts) {
        Call(cx, f, s, w.get(), n, x, y);  // warm-up: threads started, scratch grown, code in cache
        double best = 1e30, worst = 0;
        for (int p = 0; p < (n == 1 ? passes : std::max(1, passes / 2)); ++p) {
          const double t0 = bench::Now();
          for (size_t m = 0; m < copies; ++m) Call(cx, f, s, w.get() + m * per, n, x, y);
          const double dt = (bench::Now() - t0) / double(copies);
          best = std::min(best, dt), worst = std::max(worst, dt);
        }
        const double gbs = double(per) / best / 1e9;
        nlohmann::ordered_json line = {{"bench", "matmul_packed"}, {"shape", s.name}, {"rows", s.rows},
                                       {"cols", s.cols}, {"format", FormatName(f)}, {"tokens", n},
                                       {"threads", NumThreads()}, {"weight_bytes", per}, {"matrices", copies},
                                       {"act_precision", ActPrecisionName(g_precision)},
                                       {"seconds", best}, {"spread", worst / best - 1.0}, {"gb_per_s", gbs},
                                       {"read_bandwidth_bytes_per_s", yardstick},
                                       {"ratio_to_read_bandwidth", gbs * 1e9 / yardstick}};
        if (n > 1) {
          line["gflop_per_s"] = 2.0 * double(s.rows * s.cols * n) / best / 1e9;
          line["token_rows_per_s"] = double(s.rows * n) / best;
        }
        bench::Emit(line);
      }
    }
  }
  return 0;
}
