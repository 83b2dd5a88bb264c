// Comparison of the runtime with a golden set computed by the reference implementation
// (the ../shared/golden format: cases.json, <case>__<key>.npy, and the model beside them).
#pragma once

#include <string>
#include <vector>

#include "io/status.h"
#include "lib/model/linear.h"
#include "lib/text/kv_cache.h"
#include "lib/vision/vision_model.h"

namespace glmv::app {

constexpr double kGoldenTolerance = 1e-4;  // absolute, on f32 logits and activations (golden README)

struct GoldenCaseResult {
  std::string name;
  std::string verdict;        // PASS, FAIL or SKIP
  double logits_err = -1;     // worst absolute logit error; < 0 when not compared
  double hidden_err = -1;     // worst absolute error over all compared intermediates
  std::string ids = "-";      // match / mismatch for generation cases
  std::string reason;         // why it failed or was skipped
  // Softmax agreement with the golden logits over every compared position (forward logits, and the step
  // logits of generation cases): KL(golden ‖ ours) mean and max, and the fraction with the same top-1.
  double kl_mean = -1, kl_max = -1, top1 = -1;
  size_t positions = 0;
  // Quantized models: (layer, token) expert choices that differ from the reference's, and when there are
  // any, the mean KL of the same case run along the reference's choices (< 0 when not run).
  size_t routing_flips = 0;
  double kl_mean_ref_routing = -1;
};

struct GoldenReport {
  std::vector<GoldenCaseResult> cases;
  int passed = 0, failed = 0, skipped = 0;
  bool quantized = false;  // the model has int4/int8 matrices: judged by KL, not by the exact rule
  double kl_mean = -1, kl_max = -1, top1 = -1;  // over every position of every case
  size_t positions = 0;
  std::string vision_math;  // the vision tower's arithmetic ("f32" / "bf16"), "" without a tower
};

struct GoldenOptions {
  bool verbose = false;  // per-tensor errors to stderr
  // Run this model (a .glmv file or a model directory) instead of the one in the set's directory. When it
  // holds quantized matrices, a case PASSes when its mean KL ≤ max_kl and its positions and token types are
  // equal; generation cases are teacher-forced along the reference's ids so every step is compared.
  std::string model;
  double max_kl = 1e-3;
  // Judge forward cases whose routing flipped by kl_mean_ref_routing instead of kl_mean. A near-tie in the
  // reference's router flips under any rounding (bf16 included) and moves the KL far more than the
  // quantization's arithmetic does; this rule measures the arithmetic, the default the user-visible result.
  bool reference_routing = false;
  // Judge the model by KL as if it were quantized, whatever it holds: for models perturbed some other way
  // (weights rounded or noised outside glmv convert), measured on the same footing.
  bool judge_by_kl = false;
  // How packed weights see their activations (--act-precision).
  ActPrecision act_precision = ActPrecision::kAuto;
  // Element type of the keys and values (--kv-type).
  KvType kv_type = KvType::kF32;
  // The vision tower's arithmetic (--vision-math).
  VisionMath vision_math = VisionMath::kAuto;
};

// Runs every case of the set in `dir`. Errors only when the set itself cannot be read; a model that fails
// to load fails every case with the loader's message.
Result<GoldenReport> CheckGoldenSet(const std::string& dir, const GoldenOptions& options);
inline Result<GoldenReport> CheckGoldenSet(const std::string& dir, bool verbose) {
  GoldenOptions options;
  options.verbose = verbose;
  return CheckGoldenSet(dir, options);
}

// "<case> PASS logits=2.56e-06 hidden=4.65e-06 ids=- kl_mean=1.2e-12 kl_max=3.1e-12 top1=1"
std::string FormatCaseLine(const GoldenCaseResult& r);

}  // namespace glmv::app
