// The routed experts of one decode step at GLM-4.5V's real dimensions (hidden 4096, 128 experts of width
// 1408, top-8, one shared expert), two ways, alternating step by step in one run so both see the same
// machine: `per_expert` — each expert's gate, up and down as separate linear layers (three thread fork/
// joins per expert, as SwiGlu runs them) — and `batched` — every expert's gate and up in one pass, then
// every down in one pass (LinearPackedBatch, what MoeForward does for decode). Experts are int4 (Q4NLG32)
// and the shared expert int8, as `glmv convert`'s mixed recipe writes them; the 128 experts' units total
// 1.2 GiB, so no cache holds them between steps. Each step picks 8 experts at random.
//
// Prints, per way: the median and best step time, the weight bytes a step streams, GB/s, and the ratio of
// the median to the read bandwidth measured at the start (best of that and a measurement at the end).
//
//   bench_moe [--threads N (2)] [--steps N (200 per way)] [--act-precision auto|int8|int8x2] [--experts 8]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "benchmarks/bench_util.h"
#include "lib/model/linear.h"
#include "lib/base/parallel.h"
#include "simd/kernels.h"
#include "simd/quant_layout.h"

using namespace glmv;

namespace {

constexpr size_t kHidden = 4096, kWidth = 1408, kExperts = 128;

struct Mlp {
  Weight gate, up, down;
};

Weight Packed(DType dtype, size_t rows, size_t cols, const uint8_t* bytes) {
  Weight w;
  w.packed = bytes;
  w.dtype = dtype;
  w.shape = {static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
  return w;
}

// Bytes of one SwiGLU MLP's three matrices (gate, up: [width, H]; down: [H, width]) of `kind`.
size_t MlpBytes(simd::QuantKind kind, size_t width) {
  return 2 * simd::QuantMatrixBytes(kind, width, kHidden) + simd::QuantMatrixBytes(kind, kHidden, width);
}

// The three matrices of `kind`, random, back to back from `at`.
Mlp MakeMlp(simd::QuantKind kind, DType dtype, size_t width, uint8_t* at) {
  const size_t up_bytes = simd::QuantMatrixBytes(kind, width, kHidden);
  bench::FillPackedTiles(kind, kHidden, 2 * simd::QuantTiles(width), at);
  bench::FillPackedTiles(kind, width, simd::QuantTiles(kHidden), at + 2 * up_bytes);
  return {Packed(dtype, width, kHidden, at), Packed(dtype, width, kHidden, at + up_bytes),
          Packed(dtype, kHidden, width, at + 2 * up_bytes)};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, steps = 200;
  ActPrecision precision = ActPrecision::kAuto;
  size_t top_k = 8;  // distinct experts a step reads: 8 for one sequence, ~29 for four decoding together
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--steps")) steps = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--experts")) top_k = std::clamp<size_t>(std::strtoul(argv[i + 1], nullptr, 10), 1, kExperts);
    else if (!std::strcmp(argv[i], "--act-precision")) {
      auto p = ParseActPrecision(argv[i + 1]);
      if (!p.ok()) {
        std::fprintf(stderr, "bench_moe: %s\n", p.status().message().c_str());
        return 2;
      }
      precision = *p;
    } else {
      std::fprintf(stderr, "bench_moe: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  SetNumThreads(threads);
  const double bw_start = bench::MeasureReadBandwidth();

  // Each expert's unit 4 KiB-aligned, as in a .glmv file.
  const size_t expert_bytes = MlpBytes(simd::QuantKind::kQ4NL, kWidth), unit = (expert_bytes + 4095) / 4096 * 4096;
  const size_t shared_bytes = MlpBytes(simd::QuantKind::kQ8, kWidth);
  const size_t total = kExperts * unit + shared_bytes;
  std::unique_ptr<uint8_t, decltype(&std::free)> buf(static_cast<uint8_t*>(std::aligned_alloc(4096, (total + 4095) / 4096 * 4096)), &std::free);
  std::vector<Mlp> experts(kExperts);
  for (size_t e = 0; e < kExperts; ++e) experts[e] = MakeMlp(simd::QuantKind::kQ4NL, DType::kQ4NLG32, kWidth, buf.get() + e * unit);
  const Mlp shared = MakeMlp(simd::QuantKind::kQ8, DType::kQ8G32, kWidth, buf.get() + kExperts * unit);
  const size_t step_bytes = top_k * expert_bytes + shared_bytes;

  std::vector<float> x(kHidden), gate((top_k + 1) * kWidth), up((top_k + 1) * kWidth), out((top_k + 1) * kHidden);
  for (size_t i = 0; i < kHidden; ++i) x[i] = static_cast<float>(bench::Hash(i) % 2001) / 1000.0f - 1.0f;
  std::vector<const Mlp*> chosen(top_k + 1);
  std::vector<PackedLinearJob> jobs;
  LinearContext cx;  // both ways share one context, as a step's layers do
  auto pick = [&](uint64_t step) {
    std::vector<size_t> ids;
    for (uint64_t r = 0; ids.size() < top_k; ++r) {
      const size_t e = bench::Hash(step * 7919 + r) % kExperts;
      if (std::find(ids.begin(), ids.end(), e) == ids.end()) ids.push_back(e);
    }
    std::sort(ids.begin(), ids.end());
    for (size_t i = 0; i < top_k; ++i) chosen[i] = &experts[ids[i]];
    chosen[top_k] = &shared;
  };
  const ActRows acts{.all = ActQuantFor(precision, /*decode_row=*/true)};  // a decode step's one row
  auto per_expert = [&]() {
    for (size_t i = 0; i <= top_k; ++i) {
      Linear(cx, chosen[i]->gate, nullptr, x.data(), 1, gate.data() + i * kWidth, acts);
      Linear(cx, chosen[i]->up, nullptr, x.data(), 1, up.data() + i * kWidth, acts);
      simd::SiluMul(gate.data() + i * kWidth, up.data() + i * kWidth, gate.data() + i * kWidth, kWidth);
      Linear(cx, chosen[i]->down, nullptr, gate.data() + i * kWidth, 1, out.data() + i * kHidden, acts);
    }
  };
  auto batched = [&]() {
    jobs.clear();
    for (size_t i = 0; i <= top_k; ++i) {
      jobs.push_back({&chosen[i]->gate, x.data(), 1, gate.data() + i * kWidth, nullptr, acts});
      jobs.push_back({&chosen[i]->up, x.data(), 1, up.data() + i * kWidth, nullptr, acts});
    }
    LinearPackedBatch(cx, jobs);
    simd::SiluMul(gate.data(), up.data(), gate.data(), (top_k + 1) * kWidth);
    jobs.clear();
    for (size_t i = 0; i <= top_k; ++i) jobs.push_back({&chosen[i]->down, gate.data() + i * kWidth, 1, out.data() + i * kHidden, nullptr, acts});
    LinearPackedBatch(cx, jobs);
  };

  std::vector<double> t_per, t_batch;
  pick(0), per_expert(), batched();  // warm-up: threads, scratch
  for (int s = 0; s < 2 * steps; ++s) {
    pick(static_cast<uint64_t>(s) + 1);
    const bool b = s % 2 == 1;
    const double t0 = bench::Now();
    if (b) batched();
    else per_expert();
    (b ? t_batch : t_per).push_back(bench::Now() - t0);
  }
  const double bw = std::max(bw_start, bench::MeasureReadBandwidth());
  bench::Emit({{"bench", "read_bandwidth"}, {"bytes_per_s", bw}, {"threads", NumThreads()}});
  for (const auto& [name, t] : {std::pair{"per_expert", &t_per}, std::pair{"batched", &t_batch}}) {
    const double med = Median(*t), best = *std::min_element(t->begin(), t->end());
    bench::Emit({{"bench", "moe_decode_step"}, {"way", name}, {"experts", top_k}, {"shared", 1}, {"steps", t->size()},
                 {"weight_bytes", step_bytes}, {"median_seconds", med}, {"best_seconds", best},
                 {"gb_per_s", double(step_bytes) / med / 1e9}, {"ratio_to_read_bandwidth", double(step_bytes) / med / bw},
                 {"act_precision", ActPrecisionName(precision)}, {"threads", NumThreads()}});
  }
  bench::Emit({{"bench", "moe_decode_speedup"}, {"batched_over_per_expert", Median(t_per) / Median(t_batch)}});
  return 0;
}
