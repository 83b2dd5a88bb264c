#include "lib/tools/convert.h"

#include <sys/statvfs.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>

#include "io/model_file.h"
#include "lib/model/checkpoint.h"
#include "lib/model/model_assets.h"
#include "lib/base/parallel.h"
#include "lib/text/text_weights.h"
#include "lib/tokenizer/tokenizer_json.h"
#include "lib/vision/vision_weights.h"
#include "simd/quant_layout.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

struct Planned {
  std::string name;
  std::vector<int64_t> shape;
  DType source_dtype = DType::kF32;
  DType dtype = DType::kF32;
  uint64_t bytes = 0;         // in the model file
  uint64_t source_bytes = 0;  // in the source
  int64_t unit = -1;
};

std::string HexString(uint64_t v) {
  static const char* kDigits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = kDigits[v & 15];
  return s;
}

bool Contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// "model.language_model.layers.3.mlp.experts.17.up_proj.weight" → "layers.3.experts.17"; "" otherwise.
std::string ExpertUnitName(const std::string& name) {
  const size_t layers = name.find("layers."), experts = name.find(".mlp.experts.");
  if (layers == std::string::npos || experts == std::string::npos || experts < layers) return "";
  const std::string layer = name.substr(layers + 7, experts - layers - 7);
  const size_t e_begin = experts + 13, e_end = name.find('.', e_begin);
  if (e_end == std::string::npos) return "";
  return "layers." + layer + ".experts." + name.substr(e_begin, e_end - e_begin);
}

uint64_t PackedBytes(DType t, const std::vector<int64_t>& shape) {
  const auto kind = PackedKind(t);
  return simd::QuantMatrixBytes(kind, static_cast<size_t>(shape[0]), static_cast<size_t>(shape[1]));
}

// Source float bytes of rows [r0, r1) of a 2-D tensor → f32.
void WidenRows(const TensorView& t, size_t cols, size_t r0, size_t r1, float* out) {
  const size_t elem = DTypeSize(t.dtype);
  WidenToF32(t.dtype, t.bytes.data() + r0 * cols * elem, (r1 - r0) * cols, out);
}

// Packs one matrix on all cores: each thread widens 16 rows at a time and quantizes them into their tile.
// `step(source_bytes_done)` runs after each chunk of about 64 MB of source (progress within a 2 GB
// embedding table, and a prompt stop on Ctrl-C); an error from it abandons the tensor.
Result<double> QuantizeTensor(const TensorView& t, DType target, quant::QuantScheme scheme, bool mapped,
                              std::vector<uint8_t>& out, const std::function<Status(uint64_t)>& step) {
  const size_t rows = static_cast<size_t>(t.shape[0]), cols = static_cast<size_t>(t.shape[1]);
  const auto kind = PackedKind(target);
  const size_t tile_bytes = simd::QuantTileBytes(kind, cols), tiles = simd::QuantTiles(rows);
  const size_t source_tile_bytes = simd::kQuantTileRows * cols * DTypeSize(t.dtype);
  const size_t chunk_tiles = std::max<size_t>(1, (size_t{64} << 20) / source_tile_bytes);
  out.assign(simd::QuantMatrixBytes(kind, rows, cols), 0);
  std::vector<quant::QuantError> errors(static_cast<size_t>(NumThreads()));
  for (size_t first = 0; first < tiles; first += chunk_tiles) {
    const size_t last = std::min(tiles, first + chunk_tiles);
    ParallelFor(last - first, 1, [&](size_t begin, size_t end, size_t thread) {
      std::vector<float> buf(simd::kQuantTileRows * cols);
      for (size_t tile = first + begin; tile < first + end; ++tile) {
        const size_t r0 = tile * simd::kQuantTileRows, r1 = std::min(rows, r0 + simd::kQuantTileRows);
        WidenRows(t, cols, r0, r1, buf.data());
        errors[thread].Add(quant::QuantizeTile(kind, scheme, buf.data(), r1 - r0, cols, cols, 0, out.data() + tile * tile_bytes));
      }
    });
    const size_t chunk_end = std::min<size_t>(t.bytes.size(), last * source_tile_bytes);
    if (mapped) ReleaseMappedPages(t.bytes.subspan(first * source_tile_bytes, chunk_end - first * source_tile_bytes));
    if (step) GLMV_RETURN_IF_ERROR(step(chunk_end));
  }
  quant::QuantError total;
  for (const auto& e : errors) total.Add(e);
  return total.SnrDb();
}

