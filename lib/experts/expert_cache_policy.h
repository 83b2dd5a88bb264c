// What the expert cache keeps: the policy half of streaming experts (lib/experts/cached_experts.h is the
// mechanism: slots, pins, reads). A policy sees every slot's state and picks the slot a new expert goes
// into; it never sees a slot it may not take, so it cannot evict an expert in use. LRU per layer is the
// baseline; LFU with decay per layer is a frequency-aware variant; others plug in here and are compared by
// measurement (benchmarks/bench_streaming).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace glmv {

// One slot of the cache as a policy sees it.
struct CacheSlot {
  // kParked: lent out (CachedExperts::Park), its memory returned to the OS; never Free(), never chosen.
  enum class State : uint8_t { kEmpty, kLoading, kReady, kParked };
  State state = State::kEmpty;
  uint32_t pins = 0;      // Acquires not yet released
  uint32_t layer = 0;     // the expert it holds or is being filled with (kLoading, kReady)
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

// Each MoE layer has an equal share of the slots (slots / MoE layers). An empty slot is taken first; then a
// layer at or over its share gives up one of its own experts, and a layer under its share takes one of a
// layer over its share; failing those, any free slot. Per layer, because a token visits the layers in turn:
// one global list over a cycle longer than the cache evicts every expert just before its next use. Which
// expert of the candidates goes is the subclass's order (EvictFirst).
class PerLayerSharePolicy : public ExpertCachePolicy {
 public:
  void Start(size_t slots, size_t layers, size_t moe_layers) override;
  std::optional<size_t> ChooseSlot(size_t layer, bool for_prefetch, std::span<const CacheSlot> slots) final;

 protected:
  // Whether free slot `a` should be evicted before free slot `b`; `now` is the cache's clock as the slots
  // show it (their latest last_use).
  virtual bool EvictFirst(const CacheSlot& a, const CacheSlot& b, uint64_t now) const = 0;
  size_t slots_ = 1;

 private:
  size_t share_ = 1;
  std::vector<uint32_t> held_;  // [layers] slots holding (or loading) each layer's experts
};

// The baseline: the least recently used candidate goes.
class LruPerLayerPolicy final : public PerLayerSharePolicy {
 public:
  const char* name() const override { return "lru-per-layer"; }

 protected:
  bool EvictFirst(const CacheSlot& a, const CacheSlot& b, uint64_t) const override { return a.last_use < b.last_use; }
};

// Frequency-aware: the candidate with the fewest acquires since it was filled goes, its count halved for
// each `slots` ticks of the clock since its last use (so an expert popular long ago does not stay forever);
// a prefetched expert not yet acquired counts one use (the router's vote for it), so the next layer's reads
// ahead are not the first to go. Ties: the least recently used. For skewed routing, where some experts take
// most tokens of a layer; under near-uniform routing it behaves like LRU.
class LfuDecayPerLayerPolicy final : public PerLayerSharePolicy {
 public:
  const char* name() const override { return "lfu-decay-per-layer"; }

 protected:
  bool EvictFirst(const CacheSlot& a, const CacheSlot& b, uint64_t now) const override;
};

// The policy factory for a name ("lru-per-layer", "lfu-decay-per-layer"), for CachedExpertsOptions::policy;
// null for an unknown name.
std::function<std::unique_ptr<ExpertCachePolicy>()> ExpertCachePolicyByName(std::string_view name);

}  // namespace glmv
