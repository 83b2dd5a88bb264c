// Routed experts streamed from a .glmv file into a fixed number of slots under a byte budget (issue 14): the
// cached ExpertSource. A miss reads the expert's whole unit (gate, up and down: io/expert_reader.h) into a
// free slot and hands out views over the slot's bytes, the same views the mapped binding made, moved from
// the unit in the mapping to the slot (so the kernels see identical bytes at identical relative offsets, and
// the logits are bit for bit the mapped ones). Which slot an expert goes into is a policy's choice
// (lib/experts/expert_cache_policy.h, LRU per layer by default).
//
// Pins. Acquire pins the expert's slot and Release unpins it; a pinned slot is never evicted. When no slot
// is free (every slot pinned, none being filled), Acquire fails with an error saying so instead of evicting:
// callers acquire in groups that fit, i.e. the experts held at once by all callers together are at most
// slots(). MoE code acquires a layer's experts in groups of max_held() (lib/text/moe.h): all slots without
// prefetch; with prefetch, a quarter of them (rounded down) stays for reads ahead, so the I/O thread can
// fill slots for the next layer while a group of this one is pinned. A group never waits on prefetches for
// long: slots filled by a prefetch and not pinned are free to evict, a demand waiting for a slot makes the
// I/O thread drop its queued hints, and a read in flight ends on its own.
//
// Groups. BeginAcquire pins the group's cached experts and claims slots for the missing ones, which the I/O
// thread then reads together, ahead of any prefetch hint, a batch at a time in the order asked (several in
// flight through io_uring); FinishAcquire waits for them. So a step computes with its cached experts while
// its misses are read (lib/text/moe.cc), and a prefill chunk's experts arrive in the order it runs them.
// A slot claimed this way is pinned from the claim on; the first caller to finish that expert (the one that
// began it, or another whose BeginAcquire found it being read) takes the pin, any other acquires it anew.
//
// Prefetch. Prefetch(layer, experts) queues the experts not yet cached for one background I/O thread (owned
// by this object, no process-global state; it runs whether or not prefetch is on), which reads them in small
// batches (io_uring when the reader has it) into slots the policy frees, while the caller computes. Hints
// wait for the next BeginAcquire (or WaitForPrefetch) to wake the I/O thread: a step's own group reads, which
// it is about to wait for, go first, and the hints for layer l + 1 are read while layer l computes. An Acquire of an expert being read waits for that
// read (stall time) instead of reading it again. A prefetched expert counts as useful when it is acquired
// before it is evicted. Each Prefetch call is also scored as a prediction of its layer's next step (see the
// prefetch_predicted counters), whether or not its experts needed reading.
//
// Threads. Acquire, BeginAcquire, FinishAcquire, Release, Prefetch and stats may be called from any threads
// at once (OpenMP workers included): one mutex guards the slot table, the policy and the counters, and is
// never held during a read; a condition variable wakes callers waiting for a read in flight. The returned
// views stay valid until the matching Release, whatever other threads do.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "io/expert_reader.h"
#include "io/model_file.h"
#include "io/status.h"
#include "lib/experts/expert_cache_policy.h"
#include "lib/experts/expert_source.h"

namespace glmv {

struct CachedExpertsOptions {
  size_t budget_bytes = 0;  // memory for the slots: slots = budget_bytes / slot_bytes (the largest unit)
  ExpertReaderOptions reader;
  // The policy (null: LruPerLayerPolicy; ExpertCachePolicyByName names the others). A factory, so the
  // options stay copyable.
  std::function<std::unique_ptr<ExpertCachePolicy>()> policy;
  bool prefetch = true;       // the background I/O thread serves Prefetch hints; false: Prefetch does nothing
  // Hints per batch the I/O thread submits. Small, because a group read that arrives while a batch of hints is
  // in flight waits for that batch.
  size_t prefetch_batch = 2;
  // Group reads per batch. One: each expert is ready as soon as it is read, and MoE code runs it while the
  // next is read (a batch's experts are ready together); several in flight read no faster here.
  size_t group_batch = 1;
  // Of each token's predicted experts, prefetch only the `prefetch_top` heaviest (0: all num_experts_per_tok).
  // When reads are the bottleneck, a wrong guess costs a read and evicts a cached expert.
  size_t prefetch_top = 0;
};

struct ExpertCacheStats {
  size_t slots = 0, slot_bytes = 0;
  size_t parked = 0;       // of the slots, lent out now (Park)
  uint64_t loans = 0;      // Park calls that parked slots (the vision tower's turns)
  uint64_t acquires = 0;
  uint64_t hits = 0;       // the expert was in its slot, ready
  uint64_t waits = 0;      // it was being read (a prefetch, or another thread's miss): waited for that read
  uint64_t misses = 0;     // read for the Acquire (by itself) or the BeginAcquire (by the I/O thread) that asked
  uint64_t evictions = 0;  // an expert's slot given to another expert
  double stall_seconds = 0;  // time Acquire and FinishAcquire calls spent reading or waiting for reads
  uint64_t prefetch_issued = 0;   // experts the I/O thread read
  uint64_t prefetch_useful = 0;   // of those, acquired before their eviction
  uint64_t prefetch_useful_bytes = 0;
  uint64_t prefetch_unused = 0;   // evicted before any Acquire
  uint64_t prefetch_dropped = 0;  // hints not read: no free slot, a demand waiting for one, or a read error
  // Prediction accuracy. A Prefetch(layer, ids) call predicts the experts that layer's next step acquires;
  // the prediction stands until the next Prefetch call for the same layer.
  uint64_t prefetch_predicted = 0;         // experts named by Prefetch calls (distinct within a call)
  uint64_t prefetch_predicted_used = 0;    // of those, acquired while their prediction stood
  uint64_t acquired_after_prediction = 0;  // distinct experts acquired while their layer's prediction stood
  ExpertReadStats reader;         // every read, the I/O thread's included (its stall_seconds too)

