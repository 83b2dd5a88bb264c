#include "apps/expert_cache_stats.h"

#include <fmt/core.h>

#include <algorithm>

namespace glmv::app {
namespace {

double Ratio(double part, double whole) { return whole > 0 ? part / whole : 0.0; }

}  // namespace

std::string ExpertCacheStatsText(const CachedExperts* cache, uint64_t tokens) {
  if (!cache) return "expert cache: off (routed experts used in place from the mapping; --mem-budget turns it on)\n";
  const ExpertCacheStats s = cache->stats();
  const double per_token = 1.0 / static_cast<double>(std::max<uint64_t>(tokens, 1));
  std::string out = fmt::format(
      "expert cache: {} slots of {} bytes; {} acquires: {} hits ({:.1f}% hit rate), {} waits for reads in flight, "
      "{} misses, {} evictions\n",
      s.slots, s.slot_bytes, s.acquires, s.hits, 100.0 * Ratio(static_cast<double>(s.hits), static_cast<double>(s.acquires)),
      s.waits, s.misses, s.evictions);
  out += fmt::format("expert disk: {} bytes read ({:.0f} bytes per token over {} tokens), stall {:.3f} s ({:.2f} ms per token)\n",
                     s.reader.bytes, static_cast<double>(s.reader.bytes) * per_token, tokens, s.stall_seconds,
                     1000.0 * s.stall_seconds * per_token);
  out += fmt::format("expert prefetch: {} issued, {} useful ({:.1f}% accuracy), {} useful bytes, {} unused, {} dropped\n",
                     s.prefetch_issued, s.prefetch_useful,
                     100.0 * Ratio(static_cast<double>(s.prefetch_useful), static_cast<double>(s.prefetch_issued)),
                     s.prefetch_useful_bytes, s.prefetch_unused, s.prefetch_dropped);
  out += fmt::format("expert prediction (layer L+1's router on layer L's input): {} predicted, {} used: "
                     "{:.1f}% precision, {:.1f}% recall\n",
                     s.prefetch_predicted, s.prefetch_predicted_used, 100.0 * s.PrefetchPrecision(),
                     100.0 * s.PrefetchRecall());
  return out;
}

}  // namespace glmv::app
