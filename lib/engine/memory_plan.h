// The memory plan (issue 14, --mem-budget): how much of a model stays resident, how much the KV cache
// reserves, and what is left for the expert cache, or whether plain mmap is fine. PlanMemory is a pure
// function over numbers (tested on its own); lib/engine/memory_facts.h gathers the numbers from the model
// file, its config, /proc and the cgroup. lib/ never prints: the plan carries the one line the
// command shows when the runtime chose the budget itself.
//
//   resident  = the model's bytes minus its routed experts' units (embeddings, attention, norms, dense and
//               shared MLPs, routers, lm_head, the vision tower, the file's tables and metadata)
//   kv        = the KV pool: --kv-memory, or --parallel × --ctx tokens of keys and values (f32)
//   pinned    = num_experts_per_tok slots of the largest expert unit: what one MoE step holds at least
//               (MoE code acquires experts in groups that fit the cache)
//   minimum   = resident + kv + pinned
//   expert cache = budget − resident − kv + vision
//   vision    = the vision tower's bytes in the file. Text never touches them, so the expert cache holds
//               them too until an image or video encodes: then the engine parks that many bytes of cache
//               slots while the tower runs, and drops the tower's pages afterwards (EngineOptions::
//               vision_lend_bytes). Memory stays within the budget either way; text-only work gets
//               the tower's share as cache (1.5-1.7x decode at a 6 GB budget on the 12-layer model,
//               benchmarks/README.md).
#pragma once

#include <cstdint>
#include <string>

#include "io/status.h"
#include "lib/engine/engine.h"

namespace glmv {

// What the plan needs to know of a model (all bytes).
struct ModelMemoryFacts {
  std::string model;               // its path, for messages
  bool model_file = false;         // a .glmv file: only those can stream their experts
  uint64_t file_bytes = 0;         // the .glmv file, or the directory's *.safetensors together
  uint64_t expert_bytes = 0;       // every routed expert unit, each rounded up to 4 KiB (as the cache reads it)
  uint64_t slot_bytes = 0;         // the largest expert unit rounded up to 4 KiB: one cache slot
  uint64_t experts_per_token = 0;  // num_experts_per_tok
  uint64_t kv_reserve_bytes = 0;   // KvReserveBytes
  uint64_t vision_bytes = 0;       // the vision tower's tensors (model.visual.*) in a .glmv file, else 0
};

// Memory the machine gives this process; 0 where unknown or unlimited.
struct HostMemory {
  uint64_t mem_available = 0;  // MemAvailable of /proc/meminfo
  uint64_t cgroup_limit = 0;   // the memory cgroup's limit (v1 memory.limit_in_bytes or v2 memory.max)
};

struct MemoryPlan {
  bool cached = false;     // routed experts through an expert cache (else mapped in place, today's default)
  bool automatic = false;  // no --mem-budget: the budget (or mmap) was the runtime's choice
  uint64_t budget_bytes = 0;  // the whole budget; 0 when mapped
  uint64_t resident_bytes = 0, kv_reserve_bytes = 0, pinned_bytes = 0, minimum_bytes = 0;
  uint64_t expert_cache_bytes = 0;  // for CachedExpertsOptions::budget_bytes (0 when mapped)
  uint64_t vision_lend_bytes = 0;   // of those, lent back while the vision tower runs (0 when mapped)
  std::string note;  // one line to show when the runtime chose something the user did not ask for, else ""
};

// The share of available memory a model may take before it counts as not fitting (and the automatic
// budget's share of it): the rest is left to the OS, activations and other processes.
inline constexpr double kUsableMemoryShare = 0.9;

// `mem_budget` 0: automatic (mapped when the file and KV reserve fit in kUsableMemoryShare of the host's
// memory, else a budget of that much). Errors: a budget below the minimum (stating it in bytes and GiB),
// a budget for a model that is not a .glmv file, and an automatic budget below the minimum.
Result<MemoryPlan> PlanMemory(const ModelMemoryFacts& facts, const HostMemory& host, uint64_t mem_budget);

// The smaller of the known figures of `host` (0 when neither is known).
uint64_t UsableHostMemory(const HostMemory& host);

// Bytes of the KV pool the engine creates for `c` with `o` (its --kv-memory, or a full context of every
// sequence at f32, in whole pages per layer). The engine sizes its pool with this.
size_t KvReserveBytes(const TextConfig& c, const EngineOptions& o);

}  // namespace glmv
