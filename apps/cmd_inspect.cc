// glmv inspect FILE: what a .glmv model file holds — header, model config, recipe and source, every tensor
// (dtype, shape, bytes, expert unit) and the totals by component. Opening it runs the same validation as
// loading, so inspect is also the way to check a file before use.
#include <fmt/core.h>

#include <map>
#include <nlohmann/json.hpp>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/synth_model.h"  // FormatBytes
#include "io/model_file.h"
#include "lib/tools/convert.h"  // TensorComponent
#include "lib/model/weight.h"  // PackedMatrixBytes

namespace glmv::app {
namespace {

const std::vector<OptionSpec> kInspectOptions = {
    {"--summary", "-s", false, "header, config and totals only (no per-tensor lines)"},
    {"--metadata", "", true, "KEY  print one metadata entry verbatim (e.g. config.json, glmv.recipe) and exit"},
    {"--help", "-h", false, "show this help"},
};

constexpr const char* kInspectHelp =
    "usage: glmv inspect MODEL.glmv [--summary] [--metadata KEY]\n\n"
    "Prints a .glmv model file's header, the model config, the conversion recipe and source, the\n"
    "metadata entries, one line per tensor (dtype, shape, bytes, expert unit) and the totals by component.\n"
    "The file is validated first, exactly as loading does; a damaged file is reported and exits 1.\n\n";

std::string Shape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The packed sizes are the kernels' business, so io/ cannot check them; a wrong one would read past the
// tensor in the kernels. (lib's loader checks the same before binding.)
std::string PackedSizeProblem(const TensorView& t) {
  if (!IsPacked(t.dtype)) return "";
  if (t.shape.size() != 2) return "packed tensor is not 2-D";
  const uint64_t want = PackedMatrixBytes(t.dtype, static_cast<size_t>(t.shape[0]), static_cast<size_t>(t.shape[1]));
  return want == t.bytes.size() ? "" : fmt::format("holds {} bytes, its shape needs {}", t.bytes.size(), want);
}

void PrintConfig(const std::map<std::string, std::string>& meta) {
  auto it = meta.find("config.json");
  if (it == meta.end()) {
    fmt::print("config: (none in the metadata)\n");
    return;
  }
  const auto c = nlohmann::json::parse(it->second, nullptr, false);
  if (c.is_discarded() || !c.is_object()) {
    fmt::print("config: (not valid JSON)\n");
    return;
  }
  const nlohmann::json& text = c.contains("text_config") ? c["text_config"] : c;
  auto get = [](const nlohmann::json& j, const char* key) { return j.contains(key) ? j[key].dump() : std::string("-"); };
  fmt::print("config: model_type {}, architectures {}\n", get(c, "model_type"), get(c, "architectures"));
  fmt::print("  text: hidden {}, layers {} (first {} dense), heads {} × {} (kv {}), experts {} × {} (top {}, shared {}), "
             "dense MLP {}, vocab {}\n",
             get(text, "hidden_size"), get(text, "num_hidden_layers"), get(text, "first_k_dense_replace"),
             get(text, "num_attention_heads"), get(text, "head_dim"), get(text, "num_key_value_heads"),
             get(text, "n_routed_experts"), get(text, "moe_intermediate_size"), get(text, "num_experts_per_tok"),
             get(text, "n_shared_experts"), get(text, "intermediate_size"), get(text, "vocab_size"));
  if (c.contains("vision_config")) {
    const auto& v = c["vision_config"];
    fmt::print("  vision: hidden {}, depth {}, heads {}, patch {}, merge {}, out {}\n", get(v, "hidden_size"), get(v, "depth"),
               get(v, "num_heads"), get(v, "patch_size"), get(v, "spatial_merge_size"), get(v, "out_hidden_size"));
  }
}

}  // namespace

int RunInspect(int argc, char** argv) {
  auto args = Args::Parse(kInspectOptions, argc, argv, 2);
  const bool help = args.ok() && args->Has("--help");
  if (!args.ok() || help || args->positional().size() != 1) {
    if (!args.ok()) fmt::print(stderr, "glmv inspect: {}\n", args.status().message());
    else if (!help) fmt::print(stderr, "glmv inspect: one model file expected\n");
    fmt::print(help ? stdout : stderr, "{}Options:\n{}", kInspectHelp, OptionsHelp(kInspectOptions));
    return help ? 0 : 2;
  }
  const std::string path = args->positional()[0];
  auto file = ModelFile::Open(path);
  if (!file.ok()) {
    fmt::print(stderr, "glmv inspect: {}\n", file.status().message());
    return 1;
  }
  const auto& meta = file->metadata();
  if (args->Has("--metadata")) {
    auto it = meta.find(args->Get("--metadata"));
    if (it == meta.end()) {
      fmt::print(stderr, "glmv inspect: {} has no metadata entry '{}'\n", path, args->Get("--metadata"));
      return 1;
    }
    fmt::print("{}\n", it->second);
    return 0;
  }

  const FileHeader& h = file->header();
  fmt::print("file: {} — glmv model file version {}, {} ({} bytes)\n", path, h.version, FormatBytes(h.file_bytes), h.file_bytes);
  fmt::print("  sections: metadata {} B at {}, {} tensors at {}, {} units at {}, names {} B at {}, data {} at {}\n",
             h.metadata_bytes, h.metadata_offset, h.tensor_count, h.table_offset, h.unit_count, h.unit_offset, h.names_bytes,
             h.names_offset, FormatBytes(h.data_bytes), h.data_offset);
  PrintConfig(meta);
  for (const char* key : {"glmv.recipe", "glmv.source"}) {
    if (auto it = meta.find(key); it != meta.end()) {
      fmt::print("{}: {}\n", key + 5, it->second.size() > 400 ? it->second.substr(0, 400) + "…" : it->second);
    }
  }
  fmt::print("metadata:");
  for (const auto& [k, v] : meta) fmt::print(" {} ({} B)", k, v.size());
  fmt::print("\n");

  struct Total {
    size_t tensors = 0;
    uint64_t bytes = 0;
    std::map<std::string, size_t> dtypes;
  };
  std::map<std::string, Total> totals;
  int problems = 0;
  const bool list = !args->Has("--summary");
  if (list) fmt::print("tensors:\n");
  const auto& tensors = file->tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorView& t = tensors[i];
    Total& total = totals[TensorComponent(t.name)];
    ++total.tensors, total.bytes += t.bytes.size(), ++total.dtypes[DTypeName(t.dtype)];
    const std::string problem = PackedSizeProblem(t);
    if (!problem.empty()) {
      ++problems;
      fmt::print(stderr, "glmv inspect: {}: tensor '{}' {}\n", path, t.name, problem);
    }
    if (list) {
      const uint32_t unit = file->tensor_units()[i];
      fmt::print("  {:<72} {:<6} {:<16} {:>12}{}\n", t.name, DTypeName(t.dtype), Shape(t.shape), t.bytes.size(),
                 unit == kModelFileNoUnit ? "" : "  unit " + file->units()[unit].name);
    }
  }
  uint64_t all = 0;
  for (const auto& [name, t] : totals) all += t.bytes;
  fmt::print("totals by component:\n");
  for (const auto& [name, t] : totals) {
    std::string dtypes;
    for (const auto& [d, n] : t.dtypes) dtypes += (dtypes.empty() ? "" : " ") + d + "×" + std::to_string(n);
    fmt::print("  {:<16} {:>7} tensors {:>11} {:5.1f} %  {}\n", name, t.tensors, FormatBytes(t.bytes),
               all ? 100.0 * static_cast<double>(t.bytes) / static_cast<double>(all) : 0.0, dtypes);
  }
  uint64_t unit_bytes = 0;
  for (const auto& u : file->units()) unit_bytes += u.bytes.size();
  fmt::print("  {:<16} {:>7} tensors {:>11}  ({} expert units, {})\n", "all", tensors.size(), FormatBytes(all),
             file->units().size(), FormatBytes(unit_bytes));
  if (problems) {
    fmt::print(stderr, "glmv inspect: {}: {} tensor(s) have a size their shape does not need: the file is damaged\n", path, problems);
    return 1;
  }
  return 0;
}

}  // namespace glmv::app
