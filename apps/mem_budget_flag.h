// --mem-budget on the commands that run a model for a while (run, chat, serve): the flag, and the memory
// plan (lib/engine/memory_plan.h) turned into the engine's expert cache. See apps/README.md.
#pragma once

#include <cstdint>
#include <string>

#include "apps/args.h"
#include "io/status.h"
#include "lib/engine/engine.h"

namespace glmv::app {

OptionSpec MemBudgetOption();

// --expert-prefetch N: with an expert cache, read each token's N heaviest predicted experts of the next layer
// while this one computes (0, the default: no prefetch, which measured faster: benchmarks/README.md).
OptionSpec ExpertPrefetchOption();
// Sets options.expert_cache.prefetch and prefetch_top from --expert-prefetch.
Status ReadExpertPrefetch(const Args& args, EngineOptions& options);

// --mem-budget's bytes (SizeGrammar::kMemBudget), or 0 when absent (the runtime decides).
Result<uint64_t> ReadMemBudget(const Args& args);

// Plans memory for `model` under `mem_budget` (0: automatic) with `options`' KV settings and sets
// options.expert_cache.budget_bytes (0: mapped, as before). When the runtime chose a budget itself, says so
// in one line on stderr ("glmv COMMAND: ..."). --experts-in-ram keeps its meaning: with it, an automatic
// plan is skipped and an explicit budget is an error.
Status ApplyMemoryPlan(const std::string& model, uint64_t mem_budget, const char* command, EngineOptions& options);

}  // namespace glmv::app
