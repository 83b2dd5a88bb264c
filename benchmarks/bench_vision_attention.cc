// The vision tower's bf16 attention alone, at GLM-4.5V's width (12 heads of 128): the fused flash-style kernel
// (simd/vision_attention_bf16.h) against oneDNN's query-block GEMMs with a softmax between them, on the same
// random q, k and v, alternating round by round in one process. One JSON line per patch count and round, then
// a summary per patch count: the medians, fused ÷ oneDNN speed, each as GFLOP/s and as a fraction of oneDNN's
// bf16 GEMM peak measured in the same run, and the largest difference between the two outputs.
//
//   bench_vision_attention [--patches 1024,5476] [--rounds 3] [--hidden 1536] [--heads 12] [--threads N]
// 1024 patches: a 448² image; 5476: 1024² (74 × 74 patches of 14 pixels).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "benchmarks/bench_util.h"
#include "io/dtype.h"
#include "lib/base/onednn.h"
#include "lib/base/parallel.h"
#include "lib/vision/vision_attention.h"

using namespace glmv;

int main(int argc, char** argv) {
  std::string patches_arg = "1024,5476";
  size_t rounds = 3, D = 1536, heads = 12;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--patches")) patches_arg = argv[i + 1];
    else if (!std::strcmp(argv[i], "--rounds")) rounds = std::strtoul(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--hidden")) D = std::strtoul(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--heads")) heads = std::strtoul(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--threads")) SetNumThreads(std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "bench_vision_attention: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (heads == 0 || D % heads != 0 || rounds == 0) {
    std::fprintf(stderr, "bench_vision_attention: --hidden must be a multiple of --heads, --rounds ≥ 1\n");
    return 2;
  }
  const size_t hd = D / heads;
  if (simd::BestBF16Dot() != simd::BF16Dot::kNative) {
    std::fprintf(stderr, "bench_vision_attention: this CPU has no AVX512-BF16, so the tower never runs fused\n");
    return 77;
  }
  const double peak = bench::MeasureGemmGflops(true);
  bench::Emit({{"bench", "gemm_peak"}, {"bf16_gflop_per_s", peak}, {"threads", NumThreads()}});
  std::stringstream list(patches_arg);
  for (std::string item; std::getline(list, item, ',');) {
    const size_t n = std::strtoul(item.c_str(), nullptr, 10);
    if (n == 0) continue;
    std::vector<uint16_t> qkv(n * 3 * D);
    for (size_t i = 0; i < qkv.size(); ++i) {
      qkv[i] = F32ToBF16((float(bench::Hash(i) % 20001) - 10000.0f) / 5000.0f);  // in [-2, 2]
    }
    std::vector<float> fused(n * D), blocked(n * D);
    VisionAttentionBuffers buffers;
    OneDnnCache onednn;
    const double gflop = 4.0 * double(n) * double(n) * double(D) / 1e9;  // QKᵀ and PV, every head
    std::vector<double> t_fused, t_blocked;
    // One untimed round first: buffers, oneDNN's primitives and first-touch page faults.
    VisionSegmentAttentionFused(simd::BF16Dot::kNative, qkv.data(), 0, n, D, hd, fused.data(), buffers);
    (void)VisionSegmentAttentionBlockedBF16(onednn, qkv.data(), 0, n, D, hd, blocked.data(), buffers);
    for (size_t r = 0; r < rounds; ++r) {
      double t0 = bench::Now();
      VisionSegmentAttentionFused(simd::BF16Dot::kNative, qkv.data(), 0, n, D, hd, fused.data(), buffers);
      t_fused.push_back(bench::Now() - t0);
      t0 = bench::Now();
      const Status st = VisionSegmentAttentionBlockedBF16(onednn, qkv.data(), 0, n, D, hd, blocked.data(), buffers);
      t_blocked.push_back(bench::Now() - t0);
      if (!st.ok()) {
        std::fprintf(stderr, "bench_vision_attention: oneDNN: %s\n", st.message().c_str());
        return 1;
      }
      bench::Emit({{"bench", "vision_attention"}, {"patches", n}, {"round", r}, {"fused_s", t_fused.back()},
                   {"onednn_s", t_blocked.back()}});
    }
    double diff = 0;
    for (size_t i = 0; i < fused.size(); ++i) diff = std::max(diff, double(std::fabs(fused[i] - blocked[i])));
    const double f = bench::Median(t_fused), b = bench::Median(t_blocked);
    bench::Emit({{"bench", "vision_attention_summary"}, {"patches", n}, {"heads", heads}, {"head_dim", hd},
                 {"rounds", rounds}, {"fused_s", f}, {"onednn_s", b}, {"fused_speedup_over_onednn", b / f},
                 {"fused_gflop_per_s", gflop / f}, {"onednn_gflop_per_s", gflop / b},
                 {"fused_ratio_to_bf16_gemm_peak", peak > 0 ? gflop / f / peak : 0.0},
                 {"onednn_ratio_to_bf16_gemm_peak", peak > 0 ? gflop / b / peak : 0.0},
                 {"max_abs_diff", diff}, {"threads", NumThreads()}});
  }
  return 0;
}