// A float tensor rounded to bf16 (nearest even) into `out`, in chunks on all cores; returns the SNR.
Result<double> NarrowToBF16(const TensorView& t, std::vector<uint8_t>& out) {
  const size_t n = static_cast<size_t>(t.NumElements()), elem = DTypeSize(t.dtype);
  out.resize(n * sizeof(uint16_t));
  std::vector<quant::QuantError> errors(static_cast<size_t>(NumThreads()));
  constexpr size_t kBlock = size_t{1} << 14;  // widened a block at a time: RAM stays small
  ParallelFor(n, kBlock, [&](size_t begin, size_t end, size_t thread) {
    std::vector<float> wide(kBlock);
    for (size_t b0 = begin; b0 < end; b0 += kBlock) {
      const size_t len = std::min(kBlock, end - b0);
      WidenToF32(t.dtype, t.bytes.data() + b0 * elem, len, wide.data());
      for (size_t i = 0; i < len; ++i) {
        const float v = wide[i];
        const uint16_t b = F32ToBF16(v);
        std::memcpy(out.data() + 2 * (b0 + i), &b, 2);
        const double e = static_cast<double>(v) - BF16ToF32(b);
        errors[thread].signal += static_cast<double>(v) * v, errors[thread].noise += e * e;
      }
    }
  });
  quant::QuantError total;
  for (const auto& e : errors) total.Add(e);
  return total.SnrDb();
}

// The source files' checksums, as glmv.source: they tell later whether a model file came from this
// checkpoint. Reading every source byte once more costs little next to quantizing them.
Result<std::string> SourceMetadata(const Checkpoint& ckpt, const std::string& dir,
                                   const std::function<Status(const ConvertProgress&)>& progress) {
  nlohmann::json files = nlohmann::json::array();
  ConvertProgress hashing{0, 0, nullptr, true};
  for (const auto& f : ckpt.files()) hashing.total_bytes += f.mapped_bytes().size();
  Status stop;
  auto step = [&](uint64_t n) {
    hashing.done_bytes += n;
    if (progress && stop.ok()) stop = progress(hashing);
  };
  for (const auto& f : ckpt.files()) {
    GLMV_RETURN_IF_ERROR(stop);
    files.push_back({{"file", fs::path(f.path()).filename().string()},
                     {"bytes", std::filesystem::file_size(f.path())},
                     {"checksum64_chunked", HexString(FileChecksum(f.mapped_bytes(), step))}});
  }
  return nlohmann::json({{"dir", fs::absolute(dir).string()}, {"files", files}}).dump();
}

}  // namespace

Result<std::map<std::string, std::string>> AssetMetadata(
    const std::function<std::optional<std::string>(const std::string& name)>& path_of) {
  std::map<std::string, std::string> meta;
  for (const char* name : kModelAssetNames) {
    if (std::string(name) == "tokenizer.model") continue;  // replaced by an equivalent tokenizer.json below
    if (const auto path = path_of(name)) {
      GLMV_ASSIGN_OR_RETURN(meta[name], ReadAssetFile(*path));
    }
  }
  const auto ranks = path_of("tokenizer.model"), tok_config = path_of("tokenizer_config.json");
  if (!meta.count("tokenizer.json") && ranks && tok_config) {
    GLMV_ASSIGN_OR_RETURN(HfJson built, BuildHfTokenizerJsonFromTiktoken(*ranks, *tok_config));
    meta["tokenizer.json"] = std::move(built.json);
  }
  return meta;
}

