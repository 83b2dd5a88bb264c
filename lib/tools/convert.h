// Conversion of a Hugging Face GLM-V directory into one .glmv model file (io/model_file.h): tensor by
// tensor (the real checkpoint is 200 GB; only one tensor's output is in memory at a time), quantized on all
// cores into the kernels' packed layout (simd/quant_layout.h), each routed expert's three matrices in one
// 4 KiB-aligned unit, side files (tokenizer, preprocessing settings, chat template) and the recipe and
// source checksums in the metadata.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/dtype.h"
#include "io/safetensors.h"
#include "io/status.h"
#include "lib/model/config.h"
#include "quant/quantize.h"

namespace glmv {

// Which format each text tensor gets. Vectors (norms, biases), the router and its correction bias are f32
// in every quantized recipe. The vision tower follows ConvertOptions::vision.
enum class ConvertRecipe : uint8_t {
  kMixed,  // routed experts int4; attention, shared expert, dense MLP, embeddings, lm_head int8 (default)
  kQ8,     // every text matrix int8
  kQ4,     // every text matrix int4 except embeddings and lm_head (int8)
  kFloat,  // no quantization: the source dtypes, in the .glmv container (tests the container alone)
};
Result<ConvertRecipe> ParseConvertRecipe(std::string_view name);
const char* ConvertRecipeName(ConvertRecipe r);

// The vision tower's matrices (the position table, norms and biases stay f32; the float recipe keeps the
// source types). bf16 is GLM-V checkpoints' own type, so it is lossless for them (f32 sources are
// rounded), and the linear layers widen it to f32 as they run: the same arithmetic as f32 at half the
// bytes. q8 (Q8G32) is there to measure what int8 would cost the tower (see README).
enum class VisionFormat : uint8_t { kBF16, kF32, kQ8 };
Result<VisionFormat> ParseVisionFormat(std::string_view name);
const char* VisionFormatName(VisionFormat f);

struct ConvertOptions {
  ConvertRecipe recipe = ConvertRecipe::kMixed;
  quant::QuantScheme scheme = quant::QuantScheme::kSearch;
  // int4 matrices: the non-uniform Q4NLG32 grid (default; better on bell-shaped weights) or Q4G32's uniform
  // one. Round-to-nearest always uses the uniform grid: it is llama.cpp's Q4_0 rule, the reference.
  bool int4_uniform = false;
  VisionFormat vision = VisionFormat::kBF16;
  // The float recipe keeps the source dtypes, the vision tower's too unless this is set (--vision given):
  // a file whose only rounding is the tower's, to measure the tower's arithmetic against.
  bool float_recipe_vision = false;
};

struct ConvertedTensor {
  std::string name;
  std::string component;  // TensorComponent(name)
  DType source_dtype = DType::kF32, dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t bytes = 0;
  double snr_db = 0;  // +inf when exact
};

struct ConvertProgress {
  uint64_t done_bytes = 0, total_bytes = 0;  // source bytes
  const std::string* tensor = nullptr;       // the tensor in progress or just finished
  bool hashing = false;  // the first phase: reading the source files once for their checksums
};

struct ConvertReport {
  std::vector<ConvertedTensor> tensors;
  uint64_t file_bytes = 0, source_bytes = 0;
  size_t ignored_tensors = 0;  // in the checkpoint but not in the model's tensor table
};

// Where a model file's tensors come from: a checkpoint's mapping (ConvertModel) or values generated on the
// fly (glmv synth --format glmv, lib/tools/synth_model_file.h).
struct TensorSource {
  // The source dtype of tensor `name`, whose shape the config implies as `shape`; an error when the source
  // lacks it or disagrees.
  std::function<Result<DType>(const std::string& name, const std::vector<int64_t>& shape)> dtype;
  // Its values, called once per tensor in table order: a view into a mapping, or into `scratch`, which the
  // source may fill (it is reused for the next tensor).
  std::function<Result<TensorView>(const std::string& name, std::vector<uint8_t>& scratch)> values;
  bool mapped = true;  // views are file mappings whose pages are released once read
};

// Writes the .glmv file of `config`'s tensors (the loader's tables) from `source`: formats by
// ConvertTargetDType(options), int4/int8 quantized by `scheme`. `metadata` holds the side files and
// provenance. Written as out_path.partial and renamed when complete; refuses when the disk lacks the space.
Result<ConvertReport> WriteModelFile(const ModelConfig& config, const TensorSource& source,
                                     const std::map<std::string, std::string>& metadata, const std::string& out_path,
                                     const ConvertOptions& options, quant::QuantScheme scheme,
                                     const std::function<Status(const ConvertProgress&)>& progress);

// A model's side files (kModelAssetNames: config, tokenizer, processor settings, chat template) as
// metadata, each read from path_of(name) (nullopt: the model has none). tokenizer.model with
// tokenizer_config.json becomes an equivalent tokenizer.json.
Result<std::map<std::string, std::string>> AssetMetadata(
    const std::function<std::optional<std::string>(const std::string& name)>& path_of);

// The glmv.recipe metadata: the recipe and formats `options` choose, and the quantizer that ran.
std::string RecipeMetadata(const ConvertOptions& options, quant::QuantScheme scheme);

// Converts `hf_dir` into `out_path` (written as out_path.partial, renamed when complete). Refuses when the
// file system lacks the space. `progress` is called after each tensor; an error it returns (an interrupt)
// stops the conversion and removes the partial file.
Result<ConvertReport> ConvertModel(const std::string& hf_dir, const std::string& out_path, const ConvertOptions& options,
                                   const std::function<Status(const ConvertProgress&)>& progress);

// The target dtype of one tensor under a recipe.
DType ConvertTargetDType(const ConvertOptions& options, const std::string& name, const std::vector<int64_t>& shape,
                         DType source);

// "routed experts", "attention", "embeddings", ... for summaries (glmv convert, glmv inspect).
std::string TensorComponent(const std::string& name);

// A fast 64-bit checksum of a byte range (not cryptographic: it tells a changed source file).
uint64_t Checksum64(const uint8_t* data, size_t n);
// Checksum64 chained over 64 MiB chunks of a mapped file, releasing each chunk's pages once read.
// `step(bytes)` after each chunk, for progress.
uint64_t FileChecksum(std::span<const uint8_t> bytes, const std::function<void(uint64_t)>& step = {});

}  // namespace glmv
