// `glmv synth`'s work apart from the command line: plan a random-weight Hugging Face model directory for
// a config (tensors from lib/synth_weights.h, packed into shards), check that it fits on the disk, and
// write it through a DIR.partial-XXXXXX directory renamed into place, so an interrupted or failed run
// never leaves a half-written model under the final name.
//
// Output: config.json (the given file, byte for byte), model-0000K-of-0000N.safetensors,
// model.safetensors.index.json ({"metadata": {"total_size"}, "weight_map"}), and the tokenizer /
// processor files found beside the config or in --tokenizer-from directories.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "io/dtype.h"
#include "io/status.h"
#include "lib/model/config.h"
#include "lib/tools/synth_weights.h"

namespace glmv::app {

struct SynthOptions {
  std::string config_path;                  // a Hugging Face config.json
  std::string out_dir;
  uint64_t seed = 0;
  DType dtype = DType::kBF16;               // kBF16 or kF32
  uint64_t shard_bytes = 4'000'000'000;     // largest shard file, header included
  bool force = false;                       // replace a non-empty out_dir
  std::vector<std::string> tokenizer_dirs;  // searched first, in order; then the config's directory
};

struct SynthShard {
  std::string file_name;  // model-00001-of-00003.safetensors
  std::vector<SynthTensor> tensors;
  uint64_t file_bytes = 0;  // header included
};

struct SynthPlan {
  std::string config_text;  // written verbatim
  ModelConfig config;
  std::vector<SynthShard> shards;
  size_t num_tensors = 0;
  uint64_t tensor_bytes = 0;  // the index's total_size: tensor data only, as transformers counts it
  uint64_t total_bytes = 0;   // everything written: shards, index, config, copied files
  // Files to copy: (source path, name in the output). Empty when none was found.
  std::vector<std::pair<std::string, std::string>> copies;
  // A single tensor larger than the shard size gets a shard of its own (as transformers does).
  std::vector<std::string> oversized;
};

// Reads and validates the config, lists the tensors and packs them, in table order, into shards of at
// most `shard_bytes`. Refuses configs whose tensor list alone would be unreasonable (> 1M tensors).
Result<SynthPlan> PlanSynthModel(const SynthOptions& options);

// Refuses (a) an out_dir that is a file, or a non-empty directory without `force`, (b) an out_dir that is
// the config's or a tokenizer source's directory, (c) a plan that does not fit, with a 10 % margin, in
// the free space of the filesystem that will hold out_dir. Nothing is written.
Status CheckSynthOutput(const SynthPlan& plan, const SynthOptions& options);

// Called with (bytes written so far over all shards, shard index); an error stops the run.
using SynthModelProgress = std::function<Status(uint64_t bytes_done, size_t shard)>;

// Writes the plan into out_dir.partial-XXXXXX, then renames it to out_dir (replacing an existing one when
// `force`). On any error the partial directory is removed and out_dir is left as it was.
Status WriteSynthModel(const SynthPlan& plan, const SynthOptions& options, const SynthModelProgress& progress);

// Human-readable sizes for messages: "10.15 GB", "812 MB", "4.2 KB", "17 B" (powers of 10, like df -H).
std::string FormatBytes(uint64_t bytes);

}  // namespace glmv::app
