// What the expert cache keeps: the policy half of streaming experts (lib/experts/cached_experts.h is the
// mechanism: slots, pins, reads). A policy sees every slot's state and picks the slot a new expert goes
// into; it never sees a slot it may not take, so it cannot evict an expert in use. LRU per layer is the
// baseline; frequency-aware or router-score-aware variants plug in here and are compared by measurement.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace glmv {

// One slot of the cache as a policy sees it.
struct CacheSlot {
  enum class State : uint8_t { kEmpty, kLoading, kReady };
  State state = State::kEmpty;
  uint32_t pins = 0;      // Acquires not yet released
  uint32_t layer = 0;     // the expert it holds or is being filled with (state != kEmpty)
  uint32_t expert = 0;
  uint64_t last_use = 0;  // the cache's clock (one tick per fill or acquire) at its last fill or acquire
  uint64_t uses = 0;      // acquires since it was filled
  bool prefetched = false;  // filled by a prefetch and not acquired since
  // Empty, or holding an expert nobody uses and no read is filling: a policy may (re)fill it.
  bool Free() const { return state == State::kEmpty || (state == State::kReady && pins == 0); }
};

class ExpertCachePolicy {
 public:
  virtual ~ExpertCachePolicy() = default;
  virtual const char* name() const = 0;
  // Once, before the first choice: `slots` slots shared by `moe_layers` MoE layers out of `layers`.
  virtual void Start(size_t slots, size_t layers, size_t moe_layers) = 0;
  // The slot for an expert of `layer` that is not cached (read on demand, or `for_prefetch`): a Free() one,
  // or nullopt to decline (then an Acquire fails or waits, a prefetch is dropped). Called under the cache's
  // lock, from any thread; must not allocate (decode steps do not).
  virtual std::optional<size_t> ChooseSlot(size_t layer, bool for_prefetch, std::span<const CacheSlot> slots) = 0;
};

// The baseline: each MoE layer has an equal share of the slots (slots / MoE layers). An empty slot is taken
// first; then a layer at or over its share gives up its own least recently used expert, and a layer under
// its share takes the least recently used expert of a layer over its share; failing those, the least
// recently used free slot anywhere. Per layer, because a token visits the layers in turn: one global LRU
// list over a cycle longer than the cache evicts every expert just before its next use.
class LruPerLayerPolicy final : public ExpertCachePolicy {
 public:
  const char* name() const override { return "lru-per-layer"; }
  void Start(size_t slots, size_t layers, size_t moe_layers) override;
  std::optional<size_t> ChooseSlot(size_t layer, bool for_prefetch, std::span<const CacheSlot> slots) override;

 private:
  size_t share_ = 1;
  std::vector<uint32_t> held_;  // [layers] slots holding (or loading) each layer's experts
};

}  // namespace glmv
