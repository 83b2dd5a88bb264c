// glmv: run GLM-V vision-language models on CPUs. One binary, one subcommand per job.
#include <fmt/core.h>

#include <cstring>
#include <string>

#include "apps/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"run", glmv::app::RunGenerate, "answer one prompt (streamed, or --json)"},
    {"chat", glmv::app::RunChat, "interactive multi-turn conversation"},
    {"serve", glmv::app::RunServe, "an OpenAI-compatible HTTP server (/v1/chat/completions) for many clients"},
    {"tokenize", glmv::app::RunTokenize, "text to token ids"},
    {"detokenize", glmv::app::RunDetokenize, "token ids to text"},
    {"preprocess", glmv::app::RunPreprocess, "an image as the model sees it, written as .npy"},
    {"synth", glmv::app::RunSynth, "a random-weight model directory for any GLM-V config (benchmarks, tests)"},
    {"convert", glmv::app::RunConvert, "a Hugging Face model directory → one .glmv file with int4/int8 weights"},
    {"inspect", glmv::app::RunInspect, "what a .glmv model file holds: header, config, tensors, totals"},
    {"compare", glmv::app::RunCompare, "KL and greedy agreement of a converted model with its source"},
    {"check-golden", glmv::app::RunCheckGolden, "compare the runtime with a golden set computed by the reference"},
    {"info", glmv::app::RunInfo, "version, SIMD target, oneDNN version and ISA, threads"},
};

void PrintUsage() {
  fmt::print(
      "glmv — GLM-V vision-language models on CPUs\n\n"
      "usage: glmv <command> [options]      (glmv <command> --help for its options)\n\n"
      "commands:\n");
  for (const auto& c : kCommands) fmt::print("  {:<14}{}\n", c.name, c.summary);
  fmt::print(
      "\nExamples:\n"
      "  glmv info\n"
      "  glmv run -m tests/data/tiny-glm4v-moe -p \"Hello\" -n 16\n"
      "  glmv run -m tests/data/tiny-glm4v-moe --prompt-ids 282,284,287,162,87,288 -n 8\n"
      "  glmv run -m MODEL_DIR --image photo.jpg -p \"Where is the cat?\" --draw-boxes boxes.png\n"
      "  glmv chat -m MODEL_DIR\n"
      "  glmv check-golden ../shared/golden/tiny-glm4v-moe\n"
      "  glmv convert MODEL_DIR -o model.glmv            # int4 experts, int8 elsewhere\n"
      "  glmv run -m model.glmv -p \"Hello\"\n"
      "  glmv synth --config benchmarks/configs/glm45v-4layer.json -o /tmp/glm45v-4l\n"
      "\nThreads: OMP_NUM_THREADS or --threads N (default: all cores).\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) return glmv::app::RunInfo(argc, argv);
  for (const auto& c : kCommands) {
    if (argv[1] == std::string(c.name)) return c.run(argc, argv);
  }
  fmt::print(stderr, "glmv: unknown command '{}' (glmv --help lists the commands)\n", argv[1]);
  return 2;
}
