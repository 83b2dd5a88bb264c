// glmv synth: a random-weight Hugging Face model directory for any GLM-V config, streamed to disk, so the
// runtime can be run and measured at GLM-4.5V's real dimensions (with fewer layers) without the 200 GB
// checkpoint. The work is in apps/synth_model.h; this file is flags, progress and the summary.
#include <fmt/core.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "apps/args.h"
#include "apps/byte_size.h"
#include "apps/cli_util.h"
#include "apps/commands.h"
#include "apps/synth_model.h"
#include "lib/tools/convert.h"
#include "lib/tools/synth_model_file.h"
#include "lib/base/parallel.h"
#include "lib/tokenizer/tokenizer.h"

namespace glmv::app {
namespace {

namespace fs = std::filesystem;

const std::vector<OptionSpec> kSynthOptions = {
    {"--config", "-c", true, "FILE  a GLM-V (glm4v_moe) config.json; written to the output verbatim"},
    {"--out", "-o", true, "DIR  output model directory (created; must not exist or be empty)"},
    {"--seed", "", true, "N  seed of the weights (default 0): same seed, same files"},
    {"--dtype", "", true, "bf16|f32  weight type (default bf16, like the real checkpoint); "
                           "e_score_correction_bias is always f32"},
    {"--shard-size", "", true, "SIZE  largest shard file, e.g. 4GB (default), 500MB, 2GiB, 1000000; a tensor "
                                "larger than SIZE gets a shard of its own"},
    {"--tokenizer-from", "", true, "DIR  copy tokenizer/chat-template/preprocessor files from DIR (repeatable; "
                                    "for each file the first DIR holding it wins, then the config's directory)"},
    {"--format", "", true, "dir|glmv  a Hugging Face directory (default), or one quantized .glmv file written "
                           "directly (-o names the file; no bf16 copy on disk)"},
    {"--recipe", "", true, "mixed|q8|q4|float  with --format glmv: which tensors get int4 / int8, as in glmv convert "
                           "(default mixed), quantized by round-to-nearest"},
    {"--expert-skew", "", true, "S  with --format glmv: routing locality, a Zipf popularity of exponent S over each "
                                "MoE layer's experts, set through the router's correction bias (default 0: "
                                "close to uniform, as random routers pick)"},
    {"--force", "", false, "replace DIR (or the .glmv file) if it exists"},
    {"--threads", "", true, "N  threads generating the weights (default: all cores)"},
    {"--help", "-h", false, "show this help"},
};

constexpr const char* kSynthHelp =
    "usage: glmv synth --config CONFIG.json -o DIR [--seed N] [--dtype bf16|f32] [--shard-size 4GB]\n"
    "                  [--tokenizer-from DIR] [--force]\n"
    "       glmv synth --config CONFIG.json --format glmv -o MODEL.glmv [--recipe mixed|q8|q4|float]\n"
    "                  [--expert-skew S] [...]\n\n"
    "Writes a model directory with random weights for any GLM-V config: config.json, the shards\n"
    "model-0000K-of-0000N.safetensors, model.safetensors.index.json, and the tokenizer/processor files\n"
    "found beside the config or in --tokenizer-from. Every tensor the runtime expects is there, with its\n"
    "shape and dtype; values are deterministic in --seed (linears bell-shaped with variance 1/fan_in, norms near\n"
    "1, biases small). Without tokenizer files the model still runs with `glmv run --prompt-ids`.\n\n"
    "The free space is checked first (the model plus 10 % must fit); the data goes to DIR.partial-XXXXXX,\n"
    "renamed to DIR when complete, so an interrupted run leaves nothing under DIR. Progress is shown on a\n"
    "terminal; the summary line goes to stdout.\n\n"
    "Examples:\n"
    "  # GLM-4.5V's dimensions with 4 layers (1 dense, 3 MoE) and the vision tower: 18.7 GB in bf16\n"
    "  glmv synth --config benchmarks/configs/glm45v-4layer.json -o /tmp/glm45v-4l\n"
    "  # the tiny test model's shapes, in 3 shards, with its tokenizer (found beside the config)\n"
    "  glmv synth --config tests/data/tiny-glm4v-moe/config.json -o /tmp/tiny --seed 1 --shard-size 300KB\n"
    "  glmv run -m /tmp/tiny --prompt-ids 1,2,3 -n 4\n"
    "  # GLM-4.5V's real widths with 12 layers as one int4/int8 file (~18.5 GB), no bf16 copy on disk\n"
    "  glmv synth --config benchmarks/configs/glm45v-12layer.json --format glmv -o /tmp/glm45v-12l.glmv\n\n"
    "--format glmv writes the values the directory would hold (same seed, same --dtype rounding) quantized\n"
    "by round-to-nearest into the formats of `glmv convert --recipe R` (int4 on the non-uniform grid), one\n"
    "tensor at a time: the free space needed is the .glmv file's, and memory the largest tensor's.\n\n"
    "--expert-skew S (with --format glmv) replaces each MoE layer's e_score_correction_bias by\n"
    "-0.1 * S * ln(rank), centred, over a random per-layer ranking of the experts: expert popularity falls as\n"
    "a Zipf law of exponent S, so expert caches meet skewed routing (S = 1: the top 10 % of experts take about\n"
    "half the picks). The bias only chooses experts; the picked ones are weighed as before. Default 0.\n\n";

Result<SynthOptions> ReadOptions(const Args& args) {
  SynthOptions o;
  o.config_path = args.Get("--config");
  o.out_dir = args.Get("--out");
  if (o.config_path.empty() || o.out_dir.empty()) return Status::Error("--config and -o DIR are required (see --help)");
  GLMV_ASSIGN_OR_RETURN(const long long seed, args.GetInt("--seed", 0));
  if (seed < 0) return Status::Error("--seed must not be negative");
  o.seed = static_cast<uint64_t>(seed);
  const std::string dtype = args.Get("--dtype", "bf16");
  if (dtype == "bf16") {
    o.dtype = DType::kBF16;
  } else if (dtype == "f32") {
    o.dtype = DType::kF32;
  } else {
    return Status::Error("--dtype must be bf16 or f32, not '" + dtype + "'");
  }
  if (args.Has("--shard-size")) {
    GLMV_ASSIGN_OR_RETURN(o.shard_bytes, ParseByteSize(args.Get("--shard-size"), "--shard-size"));
  }
  o.force = args.Has("--force");
  o.tokenizer_dirs = args.GetAll("--tokenizer-from");
  GLMV_ASSIGN_OR_RETURN(const long long threads, args.GetInt("--threads", 0));
  if (threads < 0) return Status::Error("--threads must not be negative");
  if (threads > 0) SetNumThreads(static_cast<int>(threads));
  return o;
}

// What the summary says about text input: the tokenizer's size, or how to run without one.
std::string TokenizerNote(const SynthPlan& plan, const std::string& dir) {
  bool has_tokenizer = false;
  for (const auto& [src, name] : plan.copies) has_tokenizer |= name == "tokenizer.json" || name == "tokenizer.model";
  if (!has_tokenizer) {
    return "no tokenizer files beside the config or in --tokenizer-from: run it with `glmv run --prompt-ids`";
  }
  auto tok = Tokenizer::LoadFromDir(dir);
  if (!tok.ok()) return "warning: the copied tokenizer does not load: " + tok.status().message();
  const auto vocab = static_cast<size_t>(plan.config.text.vocab_size);
  if ((*tok)->size() > vocab) {
    return fmt::format("warning: the tokenizer has {} tokens but vocab_size is {}: ids past it will be refused",
                       (*tok)->size(), vocab);
  }
  return fmt::format("tokenizer: {} tokens (vocab_size {})", (*tok)->size(), vocab);
}

// --format glmv: the plan's config and side files, every tensor generated, quantized and appended to one file.
int WriteModelFileFormat(const Args& args, const SynthPlan& plan, const SynthOptions& options) {
  SynthModelFileOptions file_options;
  file_options.seed = options.seed;
  file_options.dtype = options.dtype;
  auto recipe = ParseConvertRecipe(args.Get("--recipe", "mixed"));
  if (!recipe.ok()) return CommandFailed("synth", recipe.status().Annotate("--recipe"));
  file_options.convert.recipe = *recipe;
  if (args.Has("--expert-skew")) {
    const std::string text = args.Get("--expert-skew");
    char* end = nullptr;
    const double skew = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(skew >= 0 && skew <= 100)) {
      return CommandFailed("synth",
                           Status::Error("--expert-skew takes a number from 0 to 100 (a Zipf exponent, e.g. 1), not '" + text + "'"));
    }
    file_options.expert_skew = skew;
  }
  if (args.Has("--shard-size")) {
    return CommandFailed("synth", Status::Error("--shard-size applies to --format dir only"));
  }
  const std::string& out = options.out_dir;
  std::error_code ec;
  if (fs::is_directory(out, ec)) {
    return CommandFailed("synth", Status::Error(out + " is a directory; with --format glmv, -o names a file"));
  }
  if (fs::exists(out, ec) && !options.force) {
    return CommandFailed("synth", Status::Error(out + " exists; choose another name or pass --force to replace it"));
  }
  std::vector<std::string> inputs = {options.config_path};
  for (const auto& [src, name] : plan.copies) inputs.push_back(src);
  for (const auto& in : inputs) {
    if (fs::exists(out, ec) && fs::equivalent(in, out, ec)) {
      return CommandFailed("synth", Status::Error("-o must not be an input (" + in + ")"));
    }
  }
  auto metadata = AssetMetadata([&](const std::string& name) -> std::optional<std::string> {
    if (name == "config.json") return options.config_path;
    for (const auto& [src, copied] : plan.copies) {
      if (copied == name) return src;
    }
    return std::nullopt;
  });
  if (!metadata.ok()) return CommandFailed("synth", metadata.status());

