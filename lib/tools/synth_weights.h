// Random weights for any GLM-V config, so the runtime can be measured and tested at real dimensions
// without the real checkpoint (`glmv synth`, benchmarks, tests). The tensor list comes from the same
// tables the loader checks (ForEachTextTensor, ForEachVisionTensor), so a synthesized model always has
// exactly the tensors, shapes and dtypes the loader expects.
//
// Values are counter-based: element i of a tensor is a function of (seed, tensor name, i) only — not of
// thread count, chunk size, tensor order or shard layout — so the same seed gives identical files however
// they are written, and bf16 and f32 models of one seed differ only by rounding.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "io/status.h"
#include "lib/model/config.h"

namespace glmv {

// How a tensor's values are drawn: cheap hashes (a 30 GB model is written at disk speed) with the
// variances below.
enum class SynthInit : uint8_t {
  kLinear,          // bell-shaped (a sum of 4 uniforms, |v| ≤ 3.46σ) with variance 1 / fan_in; fan_in =
                    // elements / rows. Bell-shaped like trained weights, so quantizers measure as on them.
                    // Covers embeddings, routers, lm_head and the convolutions viewed as matrices.
  kNorm,            // norm weights: 1 + U(-0.05, 0.05)
  kBias,            // biases (also LayerNorm biases): U(-0.02, 0.02)
  kCorrectionBias,  // e_score_correction_bias: U(-0.01, 0.01), small beside the sigmoid scores (which
                    // spread over (0, 1) because router logits have unit variance), so routing follows
                    // the tokens and is not degenerate. Always F32, as in the real checkpoint.
};

struct SynthTensor {
  std::string name;  // checkpoint name
  DType dtype = DType::kBF16;
  std::vector<int64_t> shape;
  SynthInit init = SynthInit::kLinear;

  // Both saturate at 2^64 - 1 instead of wrapping, so absurd configs are refused rather than misjudged.
  uint64_t NumElements() const;
  uint64_t NumBytes() const;
};

// The tensors of each part in checkpoint order, every one in `dtype` (kBF16 or kF32) except the router
// correction biases (F32). The model list is the text decoder, then the vision tower when the config has one.
std::vector<SynthTensor> SynthTextTensors(const TextConfig& config, DType dtype);
std::vector<SynthTensor> SynthVisionTensors(const VisionConfig& config, DType dtype);
std::vector<SynthTensor> SynthModelTensors(const ModelConfig& config, DType dtype);

// Writes elements [first, first + count) of tensor `t` for `seed` to `out` (count × DTypeSize bytes,
// little-endian), using all ParallelFor threads.
void FillSynthTensor(const SynthTensor& t, uint64_t seed, uint64_t first, uint64_t count, uint8_t* out);

// Routing locality for benchmarks of the expert cache (issue 14 item 5). Random routers pick experts close to
// uniformly; `skew` S > 0 gives each MoE layer an expert popularity instead: a Zipf law of exponent S over a
// random permutation of the layer's experts (keyed by seed and the tensor's name, so every layer has other
// favourites), i.e. weights w_e ∝ rank_e^-S, written into e_score_correction_bias as
//   bias_e = kExpertSkewScale · ln(w_e), centred to mean 0 (so bias_e = −0.1 · S · ln(rank_e) + const).
// The bias only chooses experts (noaux_tc adds it to the sigmoid scores for the top-k, never to the weights),
// so it moves which experts are picked without changing how the picked ones are weighed. The realized pick
// shares depend on the router logits' spread (unit variance for synthesized weights): see apps/README.md.
inline constexpr double kExpertSkewScale = 0.1;
// Fills bias[0, experts) for the correction-bias tensor `name` (F32 values).
void FillSkewedCorrectionBias(const std::string& name, size_t experts, double skew, uint64_t seed, float* bias);

// Called after each chunk written with the bytes written so far (tensor data, this call); a returned
// error (e.g. "interrupted") stops the writing.
using SynthProgress = std::function<Status(uint64_t bytes_done)>;

// Writes `tensors` into one safetensors file at `path` (metadata {"format": "pt"}, as Hugging Face
// writes), streaming in chunks of a few MiB, so memory use does not grow with the model. The file appears
// under `path` only when complete.
Status WriteSynthSafetensors(const std::string& path, std::span<const SynthTensor> tensors, uint64_t seed,
                             const SynthProgress& progress = nullptr);

// The size of the file WriteSynthSafetensors would write, header included.
uint64_t SynthSafetensorsBytes(std::span<const SynthTensor> tensors);

}  // namespace glmv
