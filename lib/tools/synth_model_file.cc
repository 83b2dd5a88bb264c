#include "lib/tools/synth_model_file.h"

#include <nlohmann/json.hpp>
#include <unordered_map>
#include <utility>

#include "lib/tools/synth_weights.h"

namespace glmv {

Result<ConvertReport> WriteSynthModelFile(const ModelConfig& config, std::map<std::string, std::string> metadata,
                                          const std::string& out_path, const SynthModelFileOptions& options,
                                          const std::function<Status(const ConvertProgress&)>& progress) {
  if (!(options.expert_skew >= 0 && options.expert_skew <= 100)) {
    return Status::Error("an expert skew must be between 0 and 100, not " + std::to_string(options.expert_skew));
  }
  if (options.dtype != DType::kBF16 && options.dtype != DType::kF32) {
    return Status::Error("synthetic weights are generated as bf16 or f32, not " + std::string(DTypeName(options.dtype)));
  }
  const std::vector<SynthTensor> tensors = SynthModelTensors(config, options.dtype);
  std::unordered_map<std::string, const SynthTensor*> by_name;
  for (const SynthTensor& t : tensors) by_name[t.name] = &t;
  const std::string label = "synthetic weights (seed " + std::to_string(options.seed) + ")";

  TensorSource source;
  source.mapped = false;
  // Both tables come from the same config, so a mismatch is a bug of ours, reported rather than written.
  source.dtype = [&](const std::string& name, const std::vector<int64_t>& shape) -> Result<DType> {
    const auto it = by_name.find(name);
    if (it == by_name.end()) return Status::Error("internal: no synthetic tensor '" + name + "'");
    if (it->second->shape != shape) {
      return Status::Error("internal: synthetic tensor '" + name + "' has shape " + ShapeString(it->second->shape) +
                           ", the loader expects " + ShapeString(shape));
    }
    return it->second->dtype;
  };
  source.values = [&](const std::string& name, std::vector<uint8_t>& scratch) -> Result<TensorView> {
    const SynthTensor& t = *by_name.at(name);
    scratch.resize(t.NumBytes());
    if (options.expert_skew > 0 && t.init == SynthInit::kCorrectionBias) {
      FillSkewedCorrectionBias(t.name, static_cast<size_t>(t.NumElements()), options.expert_skew, options.seed,
                               reinterpret_cast<float*>(scratch.data()));  // F32 always (SynthTensor)
    } else {
      FillSynthTensor(t, options.seed, 0, t.NumElements(), scratch.data());
    }
    TensorView view;
    view.name = t.name;
    view.dtype = t.dtype;
    view.shape = t.shape;
    view.bytes = scratch;
    view.file = &label;
    return view;
  };

  metadata["glmv.recipe"] = RecipeMetadata(options.convert, quant::QuantScheme::kRoundToNearest);
  nlohmann::json source_note = {{"synthetic", true}, {"seed", options.seed}, {"dtype", DTypeName(options.dtype)}};
  if (options.expert_skew > 0) source_note["expert_skew"] = options.expert_skew;  // absent at 0: files unchanged
  metadata["glmv.source"] = source_note.dump();
  return WriteModelFile(config, source, metadata, out_path, options.convert, quant::QuantScheme::kRoundToNearest,
                        progress);
}

}  // namespace glmv