  InstallInterruptHandler();
  const bool tty = isatty(STDERR_FILENO) != 0;
  const double t0 = NowSeconds();
  double last_print = 0;
  auto progress = [&](const ConvertProgress& p) -> Status {
    if (Interrupted()) return Status::Error("interrupted");
    const double now = NowSeconds();
    const bool done = p.done_bytes >= p.total_bytes;
    if ((tty && now - last_print < 0.25 && !done) || (!tty && now - last_print < 10 && !done)) return Status::Ok();
    last_print = now;
    const double rate = static_cast<double>(p.done_bytes) / std::max(now - t0, 1e-6);
    const double eta = rate > 0 ? static_cast<double>(p.total_bytes - p.done_bytes) / rate : 0;
    fmt::print(stderr, "{}glmv synth: {} / {} of {} weights ({:.1f} %), ETA {:.0f} s  {:.50}{}", tty ? "\r" : "",
               FormatBytes(p.done_bytes), FormatBytes(p.total_bytes), DTypeName(options.dtype),
               p.total_bytes ? 100.0 * static_cast<double>(p.done_bytes) / static_cast<double>(p.total_bytes) : 100.0, eta,
               p.tensor ? *p.tensor : "", tty ? "\033[K" : "\n");
    return Status::Ok();
  };
  auto report = WriteSynthModelFile(plan.config, std::move(*metadata), out, file_options, progress);
  if (tty) fmt::print(stderr, "\n");
  if (!report.ok()) return CommandFailed("synth", report.status().Annotate("nothing was written to " + out));
  const double seconds = NowSeconds() - t0;
  fmt::print("synth: {}: {} tensors, {} ({} of {} weights), recipe {}, round-to-nearest, {:.1f} s; seed {}{}\n", out,
             report->tensors.size(), FormatBytes(report->file_bytes), FormatBytes(report->source_bytes),
             DTypeName(options.dtype), ConvertRecipeName(file_options.convert.recipe), seconds, options.seed,
             file_options.expert_skew > 0 ? fmt::format(", expert skew {}", file_options.expert_skew) : "");
  return 0;
}

}  // namespace

