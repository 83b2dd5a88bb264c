// --stats: what the expert cache did over a run (issue 14), for `glmv run` and `glmv chat`. One function, so
// that new counters (router-prediction accuracy) join the same lines.
#pragma once

#include <cstdint>
#include <string>

#include "lib/experts/cached_experts.h"

namespace glmv::app {

// Lines (each ending in '\n') of hit rate, disk bytes and stall time per token, prefetch accuracy and
// useful prefetch bytes; `tokens`: tokens run through the model (prompt tokens prefilled + tokens generated).
// A null `cache` (experts mapped) is one line saying so.
std::string ExpertCacheStatsText(const CachedExperts* cache, uint64_t tokens);

}  // namespace glmv::app
