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

OptionSpec ExpertPrefetchOption() {
  return {"--expert-prefetch", "", true,
          "N  with an expert cache, read each token's N likeliest experts of the next layer ahead (default 0: "
          "off; on the 12-layer benchmark every prefetch setting decoded slower than none)"};
}

Status ReadExpertPrefetch(const Args& args, EngineOptions& options) {
  GLMV_ASSIGN_OR_RETURN(const long long n, args.GetInt("--expert-prefetch", 0));
  if (n < 0) return Status::Error("--expert-prefetch takes a count of experts, 0 or more");
  // Off, the cache runs no I/O thread and gives a step all its slots.
  options.expert_cache.prefetch = n > 0;
  options.expert_cache.prefetch_top = static_cast<size_t>(n);
  return Status::Ok();
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
  options.vision_lend_bytes = plan.cached ? static_cast<size_t>(plan.vision_lend_bytes) : 0;
  return Status::Ok();
}

}  // namespace glmv::app