  // Of the predicted experts, the share the step used (0 before any prediction).
  double PrefetchPrecision() const {
    return prefetch_predicted ? static_cast<double>(prefetch_predicted_used) / static_cast<double>(prefetch_predicted) : 0.0;
  }
  // Of the experts steps acquired after a prediction, the share that was predicted.
  double PrefetchRecall() const {
    return acquired_after_prediction
               ? static_cast<double>(prefetch_predicted_used) / static_cast<double>(acquired_after_prediction)
               : 0.0;
  }
};

class CachedExperts final : public ExpertSource {
 public:
  // per_layer[l]: layer l's experts as bound in `file`'s mapping (empty for dense layers); each expert's
  // three matrices must lie inside one unit of `file` (a .glmv written by convert or synth). The budget must
  // hold at least one slot. Reader notes (fallbacks to pread) are in notes().
  static Result<std::unique_ptr<CachedExperts>> Create(const ModelFile& file,
                                                       std::span<const std::span<const MlpWeights>> per_layer,
                                                       const CachedExpertsOptions& options);
  ~CachedExperts() override;
  CachedExperts(const CachedExperts&) = delete;
  CachedExperts& operator=(const CachedExperts&) = delete;

  // An error when the expert does not exist, its read fails (naming the file, the unit and the offset), or
  // no slot is free (see Pins above). Waits for a read in flight of the same expert.
  Result<const MlpWeights*> Acquire(size_t layer, size_t expert) override;
  void Release(size_t layer, size_t expert) override;
  Status BeginAcquire(size_t layer, std::span<const size_t> ids, std::span<const MlpWeights*> out) override;
  Status FinishAcquire(size_t layer, std::span<const size_t> ids, std::span<const MlpWeights*> out) override;
  void Prefetch(size_t layer, std::span<const int64_t> experts) override;
  // The active slots (slots() less those parked) less the slots kept for reads ahead when prefetching (see
  // Pins above); at least 1.
  size_t max_held() const override { return max_held_.load(std::memory_order_relaxed); }
  bool wants_prefetch() const override { return prefetch_; }
  size_t prefetch_top() const override { return prefetch_top_; }

  // Lending memory (issue 14: the vision tower's share of a budget). Park(n) parks free slots until n are
  // parked in all: each one's expert is evicted and its bytes go back to the OS (MADV_DONTNEED), so the
  // budget's memory can hold something else for a while (the vision tower's pages while an image encodes).
  // A pinned or loading slot is not parked: the count may fall short of n until a later call, and at least
  // one slot always stays active. Returns the slots parked in all. Unpark() makes every parked slot empty
  // and usable again. Call them between steps, not while the caller's own acquires are held: max_held()
  // follows the active slots.
  size_t Park(size_t n);
  void Unpark();
  size_t parked() const;

  // Blocks until every queued prefetch and group read has been read or dropped (tests, benchmarks).
  void WaitForPrefetch();
  ExpertCacheStats stats() const;
  size_t slots() const { return slots_.size(); }
  size_t slot_bytes() const { return slot_bytes_; }
  const char* policy_name() const { return policy_->name(); }
  // One line per fallback the reader took (io_uring or O_DIRECT refused).
  std::vector<std::string> notes() const { return reader_->notes(); }
  const ExpertReader& reader() const { return *reader_; }

 private:
  // One routed expert: its unit and its views in the mapping.
  struct Expert {
    uint32_t layer = 0, expert = 0;
    size_t unit = 0;
    const uint8_t* unit_begin = nullptr;  // the unit's first byte in the mapping
    MlpWeights mapped;
  };
  struct Slot {
    uint8_t* bytes = nullptr;  // slot_bytes_, 4 KiB-aligned
    size_t key = 0;            // index into experts_ while the slot is not empty
    MlpWeights views;          // the expert's views over `bytes` (ready slots)
  };

