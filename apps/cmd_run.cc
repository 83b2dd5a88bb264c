// glmv run: load a model directory and generate greedily from token ids.
#include <fmt/core.h>

#include <cstdlib>
#include <sstream>

#include "apps/args.h"
#include "apps/commands.h"
#include "lib/generate.h"
#include "lib/parallel.h"
#include "lib/text_model.h"

namespace glmv::app {
namespace {

const std::vector<OptionSpec> kRunOptions = {
    {"--model", "-m", true, "DIR  Hugging Face model directory (config.json + *.safetensors)"},
    {"--prompt-ids", "", true, "IDS  prompt as comma-separated token ids, e.g. 282,284,287,5,288"},
    {"--max-tokens", "-n", true, "N  tokens to generate (default 16)"},
    {"--ignore-eos", "", false, "keep generating past end-of-sequence tokens"},
    {"--ctx", "", true, "N  context capacity in tokens (default: prompt + max tokens)"},
    {"--threads", "-t", true, "N  threads (default: all cores)"},
    {"--help", "-h", false, "show this help"},
};

Result<std::vector<int64_t>> ParseIds(const std::string& text) {
  std::vector<int64_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0') return Status::Error("--prompt-ids: '" + item + "' is not an integer");
    ids.push_back(v);
  }
  if (ids.empty()) return Status::Error("--prompt-ids is empty");
  return ids;
}

int Fail(const Status& s) {
  fmt::print(stderr, "glmv run: {}\n", s.message());
  return 1;
}

}  // namespace

int RunGenerate(int argc, char** argv) {
  auto args = Args::Parse(kRunOptions, argc, argv, 2);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("--help")) {
    fmt::print("usage: glmv run -m DIR --prompt-ids IDS [-n N]\n\n"
               "Generates greedily and prints the generated token ids on one line, space-separated.\n"
               "Timing goes to stderr. (Text prompts need the tokenizer, which lands with issue 3.)\n\n{}",
               OptionsHelp(kRunOptions));
    return 0;
  }
  if (!args->Has("--model")) return Fail(Status::Error("missing -m/--model DIR (see glmv run --help)"));
  if (!args->Has("--prompt-ids")) return Fail(Status::Error("missing --prompt-ids (see glmv run --help)"));
  auto threads = args->GetInt("--threads", 0);
  if (!threads.ok()) return Fail(threads.status());
  SetNumThreads(static_cast<int>(*threads));
  auto max_tokens = args->GetInt("--max-tokens", 16);
  if (!max_tokens.ok()) return Fail(max_tokens.status());
  if (*max_tokens < 0) return Fail(Status::Error("--max-tokens must not be negative"));
  auto ids = ParseIds(args->Get("--prompt-ids"));
  if (!ids.ok()) return Fail(ids.status());

  auto model = TextModel::Load(args->Get("--model"));
  if (!model.ok()) return Fail(model.status());
  TextModel& m = **model;
  const size_t n = ids->size();
  auto ctx = args->GetInt("--ctx", static_cast<long long>(n + static_cast<size_t>(*max_tokens)));
  if (!ctx.ok()) return Fail(ctx.status());
  if (*ctx < static_cast<long long>(n + static_cast<size_t>(*max_tokens))) {
    return Fail(Status::Error("--ctx " + std::to_string(*ctx) + " is smaller than prompt + max tokens"));
  }
  if (*max_tokens == 0) {
    fmt::print("\n");
    return 0;
  }
  std::vector<float> x(n * static_cast<size_t>(m.config().hidden_size));
  if (Status s = m.Embed(*ids, x.data()); !s.ok()) return Fail(s.Annotate("--prompt-ids"));
  KvCache cache = m.NewCache(static_cast<size_t>(*ctx));
  GreedyOptions opt;
  opt.max_new_tokens = static_cast<size_t>(*max_tokens);
  opt.stop_at_eos = !args->Has("--ignore-eos");
  bool first = true;
  auto result = GenerateGreedy(m, std::move(x), MRopePositions::Text(0, n), cache, opt, [&](int64_t id) {
    fmt::print("{}{}", first ? "" : " ", id);
    std::fflush(stdout);
    first = false;
  });
  fmt::print("\n");
  if (!result.ok()) return Fail(result.status());
  const double decode_steps = result->ids.size() > 1 ? static_cast<double>(result->ids.size() - 1) : 0.0;
  fmt::print(stderr, "prompt {} tokens in {:.3f} s ({:.1f} tok/s); generated {} tokens, {:.1f} tok/s\n", n,
             result->prefill_seconds, static_cast<double>(n) / std::max(result->prefill_seconds, 1e-9),
             result->ids.size(), decode_steps / std::max(result->decode_seconds, 1e-9));
  return 0;
}

}  // namespace glmv::app
