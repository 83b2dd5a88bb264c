#include "lib/experts/expert_cache_policy.h"

#include <algorithm>

namespace glmv {

void LruPerLayerPolicy::Start(size_t slots, size_t layers, size_t moe_layers) {
  share_ = std::max<size_t>(1, slots / std::max<size_t>(1, moe_layers));
  held_.assign(layers, 0);
}

std::optional<size_t> LruPerLayerPolicy::ChooseSlot(size_t layer, bool, std::span<const CacheSlot> slots) {
  std::fill(held_.begin(), held_.end(), 0);
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].state == CacheSlot::State::kEmpty) return i;
    if (slots[i].layer < held_.size()) ++held_[slots[i].layer];
  }
  // The least recently used free slot among those `pick` accepts.
  auto lru = [&](auto pick) -> std::optional<size_t> {
    std::optional<size_t> best;
    for (size_t i = 0; i < slots.size(); ++i) {
      if (!slots[i].Free() || !pick(slots[i])) continue;
      if (!best || slots[i].last_use < slots[*best].last_use) best = i;
    }
    return best;
  };
  const size_t mine = layer < held_.size() ? held_[layer] : 0;
  if (mine >= share_) {
    if (auto own = lru([&](const CacheSlot& s) { return s.layer == layer; })) return own;
  } else {
    if (auto over = lru([&](const CacheSlot& s) { return s.layer < held_.size() && held_[s.layer] > share_; })) return over;
  }
  return lru([](const CacheSlot&) { return true; });
}

}  // namespace glmv
