#include "lib/experts/expert_cache_policy.h"

#include <algorithm>

namespace glmv {

void PerLayerSharePolicy::Start(size_t slots, size_t layers, size_t moe_layers) {
  slots_ = std::max<size_t>(1, slots);
  share_ = std::max<size_t>(1, slots / std::max<size_t>(1, moe_layers));
  held_.assign(layers, 0);
}

std::optional<size_t> PerLayerSharePolicy::ChooseSlot(size_t layer, bool, std::span<const CacheSlot> slots) {
  std::fill(held_.begin(), held_.end(), 0);
  uint64_t now = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].state == CacheSlot::State::kEmpty) return i;
    if (slots[i].layer < held_.size()) ++held_[slots[i].layer];
    now = std::max(now, slots[i].last_use);
  }
  // The free slot to evict first among those `pick` accepts.
  auto first = [&](auto pick) -> std::optional<size_t> {
    std::optional<size_t> best;
    for (size_t i = 0; i < slots.size(); ++i) {
      if (!slots[i].Free() || !pick(slots[i])) continue;
      if (!best || EvictFirst(slots[i], slots[*best], now)) best = i;
    }
    return best;
  };
  const size_t mine = layer < held_.size() ? held_[layer] : 0;
  if (mine >= share_) {
    if (auto own = first([&](const CacheSlot& s) { return s.layer == layer; })) return own;
  } else {
    if (auto over = first([&](const CacheSlot& s) { return s.layer < held_.size() && held_[s.layer] > share_; })) return over;
  }
  return first([](const CacheSlot&) { return true; });
}

bool LfuDecayPerLayerPolicy::EvictFirst(const CacheSlot& a, const CacheSlot& b, uint64_t now) const {
  auto score = [&](const CacheSlot& s) -> uint64_t {
    const uint64_t uses = s.prefetched ? std::max<uint64_t>(s.uses, 1) : s.uses;
    const uint64_t halvings = (now - std::min(now, s.last_use)) / slots_;
    return halvings >= 64 ? 0 : uses >> halvings;
  };
  const uint64_t sa = score(a), sb = score(b);
  return sa < sb || (sa == sb && a.last_use < b.last_use);
}

std::function<std::unique_ptr<ExpertCachePolicy>()> ExpertCachePolicyByName(std::string_view name) {
  if (name == "lru-per-layer") return [] { return std::make_unique<LruPerLayerPolicy>(); };
  if (name == "lfu-decay-per-layer") return [] { return std::make_unique<LfuDecayPerLayerPolicy>(); };
  return nullptr;
}

}  // namespace glmv
