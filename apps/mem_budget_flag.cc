#include "apps/mem_budget_flag.h"

#include <fmt/core.h>

#include "apps/byte_size.h"
#include "lib/engine/memory_facts.h"
#include "lib/engine/memory_plan.h"

namespace glmv::app {

OptionSpec MemBudgetOption() {
  return {"--mem-budget", "", true,
          "SIZE  memory for weights, KV and an expert cache: routed experts are streamed from the .glmv file "
          "(e.g. 8G, 8GiB, 8000M; default: mapped when the model fits in 90% of available memory, else that much)"};
}

Result<uint64_t> ReadMemBudget(const Args& args) {
  if (!args.Has("--mem-budget")) return uint64_t{0};
  return ParseByteSize(args.Get("--mem-budget"), "--mem-budget", SizeGrammar::kMemBudget);
}

Status ApplyMemoryPlan(const std::string& model, uint64_t mem_budget, const char* command, EngineOptions& options) {
  if (options.experts_in_ram) {
    if (mem_budget > 0) return Status::Error("--mem-budget and --experts-in-ram exclude each other");
    return Status::Ok();  // the experts go to RAM, as asked
  }
  Result<ModelMemoryFacts> facts = ReadModelMemoryFacts(model, options);
  // A model that cannot be read: with no budget asked for, loading it reports that in its own words.
  if (!facts.ok()) return mem_budget > 0 ? facts.status() : Status::Ok();
  GLMV_ASSIGN_OR_RETURN(const MemoryPlan plan, PlanMemory(*facts, ReadHostMemory(), mem_budget));
  if (!plan.note.empty()) fmt::print(stderr, "glmv {}: {}\n", command, plan.note);
  options.expert_cache.budget_bytes = plan.cached ? static_cast<size_t>(plan.expert_cache_bytes) : 0;
  return Status::Ok();
}

}  // namespace glmv::app