std::string RecipeMetadata(const ConvertOptions& options, quant::QuantScheme scheme) {
  nlohmann::json recipe = {{"recipe", ConvertRecipeName(options.recipe)},
                           {"scheme", scheme == quant::QuantScheme::kSearch ? "search" : "round-to-nearest"},
                           {"int4_grid", options.int4_uniform || options.scheme != quant::QuantScheme::kSearch ? "uniform" : "nl"},
                           {"vision", options.recipe == ConvertRecipe::kFloat && !options.float_recipe_vision ? "source" : VisionFormatName(options.vision)},
                           {"group", simd::kQuantGroup},
                           {"tile_rows", simd::kQuantTileRows}};
  return recipe.dump();
}

uint64_t FileChecksum(std::span<const uint8_t> bytes, const std::function<void(uint64_t)>& step) {
  constexpr size_t kChunk = size_t{64} << 20;
  uint64_t h = Checksum64(nullptr, 0) ^ bytes.size();
  for (size_t off = 0; off < bytes.size(); off += kChunk) {
    const auto chunk = bytes.subspan(off, std::min(kChunk, bytes.size() - off));
    h = Checksum64(reinterpret_cast<const uint8_t*>(&h), sizeof h) ^ Checksum64(chunk.data(), chunk.size());
    ReleaseMappedPages(chunk);  // a 200 GB checkpoint is read through, not kept resident
    if (step) step(chunk.size());
  }
  return h;
}

uint64_t Checksum64(const uint8_t* data, size_t n) {
  // Four independent multiply-xorshift lanes over 8-byte words (no long dependency chain), then mixed.
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h[4] = {0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull, 0x082EFA98EC4E6C89ull};
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int l = 0; l < 4; ++l) {
      uint64_t w;
      std::memcpy(&w, data + i + 8 * l, 8);
      h[l] = (h[l] ^ w) * kMul;
      h[l] ^= h[l] >> 29;
    }
  }
  uint64_t r = n * kMul;
  for (int l = 0; l < 4; ++l) r = (r ^ h[l]) * kMul, r ^= r >> 31;
  for (; i < n; ++i) r = (r ^ data[i]) * kMul, r ^= r >> 31;
  return r;
}

Result<ConvertRecipe> ParseConvertRecipe(std::string_view name) {
  if (name == "mixed") return ConvertRecipe::kMixed;
  if (name == "q8") return ConvertRecipe::kQ8;
  if (name == "q4") return ConvertRecipe::kQ4;
  if (name == "float") return ConvertRecipe::kFloat;
  return Status::Error("unknown recipe '" + std::string(name) + "' (use mixed, q8, q4 or float)");
}

const char* ConvertRecipeName(ConvertRecipe r) {
  switch (r) {
    case ConvertRecipe::kMixed: return "mixed";
    case ConvertRecipe::kQ8: return "q8";
    case ConvertRecipe::kQ4: return "q4";
    case ConvertRecipe::kFloat: return "float";
  }
  return "?";
}

Result<VisionFormat> ParseVisionFormat(std::string_view name) {
  if (name == "bf16") return VisionFormat::kBF16;
  if (name == "f32") return VisionFormat::kF32;
  if (name == "q8") return VisionFormat::kQ8;
  return Status::Error("unknown vision format '" + std::string(name) + "' (use bf16, f32 or q8)");
}

const char* VisionFormatName(VisionFormat f) {
  return f == VisionFormat::kF32 ? "f32" : f == VisionFormat::kQ8 ? "q8" : "bf16";
}

std::string TensorComponent(const std::string& name) {
  if (Contains(name, "model.visual.")) return "vision";
  if (Contains(name, "embed_tokens")) return "embeddings";
  if (Contains(name, "lm_head")) return "lm_head";
  if (Contains(name, ".mlp.experts.")) return "routed experts";
  if (Contains(name, ".shared_experts.")) return "shared experts";
  if (Contains(name, ".mlp.gate.")) return "router";
  if (Contains(name, "norm")) return "norms";
  if (Contains(name, ".self_attn.")) return "attention";
  if (Contains(name, ".mlp.")) return "dense MLP";
  return "other";
}

