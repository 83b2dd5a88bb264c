// `glmv synth --format glmv`: a random-weight model written straight into one .glmv file, with no bf16
// checkpoint on the way (a real-width GLM-4.5V of 12 layers is about 18.5 GB as .glmv but 56 GB in bf16,
// more than these disks spare). Each tensor's values are the ones `glmv synth` writes into safetensors for the
// same seed and dtype (lib/tools/synth_weights.h), generated one tensor at a time and quantized by
// round-to-nearest into the formats `glmv convert`'s recipe chooses (its scale search would take minutes per
// layer, and random weights gain nothing from it). Under the q8 recipe, whose round-to-nearest is the same
// rule as convert's, the tensors are byte for byte what `glmv synth` then `glmv convert --quantizer rtn` write.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "io/dtype.h"
#include "io/status.h"
#include "lib/model/config.h"
#include "lib/tools/convert.h"

namespace glmv {

struct SynthModelFileOptions {
  uint64_t seed = 0;
  DType dtype = DType::kBF16;  // the generated values' type before quantization (kBF16 or kF32)
  ConvertOptions convert;      // recipe and formats; the quantizer is always round-to-nearest
  // Routing locality (FillSkewedCorrectionBias): 0 writes the uniform correction biases (the same bytes as
  // before this option); S > 0 a Zipf popularity of exponent S per MoE layer, recorded in glmv.source.
  double expert_skew = 0;
};

// Writes `config`'s tensors for `options` into `out_path` (as out_path.partial, renamed when complete).
// `metadata` holds the side files (AssetMetadata); glmv.recipe and glmv.source ({"synthetic": true, seed,
// dtype}) are added.
Result<ConvertReport> WriteSynthModelFile(const ModelConfig& config, std::map<std::string, std::string> metadata,
                                          const std::string& out_path, const SynthModelFileOptions& options,
                                          const std::function<Status(const ConvertProgress&)>& progress);

}  // namespace glmv