  CachedExperts() = default;
  // Gives slot `s` to expert `key` (under the lock): forgets its old expert, marks it loading.
  void Claim(size_t s, size_t key, bool for_prefetch);
  // Points slot `s`'s views at its bytes (outside the lock: the slot is loading, no one else touches it).
  void BindSlot(size_t s);
  bool AnyLoading() const;
  // Whether MoE layer `layer` has an expert `expert` (a dense layer has none).
  bool Exists(size_t layer, size_t expert) const {
    return layer + 1 < first_.size() && expert < first_[layer + 1] - first_[layer];
  }
  // Under the lock: counts an acquire of `key` (layer `layer`) and scores its layer's prediction.
  void CountAcquire(size_t layer, size_t key);
  // Under the lock: pins ready slot `s` for an acquire of its expert; `waited_since` (0: did not wait) sorts
  // it into hits or waits.
  const MlpWeights* PinReady(size_t s, double waited_since);
  // Acquire's body, the acquire already counted; `lock` holds mutex_ and is held again on return.
  Result<const MlpWeights*> AcquireLocked(std::unique_lock<std::mutex>& lock, size_t layer, size_t key);
  // The I/O thread's batch_ read into its claimed slots and bound, with the lock released meanwhile.
  void ReadBatchUnlocked(std::unique_lock<std::mutex>& lock);
  void ReadGroupBatch(std::unique_lock<std::mutex>& lock);
  void ReadPrefetchBatch(std::unique_lock<std::mutex>& lock);
  // max_held_ from the active slots (under the lock, or before any thread shares the object).
  void UpdateMaxHeld();
  void IoThread();

  std::vector<Expert> experts_;         // [Σ experts of MoE layers]
  std::vector<size_t> first_;           // [layers + 1]: layer l's experts are experts_[first_[l], first_[l + 1])
  std::vector<int32_t> slot_of_;        // [experts_]: its slot, or -1
  std::vector<uint8_t> queued_;         // [experts_]: in the prefetch queue
  // [experts_]: kGroupRead while a BeginAcquire's read of it is queued or in flight (its slot pinned for that
  // caller), then kGroupDone or kGroupFailed (group_error_ says why) until FinishAcquire takes it.
  enum GroupRead : uint8_t { kNoGroupRead = 0, kGroupRead = 1, kGroupDone = 2, kGroupFailed = 3 };
  std::vector<uint8_t> group_read_;
  std::vector<Status> group_error_;     // [experts_]
  std::vector<size_t> group_queue_;     // ring of expert keys BeginAcquire asked for, capacity experts_.size()
  size_t group_head_ = 0, group_size_ = 0;
  // [experts_]: kPredicted and/or kAcquired since the last Prefetch call for its layer (accuracy counters).
  enum Mark : uint8_t { kPredicted = 1, kAcquired = 2 };
  std::vector<uint8_t> marks_;
  std::vector<uint8_t> predicted_layer_;  // [layers]: a Prefetch call for the layer has been made
  std::vector<Slot> slots_;
  std::vector<CacheSlot> state_;        // [slots_]: what the policy sees
  size_t slot_bytes_ = 0;
  uint8_t* arena_ = nullptr;            // slots_.size() × slot_bytes_, anonymous memory
  size_t arena_bytes_ = 0;
  std::unique_ptr<ExpertReader> reader_;
  std::unique_ptr<ExpertCachePolicy> policy_;
  size_t moe_layers_ = 0;
  std::atomic<size_t> max_held_{1};
  bool prefetch_reserve_ = false;       // max_held_ keeps a quarter of the active slots for reads ahead
  size_t parked_ = 0;                   // slots in State::kParked
  size_t prefetch_top_ = 0;
  bool prefetch_ = false;               // Prefetch hints are served

  mutable std::mutex mutex_;
  std::condition_variable changed_;     // a read finished, a slot was unpinned, the queue drained
  std::condition_variable work_;        // the I/O thread: group reads or hints queued, or stop
  size_t waiting_ = 0;                  // threads blocked on changed_
  size_t slot_waiters_ = 0;             // of those, Acquires waiting for any slot: the I/O thread yields
  uint64_t clock_ = 0;
  ExpertCacheStats stats_;
  std::vector<size_t> queue_;           // ring of expert keys to prefetch, capacity experts_.size()
  size_t queue_head_ = 0, queue_size_ = 0;
  size_t prefetch_batch_ = 2, group_batch_ = 4;
  bool io_busy_ = false;
  // The I/O thread's batch (claimed slots and their reads), sized once: a step does not allocate.
  std::vector<size_t> batch_slots_;
  std::vector<UnitRead> batch_;
  std::vector<Status> batch_results_;
  bool stop_ = false;
  std::thread io_thread_;
};

}  // namespace glmv
