#include "apps/synth_model.h"

#include <fmt/core.h>
#include <stdlib.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace glmv::app {
namespace fs = std::filesystem;
namespace {

// Files that make the result usable with `glmv run -p` / `--image` (tokenizer, chat template,
// preprocessing); copied when found, never required.
constexpr const char* kSideFiles[] = {
    "tokenizer.json",        "tokenizer.model",          "tokenizer_config.json",
    "special_tokens_map.json", "chat_template.jinja",    "chat_template.json",
    "preprocessor_config.json", "video_preprocessor_config.json", "generation_config.json",
};

// A GLM-4.5V-sized config has 18,106 tensors; a list a thousand times longer is a typo, and building
// it would take the memory the disk check is there to protect.
constexpr double kMaxTensors = 1e6;

uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max() : a + b;
}

// An upper bound of one tensor's entry in a safetensors header:
// "name":{"dtype":"BF16","shape":[d0,..],"data_offsets":[begin,end]}, with 20 digits per number.
uint64_t HeaderEntryBound(const SynthTensor& t) { return t.name.size() + 100 + 21 * t.shape.size(); }
constexpr uint64_t kHeaderBase = 64;  // length prefix, braces, {"__metadata__":{"format":"pt"}}, padding

Result<std::string> ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Error(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return Status::Error(path + ": read failed");
  return ss.str();
}

Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  f.close();
  if (!f) return Status::Error(path.string() + ": write failed (disk full?)");
  return Status::Ok();
}

fs::path ConfigDir(const std::string& config_path) {
  fs::path dir = fs::path(config_path).parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

fs::path Normal(const std::string& p) { return fs::weakly_canonical(fs::absolute(p)); }

// True when `inner` is `outer` or lies inside it.
bool Inside(const fs::path& inner, const fs::path& outer) {
  auto [o, i] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
  return o == outer.end();
}

}  // namespace

std::string FormatBytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1e9) return fmt::format("{:.2f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.1f} MB", b / 1e6);
  if (b >= 1e3) return fmt::format("{:.1f} KB", b / 1e3);
  return fmt::format("{} B", bytes);
}

Result<SynthPlan> PlanSynthModel(const SynthOptions& options) {
  SynthPlan plan;
  GLMV_ASSIGN_OR_RETURN(plan.config_text, ReadText(options.config_path));
  GLMV_ASSIGN_OR_RETURN(plan.config, ParseModelConfig(plan.config_text, options.config_path));
  const TextConfig& t = plan.config.text;
  const double text_tensors =
      static_cast<double>(t.num_hidden_layers) * (20.0 + 3.0 * static_cast<double>(std::max<int64_t>(t.n_routed_experts, 0)));
  const double vision_tensors = plan.config.has_vision ? 8.0 * static_cast<double>(plan.config.vision.depth) + 20 : 0;
  if (text_tensors + vision_tensors > kMaxTensors) {
    return Status::Error(fmt::format("{}: the config implies about {:.3g} tensors (layers × experts); glmv synth "
                                     "writes at most {:.0f} (GLM-4.5V has 18,106)",
                                     options.config_path, text_tensors + vision_tensors, kMaxTensors));
  }
  std::vector<SynthTensor> tensors = SynthModelTensors(plan.config, options.dtype);
  plan.num_tensors = tensors.size();

  // Greedy packing in table order (so a layer's tensors stay together), by an upper bound of each
  // file's size, so no shard exceeds shard_bytes unless one tensor alone does.
  SynthShard current;
  uint64_t current_bound = kHeaderBase;
  for (auto& tensor : tensors) {
    const uint64_t add = SaturatingAdd(tensor.NumBytes(), HeaderEntryBound(tensor));
    if (!current.tensors.empty() && SaturatingAdd(current_bound, add) > options.shard_bytes) {
      current.file_bytes = current_bound;
      plan.shards.push_back(std::move(current));
      current = SynthShard{};
      current_bound = kHeaderBase;
    }
    if (SaturatingAdd(kHeaderBase, add) > options.shard_bytes) plan.oversized.push_back(tensor.name);
    plan.tensor_bytes = SaturatingAdd(plan.tensor_bytes, tensor.NumBytes());
    current_bound = SaturatingAdd(current_bound, add);
    current.tensors.push_back(std::move(tensor));
  }
  current.file_bytes = current_bound;
  plan.shards.push_back(std::move(current));

  // Exact file sizes (the bound above is a few bytes per tensor high), unless the sizes are absurd
  // enough that the offsets in a header would not fit 64 bits; the disk check refuses those anyway.
  const bool sane = plan.tensor_bytes < (uint64_t{1} << 60);
  uint64_t index_bytes = 64;
  for (size_t k = 0; k < plan.shards.size(); ++k) {
    SynthShard& s = plan.shards[k];
    s.file_name = fmt::format("model-{:05d}-of-{:05d}.safetensors", k + 1, plan.shards.size());
    if (sane) s.file_bytes = SynthSafetensorsBytes(s.tensors);
    plan.total_bytes = SaturatingAdd(plan.total_bytes, s.file_bytes);
    for (const auto& x : s.tensors) index_bytes += x.name.size() + s.file_name.size() + 12;
  }
  plan.total_bytes = SaturatingAdd(plan.total_bytes, index_bytes + plan.config_text.size());

  // Side files: for each name, the first directory holding it (--tokenizer-from in order, then the
  // config's own directory).
  std::vector<fs::path> sources(options.tokenizer_dirs.begin(), options.tokenizer_dirs.end());
  sources.push_back(ConfigDir(options.config_path));
  for (const auto& dir : options.tokenizer_dirs) {
    if (!fs::is_directory(dir)) return Status::Error("--tokenizer-from " + dir + ": not a directory");
  }
  for (const char* name : kSideFiles) {
    for (const auto& dir : sources) {
      std::error_code ec;
      const fs::path p = dir / name;
      if (fs::is_regular_file(p, ec)) {
        plan.copies.emplace_back(p.string(), name);
        plan.total_bytes = SaturatingAdd(plan.total_bytes, fs::file_size(p, ec));
        break;
      }
    }
  }
  return plan;
}