DType ConvertTargetDType(const ConvertOptions& options, const std::string& name, const std::vector<int64_t>& shape,
                         DType source) {
  const ConvertRecipe recipe = options.recipe;
  const DType int4 = options.int4_uniform || options.scheme == quant::QuantScheme::kRoundToNearest ? DType::kQ4G32
                                                                                                   : DType::kQ4NLG32;
  const std::string component = TensorComponent(name);
  if (recipe == ConvertRecipe::kFloat && !(component == "vision" && options.float_recipe_vision)) return source;
  if (component == "vision") {
    // Matrices only (BindVisionWeights reads the rest as f32); the convolutions' weights have 4–5 dims.
    if (!IsVisionMatrix(name, shape)) return DType::kF32;
    if (options.vision == VisionFormat::kQ8 && shape.size() == 2) return DType::kQ8G32;
    return options.vision == VisionFormat::kF32 ? DType::kF32 : DType::kBF16;
  }
  if (shape.size() != 2 || component == "router") return DType::kF32;
  switch (recipe) {
    case ConvertRecipe::kMixed: return component == "routed experts" ? int4 : DType::kQ8G32;
    case ConvertRecipe::kQ8: return DType::kQ8G32;
    case ConvertRecipe::kQ4:
      return component == "embeddings" || component == "lm_head" ? DType::kQ8G32 : int4;
    case ConvertRecipe::kFloat: break;
  }
  return source;
}

Result<ConvertReport> WriteModelFile(const ModelConfig& config, const TensorSource& source,
                                     const std::map<std::string, std::string>& metadata, const std::string& out_path,
                                     const ConvertOptions& options, quant::QuantScheme scheme,
                                     const std::function<Status(const ConvertProgress&)>& progress) {
  // The plan: every tensor of the model's tables, in table order (experts' three matrices consecutive).
  std::vector<Planned> plan;
  std::vector<std::string> unit_names;
  Status status;
  auto add = [&](const std::string& name, const std::vector<int64_t>& shape, Weight&) {
    if (!status.ok()) return;
    auto dtype = source.dtype(name, shape);
    if (!dtype.ok()) {
      status = dtype.status();
      return;
    }
    Planned p{name, shape, *dtype, ConvertTargetDType(options, name, shape, *dtype), 0, 0, -1};
    uint64_t elements = 1;
    for (const int64_t d : shape) elements *= static_cast<uint64_t>(d);
    p.source_bytes = elements * DTypeSize(p.source_dtype);
    p.bytes = IsPacked(p.dtype) ? PackedBytes(p.dtype, shape) : elements * DTypeSize(p.dtype);
    const std::string unit = ExpertUnitName(name);
    if (!unit.empty()) {
      if (unit_names.empty() || unit_names.back() != unit) unit_names.push_back(unit);
      p.unit = static_cast<int64_t>(unit_names.size()) - 1;
    }
    plan.push_back(std::move(p));
  };
  TextWeights text;
  ForEachTextTensor(config.text, text, add);
  if (config.has_vision) {
    VisionWeights vision;
    ForEachVisionTensor(config.vision, vision, add);
  }
  GLMV_RETURN_IF_ERROR(status);

  std::vector<ModelFileWriter::Spec> specs;
  ConvertReport report;
  for (const auto& p : plan) {
    specs.push_back({p.name, p.dtype, p.shape, p.bytes, p.unit});
    report.source_bytes += p.source_bytes;
  }
  GLMV_ASSIGN_OR_RETURN(auto writer, ModelFileWriter::Create(out_path, metadata, specs, unit_names));

  // Enough room for the whole file, checked before the long part starts.
  struct statvfs vfs {};
  const fs::path parent = fs::absolute(out_path).parent_path();
  if (statvfs(parent.c_str(), &vfs) == 0) {
    const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    if (free_bytes < writer->file_bytes()) {
      return Status::Error("not enough disk space in " + parent.string() + ": the model file needs " +
                           std::to_string(writer->file_bytes() >> 20) + " MiB, " + std::to_string(free_bytes >> 20) +
                           " MiB are free");
    }
  }

  ConvertProgress prog{0, report.source_bytes, nullptr};
  std::vector<uint8_t> buf, scratch;
  for (const auto& p : plan) {
    GLMV_ASSIGN_OR_RETURN(const TensorView t, source.values(p.name, scratch));
    prog.tensor = &p.name;
    double snr = std::numeric_limits<double>::infinity();
    if (IsPacked(p.dtype)) {
      const uint64_t before = prog.done_bytes;
      auto step = [&](uint64_t tensor_done) -> Status {
        prog.done_bytes = before + tensor_done;
        return progress ? progress(prog) : Status::Ok();
      };
      GLMV_ASSIGN_OR_RETURN(snr, QuantizeTensor(t, p.dtype, scheme, source.mapped, buf, step));
      prog.done_bytes = before;
      GLMV_RETURN_IF_ERROR(writer->Append(buf));
    } else if (p.dtype == t.dtype) {
      GLMV_RETURN_IF_ERROR(writer->Append(t.bytes));
    } else if (p.dtype == DType::kBF16) {  // an f32 or f16 vision matrix, rounded
      GLMV_ASSIGN_OR_RETURN(snr, NarrowToBF16(t, buf));
      GLMV_RETURN_IF_ERROR(writer->Append(buf));
    } else {  // widened to f32 (norms, biases, the router)
      buf.resize(p.bytes);
      WidenToF32(t.dtype, t.bytes.data(), static_cast<size_t>(t.NumElements()), reinterpret_cast<float*>(buf.data()));
      GLMV_RETURN_IF_ERROR(writer->Append(buf));
    }
    if (source.mapped) ReleaseMappedPages(t.bytes);  // RSS stays at a few tensors whatever the checkpoint's size
    report.tensors.push_back({p.name, TensorComponent(p.name), t.dtype, p.dtype, p.shape, p.bytes, snr});
    prog.done_bytes += p.source_bytes;
    if (progress) GLMV_RETURN_IF_ERROR(progress(prog));
  }
  GLMV_RETURN_IF_ERROR(writer->Finish());
  report.file_bytes = writer->file_bytes();
  return report;
}

