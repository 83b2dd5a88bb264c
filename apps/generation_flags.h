// Options shared by `glmv run` and `glmv chat`: model, context, threads, sampling, template, and how they
// become an EngineOptions / GenerateRequest / ChatOptions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/args.h"
#include "lib/prompt/chat_template.h"
#include "lib/engine/engine.h"

namespace glmv::app {

// The options both commands accept (each command adds its own).
std::vector<OptionSpec> GenerationOptionSpecs();

struct GenerationFlags {
  std::string model_dir;
  EngineOptions engine;
  GenerateRequest request;  // everything but the prompt
  ChatOptions chat;         // thinking switch and template variant
  std::string system;       // --system text, "" for none
  bool seed_given = false;
  uint64_t mem_budget = 0;  // --mem-budget; 0: the memory plan decides (ApplyMemoryPlan before loading)
  bool stats = false;       // --stats
};

// Reads and checks the shared options; `greedy_default` makes temperature 0 unless --temp is given.
Result<GenerationFlags> ReadGenerationFlags(const Args& args, bool greedy_default);

}  // namespace glmv::app