Status CheckSynthOutput(const SynthPlan& plan, const SynthOptions& options) {
  const fs::path out = Normal(options.out_dir);
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec)) return Status::Error(options.out_dir + " exists and is not a directory");
    if (!fs::is_empty(out, ec) && !options.force) {
      return Status::Error(options.out_dir + " is not empty (--force replaces it)");
    }
  }
  // Replacing a directory that holds one of our inputs would destroy it.
  std::vector<std::string> inputs = {options.config_path};
  for (const auto& [src, name] : plan.copies) inputs.push_back(src);
  for (const auto& in : inputs) {
    if (Inside(Normal(in), out)) {
      return Status::Error(options.out_dir + " holds an input of this run (" + in + "); choose another output directory");
    }
  }
  fs::path probe = out;
  while (!probe.empty() && !fs::exists(probe, ec) && probe != probe.root_path()) probe = probe.parent_path();
  struct statvfs st {};
  if (statvfs(probe.c_str(), &st) != 0) return Status::Error(probe.string() + ": cannot query free space");
  const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  const uint64_t needed = SaturatingAdd(plan.total_bytes, plan.total_bytes / 10);
  if (needed > free_bytes) {
    return Status::Error(fmt::format("{} would need {} ({} + 10 % margin), but the filesystem holding {} has {} free; "
                                     "nothing was written",
                                     options.out_dir, FormatBytes(needed), FormatBytes(plan.total_bytes),
                                     probe.string(), FormatBytes(free_bytes)));
  }
  return Status::Ok();
}

Status WriteSynthModel(const SynthPlan& plan, const SynthOptions& options, const SynthModelProgress& progress) {
  const fs::path out = Normal(options.out_dir);
  std::error_code ec;
  fs::create_directories(out.parent_path(), ec);
  if (ec) return Status::Error(out.parent_path().string() + ": cannot create (" + ec.message() + ")");
  // Beside the final directory, so that the closing rename stays on one filesystem and is atomic.
  std::string partial = out.string() + ".partial-XXXXXX";
  if (!mkdtemp(partial.data())) return Status::Error(partial + ": cannot create");
  auto fail = [&](const Status& s) {
    std::error_code ignored;
    fs::remove_all(partial, ignored);
    return s;
  };
  const fs::path dir(partial);
  if (Status s = WriteText(dir / "config.json", plan.config_text); !s.ok()) return fail(s);
  uint64_t before = 0;
  for (size_t k = 0; k < plan.shards.size(); ++k) {
    const SynthShard& shard = plan.shards[k];
    Status s = WriteSynthSafetensors((dir / shard.file_name).string(), shard.tensors, options.seed,
                                     [&](uint64_t done) { return progress ? progress(before + done, k) : Status::Ok(); });
    if (!s.ok()) return fail(s);
    for (const auto& t : shard.tensors) before += t.NumBytes();
  }
  nlohmann::json index;
  index["metadata"]["total_size"] = plan.tensor_bytes;
  index["weight_map"] = nlohmann::json::object();
  for (const auto& shard : plan.shards) {
    for (const auto& t : shard.tensors) index["weight_map"][t.name] = shard.file_name;
  }
  if (Status s = WriteText(dir / "model.safetensors.index.json", index.dump(2) + "\n"); !s.ok()) return fail(s);
  for (const auto& [src, name] : plan.copies) {
    if (!fs::copy_file(src, dir / name, ec)) return fail(Status::Error("copying " + src + ": " + ec.message()));
    // Sources may be read-only (a shared reference tree); the copy belongs to the new model.
    fs::permissions(dir / name, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add, ec);
  }
  // mkdtemp made it private (0700); a model directory is normally readable by all.
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                           fs::perms::others_exec, ec);
  if (fs::exists(out, ec)) {
    if (!fs::is_empty(out, ec) && !options.force) return fail(Status::Error(options.out_dir + " is not empty"));
    fs::remove_all(out, ec);
    if (ec) return fail(Status::Error(options.out_dir + ": cannot replace (" + ec.message() + ")"));
  }
  fs::rename(dir, out, ec);
  if (ec) return fail(Status::Error("renaming " + partial + " to " + options.out_dir + ": " + ec.message()));
  return Status::Ok();
}

}  // namespace glmv::app
