// The numbers the memory plan (lib/engine/memory_plan.h) is computed from: the model's file table and
// config, and the memory the machine gives this process (MemAvailable, the memory cgroup's limit).
#pragma once

#include <string>

#include "io/status.h"
#include "lib/engine/memory_plan.h"

namespace glmv {

// The facts of the model at `model` (a .glmv file or a Hugging Face directory). Maps the .glmv file to read
// its unit table (no weight byte is touched); reads config.json for the KV reserve and experts per token.
Result<ModelMemoryFacts> ReadModelMemoryFacts(const std::string& model, const EngineOptions& options);

// MemAvailable and this process's memory cgroup limit: the smallest limit on its cgroup's path up to the
// root (v1 memory.limit_in_bytes, v2 memory.max; "max" and v1's near-2^63 "unlimited" count as none), read
// under `root` (tests point it at a fake tree). Unreadable figures are 0.
HostMemory ReadHostMemory(const std::string& root = "/");

}  // namespace glmv
