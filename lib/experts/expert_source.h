// The only way MoE code reaches a routed expert's weights: acquire, release, prefetch. The mapped source
// (here) hands out views into the mapped model file; the cached source (cached_experts.h) reads experts from
// disk into slots under a memory budget, so an acquired expert stays valid until released and is never
// evicted while a step uses it, and the experts held at once must fit its slots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "io/status.h"
#include "lib/model/weight.h"

namespace glmv {

// The error for an expert id that a layer does not have (every source words it the same).
Status NoSuchExpert(size_t layer, size_t expert);

class ExpertSource {
 public:
  virtual ~ExpertSource() = default;
  // Expert `expert` of MoE layer `layer` (the decoder's layer index): gate, up and down. Valid until the
  // matching Release. May block on I/O; an error names the file, the unit and the offset.
  virtual Result<const MlpWeights*> Acquire(size_t layer, size_t expert) = 0;
  virtual void Release(size_t layer, size_t expert) = 0;
  // A group of experts of one layer at once, in two halves, so that reading the missing ones overlaps
  // computing with the cached ones. BeginAcquire sets out[i] (as Acquire would) for each of `ids` ready now
  // and leaves it null for each still to come; a source that reads starts the reads of all of those together
  // (several in flight) and returns without waiting. FinishAcquire then sets every null out[i] of the span it
  // is given, waiting as needed: the caller may finish the group all at once or one expert at a time, in any
  // order, but must finish every expert it began before it begins another group of the layer. Each expert
  // set in `out` is released with Release. An error in BeginAcquire (an id that does not exist) sets nothing;
  // one in FinishAcquire (a read that failed) leaves that out[i] null, still sets the others and returns the
  // first error. The defaults acquire one expert after another in BeginAcquire.
  virtual Status BeginAcquire(size_t layer, std::span<const size_t> ids, std::span<const MlpWeights*> out);
  virtual Status FinishAcquire(size_t layer, std::span<const size_t> ids, std::span<const MlpWeights*> out);
  // A hint that these experts of `layer` will likely be acquired soon (ids in [0, experts)). One call per
  // layer per step: a cached source measures each call as one prediction of the layer's next step.
  virtual void Prefetch(size_t layer, std::span<const int64_t> experts) = 0;

  // The most experts one step may hold at once (acquired, not yet released): MoE code acquires a layer's
  // experts in groups of at most this many and releases each group before acquiring the next. Unlimited for
  // sources that hold everything; a cache's slots, less those it keeps for reads ahead.
  virtual size_t max_held() const { return std::numeric_limits<size_t>::max(); }
  // Whether Prefetch does anything. Callers predict experts (which costs a router pass per layer) only when
  // it does, so sources that hold everything pay nothing for prefetching.
  virtual bool wants_prefetch() const { return false; }
  // How many of each token's predicted experts to read ahead, heaviest first (0: all it would pick).
  virtual size_t prefetch_top() const { return 0; }
};

// Every expert resident in the mapping: Acquire returns the bound views, Release and Prefetch do nothing.
// Stateless, so one instance serves every thread.
class MappedExperts final : public ExpertSource {
 public:
  MappedExperts() = default;
  // per_layer[l]: layer l's experts (empty for dense layers); the views must outlive this object.
  explicit MappedExperts(std::vector<std::span<const MlpWeights>> per_layer) : per_layer_(std::move(per_layer)) {}
  Result<const MlpWeights*> Acquire(size_t layer, size_t expert) override;
  void Release(size_t, size_t) override {}
  void Prefetch(size_t, std::span<const int64_t>) override {}

 private:
  std::vector<std::span<const MlpWeights>> per_layer_;
};

}  // namespace glmv
