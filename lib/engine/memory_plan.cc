#include "lib/engine/memory_plan.h"

#include <algorithm>
#include <cstdio>

namespace glmv {
namespace {

// "N bytes (X.XX GiB)": bytes for a script, GiB for a person.
std::string Bytes(uint64_t n) {
  char gib[64];
  std::snprintf(gib, sizeof gib, "%.2f GiB", static_cast<double>(n) / (1ull << 30));
  return std::to_string(n) + " bytes (" + gib + ")";
}

// What the minimum is made of, for the refusals.
std::string MinimumParts(const MemoryPlan& p, const ModelMemoryFacts& f) {
  return "the resident weights " + Bytes(p.resident_bytes) + " + the KV reserve " + Bytes(p.kv_reserve_bytes) +
         " (--kv-memory, or --parallel × --ctx) + " + std::to_string(f.experts_per_token) + " experts one MoE step pins " +
         Bytes(p.pinned_bytes);
}

}  // namespace

uint64_t UsableHostMemory(const HostMemory& host) {
  if (host.mem_available == 0) return host.cgroup_limit;
  if (host.cgroup_limit == 0) return host.mem_available;
  return std::min(host.mem_available, host.cgroup_limit);
}

size_t KvReserveBytes(const TextConfig& c, const EngineOptions& o) {
  if (o.kv_memory_bytes > 0) return o.kv_memory_bytes;
  size_t ctx = o.context_tokens;
  if (c.max_position_embeddings > 0) ctx = std::min(ctx, static_cast<size_t>(c.max_position_embeddings));
  ctx = std::max<size_t>(ctx, 1);
  const size_t page_tokens = std::max<size_t>(o.kv_page_tokens, 1);
  const size_t per_seq_pages = (ctx + page_tokens - 1) / page_tokens;
  const size_t page_bytes = KvPageBytes(o.kv_type, static_cast<size_t>(c.num_key_value_heads),
                                        static_cast<size_t>(c.head_dim), page_tokens);  // keys and values
  return per_seq_pages * static_cast<size_t>(c.num_hidden_layers) * page_bytes * std::max<size_t>(o.max_sequences, 1);
}

Result<MemoryPlan> PlanMemory(const ModelMemoryFacts& f, const HostMemory& host, uint64_t mem_budget) {
  MemoryPlan p;
  p.resident_bytes = f.file_bytes - std::min(f.file_bytes, f.model_file ? f.expert_bytes : 0);
  p.kv_reserve_bytes = f.kv_reserve_bytes;
  p.pinned_bytes = f.experts_per_token * f.slot_bytes;
  p.minimum_bytes = p.resident_bytes + p.kv_reserve_bytes + p.pinned_bytes;
  const bool can_stream = f.model_file && f.expert_bytes > 0 && f.slot_bytes > 0;

  if (mem_budget > 0) {
    if (!f.model_file) {
      return Status::Error("--mem-budget streams routed experts from a .glmv model file, and " + f.model +
                           " is not one (glmv convert DIR -o OUT.glmv makes one)");
    }
    if (!can_stream) return Status::Error("--mem-budget: " + f.model + " has no routed experts to stream");
    if (mem_budget < p.minimum_bytes) {
      return Status::Error("--mem-budget of " + Bytes(mem_budget) + " is below the minimum of " + Bytes(p.minimum_bytes) +
                           " for " + f.model + ": " + MinimumParts(p, f));
    }
    p.cached = true;
    p.budget_bytes = mem_budget;
    p.expert_cache_bytes = mem_budget - p.resident_bytes - p.kv_reserve_bytes + f.vision_bytes;
    p.vision_lend_bytes = f.vision_bytes;
    return p;
  }

  p.automatic = true;
  const uint64_t usable = UsableHostMemory(host);
  if (usable == 0) return p;  // nothing known about the machine: today's mapping
  const uint64_t share = static_cast<uint64_t>(kUsableMemoryShare * static_cast<double>(usable));
  if (f.file_bytes + p.kv_reserve_bytes <= share) return p;  // fits in RAM: plain mmap
  const std::string why = f.model + " and its KV reserve take " + Bytes(f.file_bytes + p.kv_reserve_bytes) +
                          ", more than 90% of the available memory, " + Bytes(usable) +
                          " (the smaller of MemAvailable and the cgroup limit)";
  if (!can_stream) {
    p.note = why + "; only a .glmv model file can stream its experts (glmv convert), so it is mapped as it is";
    return p;
  }
  if (share < p.minimum_bytes) {
    return Status::Error(why + ", and 90% of that, " + Bytes(share) + ", is below the minimum of " +
                         Bytes(p.minimum_bytes) + ": " + MinimumParts(p, f) +
                         "; free memory, lower --ctx or --parallel, or raise the cgroup limit");
  }
  p.cached = true;
  p.budget_bytes = share;
  p.expert_cache_bytes = share - p.resident_bytes - p.kv_reserve_bytes + f.vision_bytes;
  p.vision_lend_bytes = f.vision_bytes;
  p.note = why + ": streaming routed experts from disk under a memory budget of " + Bytes(share) +
           ", 90% of it; --mem-budget SIZE sets another";
  return p;
}

}  // namespace glmv
