// What a decode step of the text decoder reads, counted from the bound weights: bytes as the kernels read
// them (or elements), by part, and per routed expert; and where its time goes, part by part — shared by
// bench_decode and bench_batch.
#pragma once

#include <cstdint>
#include <vector>

#include <array>

#include "benchmarks/bench_util.h"
#include "lib/text/text_model.h"

namespace glmv::bench {

// Bytes the kernels read for a whole tensor: the packed matrix as stored, or f32 (BF16/F16 sources are
// widened at load, so their kernels read 4 bytes per element). 0 for an absent optional tensor (no shape).
uint64_t KernelBytes(const Weight& w);

// Elements of a tensor: with bytes per part it tells a kernel limited by memory (same bytes/s whatever the
// format) from one limited by arithmetic (same weights/s whatever the format).
uint64_t Elements(const Weight& w);

using Measure = uint64_t (*)(const Weight&);

// Weight bytes (or elements) of one decode step by part; `routed` is per layer and expert (empty for
// dense layers).
struct StepBytes {
  uint64_t attention = 0;  // q, k, v, o with biases, all layers
  uint64_t dense_mlp = 0;
  uint64_t router = 0;     // router matrices and correction biases
  uint64_t shared = 0;     // shared experts
  uint64_t norms = 0;      // per-layer norms and the final norm
  uint64_t embed_row = 0;  // one embedding row; packed rows are interleaved by 16, so a whole 16-row tile
  uint64_t lm_head = 0;
  std::vector<std::vector<uint64_t>> routed;
  uint64_t all_routed = 0;  // every routed expert (the MoE weights a step does not read whole)

  uint64_t EveryStep() const { return attention + dense_mlp + router + shared + norms + embed_row + lm_head; }
};

StepBytes CountStep(const TextConfig& c, const TextWeights& w, Measure m);

// Per-part timing of the forward through its observer hook: the time since the previous part ended is
// added to the part that just ended. The embedding is timed by the caller (it is not part of the forward).
class PartTimer : public ForwardObserver {
 public:
  static constexpr size_t kParts = static_cast<size_t>(ForwardPart::kCount);
  void Start() { last_ = bench::Now(); }
  void PartDone(ForwardPart part, size_t) override {
    const double now = bench::Now();
    seconds[static_cast<size_t>(part)] += now - last_;
    last_ = now;
  }
  std::array<double, kParts> seconds{};

 private:
  double last_ = 0;
};


}  // namespace glmv::bench