int RunSynth(int argc, char** argv) {
  auto args = Args::Parse(kSynthOptions, argc, argv, 2);
  if (!args.ok() || args->Has("--help") || !args->positional().empty()) {
    if (!args.ok()) fmt::print(stderr, "glmv synth: {}\n", args.status().message());
    if (args.ok() && !args->positional().empty()) fmt::print(stderr, "glmv synth: unexpected '{}'\n", args->positional()[0]);
    fmt::print(args.ok() && args->Has("--help") ? stdout : stderr, "{}Options:\n{}", kSynthHelp, OptionsHelp(kSynthOptions));
    return args.ok() && args->Has("--help") ? 0 : 2;
  }
  auto options = ReadOptions(*args);
  if (!options.ok()) return CommandFailed("synth", options.status());
  auto plan = PlanSynthModel(*options);
  if (!plan.ok()) return CommandFailed("synth", plan.status());
  const std::string format = args->Get("--format", "dir");
  if (format == "glmv") return WriteModelFileFormat(*args, *plan, *options);
  if (format != "dir") {
    return CommandFailed("synth", Status::Error("--format must be dir or glmv, not '" + format + "'"));
  }
  if (args->Has("--recipe")) return CommandFailed("synth", Status::Error("--recipe applies to --format glmv only"));
  if (args->Has("--expert-skew")) {
    return CommandFailed("synth", Status::Error("--expert-skew applies to --format glmv only"));
  }
  if (Status s = CheckSynthOutput(*plan, *options); !s.ok()) return CommandFailed("synth", s);
  for (const auto& name : plan->oversized) {
    fmt::print(stderr, "glmv synth: note: {} is larger than --shard-size; it gets a shard of its own\n", name);
  }

  // Ctrl-C / kill: stop at the next chunk and remove the partial directory (WriteSynthModel does).
  InstallInterruptHandler();

  const bool tty = isatty(STDERR_FILENO) != 0;
  const double t0 = NowSeconds();
  double last_print = 0;
  const uint64_t total = plan->tensor_bytes;
  const size_t num_shards = plan->shards.size();
  auto progress = [&](uint64_t done, size_t shard) -> Status {
    if (Interrupted()) return Status::Error("interrupted");
    const double now = NowSeconds();
    if (!tty || (now - last_print < 0.25 && done < total)) return Status::Ok();
    last_print = now;
    const double rate = static_cast<double>(done) / std::max(now - t0, 1e-6);
    const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
    fmt::print(stderr, "\rglmv synth: {} / {} ({:.1f} %), {:.0f} MB/s, ETA {:.0f} s, shard {}/{}   ",
               FormatBytes(done), FormatBytes(total), total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0,
               rate / 1e6, eta, shard + 1, num_shards);
    return Status::Ok();
  };
  const Status written = WriteSynthModel(*plan, *options, progress);
  if (tty) fmt::print(stderr, "\n");
  if (!written.ok()) return CommandFailed("synth", written.Annotate("nothing was written to " + options->out_dir));
  const double seconds = NowSeconds() - t0;
  fmt::print("synth: {}: {} tensors, {} bytes ({}) in {} shard{}, {:.1f} s, {:.0f} MB/s; seed {}, {}\n",
             options->out_dir, plan->num_tensors, plan->tensor_bytes, FormatBytes(plan->tensor_bytes), num_shards,
             num_shards == 1 ? "" : "s", seconds, static_cast<double>(plan->tensor_bytes) / std::max(seconds, 1e-6) / 1e6,
             options->seed, options->dtype == DType::kBF16 ? "bf16" : "f32");
  fmt::print("synth: {}\n", TokenizerNote(*plan, options->out_dir));
  return 0;
}

}  // namespace glmv::app
