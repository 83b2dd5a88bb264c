#include "apps/generation_flags.h"

#include <chrono>
#include <cstdlib>

#include "apps/act_precision_flag.h"
#include "apps/byte_size.h"
#include "apps/kv_type_flag.h"
#include "apps/vision_math_flag.h"
#include "apps/mem_budget_flag.h"
#include "lib/base/parallel.h"

namespace glmv::app {
namespace {

Result<double> GetFloat(const Args& args, const std::string& name, double fallback) {
  if (!args.Has(name)) return fallback;
  const std::string v = args.Get(name);
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') return Status::Error(name + " expects a number, got '" + v + "'");
  return d;
}

}  // namespace

std::vector<OptionSpec> GenerationOptionSpecs() {
  return {
      {"--model", "-m", true, "DIR  model directory (config.json, *.safetensors, tokenizer files)"},
      {"--system", "", true, "TEXT  system message"},
      {"--think", "", false, "let the model reason first (the template's default)"},
      {"--no-think", "", false, "answer directly (thinking switched off in the template)"},
      {"--max-tokens", "-n", true, "N  most tokens to generate (default 1024)"},
      {"--temp", "", true, "T  sampling temperature; 0 = greedy (default 0.8)"},
      {"--top-k", "", true, "K  sample from the K most likely tokens; 0 = off (default 40)"},
      {"--top-p", "", true, "P  nucleus sampling mass; 1 = off (default 0.95)"},
      {"--min-p", "", true, "P  drop tokens below P × the best one's probability (default 0.05)"},
      {"--repeat-penalty", "", true, "R  penalise tokens already seen (HF rule; default 1 = off)"},
      {"--presence-penalty", "", true, "P  subtract P from seen tokens' logits (default 0)"},
      {"--frequency-penalty", "", true, "F  subtract F × count from seen tokens' logits (default 0)"},
      {"--seed", "", true, "N  random seed; the same seed repeats a run (default: from the clock)"},
      {"--stop", "", true, "TEXT  stop when TEXT is generated (repeatable)"},
      {"--ignore-eos", "", false, "keep generating past end-of-turn tokens"},
      {"--template", "", true, "NAME  chat template: glm45v (default) or glm45 (GLM-4.5 text model)"},
      {"--ctx", "", true, "N  context size in tokens (default 4096)"},
      {"--kv-memory", "", true, "SIZE  cap on the keys and values held (e.g. 2GiB; default: --ctx tokens' worth)"},
      KvTypeOption(),
      VisionMathOption(),
      {"--experts-in-ram", "", false, "copy the routed experts into memory at load: faster decode, RAM the size of the experts"},
      {"--prefill-chunk", "", true, "N  prompt tokens per step; long prompts are prefilled in chunks (default 512)"},
      {"--cache-bytes", "", true, "SIZE  cap on finished turns' keys and values kept for reuse (e.g. 1GiB; default: what --kv-memory leaves)"},
      MemBudgetOption(),
      ExpertPrefetchOption(),
      {"--stats", "", false, "at the end, print the expert cache's statistics (with --mem-budget or an automatic budget)"},
      {"--threads", "-t", true, "N  threads (default: all cores)"},
      ActPrecisionOption(),
  };
}

Result<GenerationFlags> ReadGenerationFlags(const Args& args, bool greedy_default) {
  GenerationFlags f;
  f.model_dir = args.Get("--model");
  if (f.model_dir.empty()) return Status::Error("missing -m/--model DIR (see --help)");
  GLMV_ASSIGN_OR_RETURN(long long threads, args.GetInt("--threads", 0));
  if (threads < 0) return Status::Error("--threads must not be negative");
  f.engine.threads = static_cast<int>(threads);
  SetNumThreads(static_cast<int>(threads));  // this thread's too: tokenizing and media before the engine runs
  GLMV_ASSIGN_OR_RETURN(f.engine.act_precision, ReadActPrecision(args));
  GLMV_ASSIGN_OR_RETURN(long long ctx, args.GetInt("--ctx", 4096));
  if (ctx < 2) return Status::Error("--ctx must be at least 2");
  f.engine.context_tokens = static_cast<size_t>(ctx);
  if (args.Has("--kv-memory")) {
    GLMV_ASSIGN_OR_RETURN(const uint64_t bytes, ParseByteSize(args.Get("--kv-memory"), "--kv-memory"));
    f.engine.kv_memory_bytes = static_cast<size_t>(bytes);
  }
  GLMV_ASSIGN_OR_RETURN(f.engine.kv_type, ReadKvType(args, f.model_dir));
  GLMV_ASSIGN_OR_RETURN(f.engine.vision_math, ReadVisionMath(args));
  f.engine.experts_in_ram = args.Has("--experts-in-ram");
  GLMV_ASSIGN_OR_RETURN(f.mem_budget, ReadMemBudget(args));
  GLMV_RETURN_IF_ERROR(ReadExpertPrefetch(args, f.engine));
  f.stats = args.Has("--stats");
  if (args.Has("--cache-bytes")) {
    GLMV_ASSIGN_OR_RETURN(const uint64_t bytes, ParseByteSize(args.Get("--cache-bytes"), "--cache-bytes"));
    f.engine.prefix_cache_bytes = static_cast<size_t>(bytes);
  }
  GLMV_ASSIGN_OR_RETURN(long long chunk, args.GetInt("--prefill-chunk", 512));
  if (chunk < 1) return Status::Error("--prefill-chunk must be at least 1");
  f.engine.prefill_chunk = static_cast<size_t>(chunk);
  GLMV_ASSIGN_OR_RETURN(long long max_tokens, args.GetInt("--max-tokens", 1024));
  if (max_tokens < 0) return Status::Error("--max-tokens must not be negative");
  f.request.max_tokens = static_cast<size_t>(max_tokens);

  SamplingParams& s = f.request.sampling;
  GLMV_ASSIGN_OR_RETURN(double temp, GetFloat(args, "--temp", greedy_default ? 0.0 : 0.8));
  GLMV_ASSIGN_OR_RETURN(long long top_k, args.GetInt("--top-k", 40));
  GLMV_ASSIGN_OR_RETURN(double top_p, GetFloat(args, "--top-p", 0.95));
  GLMV_ASSIGN_OR_RETURN(double min_p, GetFloat(args, "--min-p", 0.05));
  GLMV_ASSIGN_OR_RETURN(double rep, GetFloat(args, "--repeat-penalty", 1.0));
  GLMV_ASSIGN_OR_RETURN(double presence, GetFloat(args, "--presence-penalty", 0.0));
  GLMV_ASSIGN_OR_RETURN(double frequency, GetFloat(args, "--frequency-penalty", 0.0));
  if (temp < 0) return Status::Error("--temp must not be negative");
  if (top_k < 0) return Status::Error("--top-k must not be negative");
  if (top_p <= 0 || top_p > 1) return Status::Error("--top-p must be in (0, 1]");
  if (min_p < 0 || min_p > 1) return Status::Error("--min-p must be in [0, 1]");
  if (rep <= 0) return Status::Error("--repeat-penalty must be positive");
  s.temperature = static_cast<float>(temp);
  s.top_k = static_cast<int>(top_k);
  s.top_p = static_cast<float>(top_p);
  s.min_p = static_cast<float>(min_p);
  s.repetition_penalty = static_cast<float>(rep);
  s.presence_penalty = static_cast<float>(presence);
  s.frequency_penalty = static_cast<float>(frequency);
  f.seed_given = args.Has("--seed");
  GLMV_ASSIGN_OR_RETURN(long long seed, args.GetInt("--seed", 0));
  s.seed = f.seed_given ? static_cast<uint64_t>(seed)
                        : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  f.request.stop = args.GetAll("--stop");
  f.request.ignore_eos = args.Has("--ignore-eos");

  if (args.Has("--think") && args.Has("--no-think")) return Status::Error("--think and --no-think contradict each other");
  if (args.Has("--think")) f.chat.enable_thinking = true;
  if (args.Has("--no-think")) f.chat.enable_thinking = false;
  const std::string tmpl = args.Get("--template", "glm45v");
  if (tmpl == "glm45v") {
    f.chat.variant = ChatTemplateVariant::kGlm45V;
  } else if (tmpl == "glm45") {
    f.chat.variant = ChatTemplateVariant::kGlm45Text;
  } else {
    return Status::Error("--template must be glm45v or glm45, not '" + tmpl + "'");
  }
  f.system = args.Get("--system");
  return f;
}

}  // namespace glmv::app