Result<ConvertReport> ConvertModel(const std::string& hf_dir, const std::string& out_path, const ConvertOptions& options,
                                   const std::function<Status(const ConvertProgress&)>& progress) {
  if (IsModelFile(hf_dir)) return Status::Error(hf_dir + " is already a .glmv model file; convert takes a Hugging Face directory");
  GLMV_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(hf_dir));

  TensorSource source;
  source.dtype = [&](const std::string& name, const std::vector<int64_t>& shape) -> Result<DType> {
    const TensorView* t = ckpt->Find(name);
    if (!t) return Status::Error(hf_dir + ": missing tensor '" + name + "' (expected shape " + ShapeString(shape) + ")");
    if (t->shape != shape) {
      return Status::Error(*t->file + ": tensor '" + name + "' has shape " + ShapeString(t->shape) + ", expected " +
                           ShapeString(shape) + " from config.json");
    }
    if (!IsFloat(t->dtype)) {
      return Status::Error(*t->file + ": tensor '" + name + "' has dtype " + DTypeName(t->dtype) + ", expected F32, BF16 or F16");
    }
    return t->dtype;
  };
  source.values = [&](const std::string& name, std::vector<uint8_t>&) -> Result<TensorView> { return *ckpt->Find(name); };

  GLMV_ASSIGN_OR_RETURN(auto metadata, AssetMetadata([&](const std::string& name) -> std::optional<std::string> {
    const fs::path path = fs::path(hf_dir) / name;
    std::error_code ec;
    return fs::exists(path, ec) ? std::optional<std::string>(path.string()) : std::nullopt;
  }));
  metadata["glmv.recipe"] = RecipeMetadata(options, options.scheme);
  GLMV_ASSIGN_OR_RETURN(metadata["glmv.source"], SourceMetadata(*ckpt, hf_dir, progress));
  GLMV_ASSIGN_OR_RETURN(ConvertReport report,
                        WriteModelFile(ckpt->config(), source, metadata, out_path, options, options.scheme, progress));
  report.ignored_tensors = ckpt->num_tensors() - report.tensors.size();
  return report;
}

}  // namespace glmv
