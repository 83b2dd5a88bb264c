#include "lib/experts/cached_experts.h"

#include <sys/mman.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>

namespace glmv {
namespace {

using State = CacheSlot::State;

constexpr uintptr_t kArenaHugePage = uintptr_t{2} << 20;

double Seconds() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// The bytes behind a bound view (whichever of its pointers is set) and their size.
struct ViewBytes {
  const uint8_t* at = nullptr;
  size_t size = 0;
};
ViewBytes BytesOf(const Weight& w) {
  const size_t n = static_cast<size_t>(w.rows()) * static_cast<size_t>(w.cols());
  if (w.packed) return {w.packed, PackedMatrixBytes(w.dtype, static_cast<size_t>(w.rows()), static_cast<size_t>(w.cols()))};
  if (w.bf16) return {reinterpret_cast<const uint8_t*>(w.bf16), n * sizeof(uint16_t)};
  return {reinterpret_cast<const uint8_t*>(w.data), n * sizeof(float)};
}

// `from`'s view moved from the unit at `unit_begin` (in the mapping) to the same offset in `slot`. Assigning
// the shape reuses `to`'s vector: no allocation once a slot has held an expert of the same rank.
void MoveView(const Weight& from, const uint8_t* unit_begin, uint8_t* slot, Weight& to) {
  auto moved = [&](const void* p) -> uint8_t* {
    return p ? slot + (static_cast<const uint8_t*>(p) - unit_begin) : nullptr;
  };
  to.data = reinterpret_cast<const float*>(moved(from.data));
  to.packed = moved(from.packed);
  to.bf16 = reinterpret_cast<const uint16_t*>(moved(from.bf16));
  to.dtype = from.dtype;
  to.shape.assign(from.shape.begin(), from.shape.end());
}

}  // namespace

Result<std::unique_ptr<CachedExperts>> CachedExperts::Create(const ModelFile& file,
                                                            std::span<const std::span<const MlpWeights>> per_layer,
                                                            const CachedExpertsOptions& options) {
  std::unique_ptr<CachedExperts> c(new CachedExperts());
  // Units by their first byte in the mapping, to find the unit holding each expert's matrices.
  const auto& units = file.units();
  std::vector<size_t> by_start(units.size());
  for (size_t u = 0; u < units.size(); ++u) by_start[u] = u;
  std::sort(by_start.begin(), by_start.end(),
            [&](size_t a, size_t b) { return units[a].bytes.data() < units[b].bytes.data(); });
  c->first_.push_back(0);
  for (size_t l = 0; l < per_layer.size(); ++l) {
    if (!per_layer[l].empty()) ++c->moe_layers_;
    for (size_t e = 0; e < per_layer[l].size(); ++e) {
      const MlpWeights& m = per_layer[l][e];
      const std::string what = "layer " + std::to_string(l) + " expert " + std::to_string(e);
      const ViewBytes gate = BytesOf(m.gate);
      auto it = std::upper_bound(by_start.begin(), by_start.end(), gate.at,
                                 [&](const uint8_t* p, size_t u) { return p < units[u].bytes.data(); });
      if (it == by_start.begin() || gate.at == nullptr) {
        return Status::Error(file.path() + ": " + what + " is not in a unit of the file (cached experts need a .glmv "
                             "whose experts are stored in place, as written by glmv convert or synth)");
      }
      const UnitView& unit = units[*(it - 1)];
      for (const Weight* w : {&m.gate, &m.up, &m.down}) {
        const ViewBytes b = BytesOf(*w);
        if (b.at < unit.bytes.data() || b.at + b.size > unit.bytes.data() + unit.bytes.size()) {
          return Status::Error(file.path() + ": " + what + ": its matrices are not all inside unit '" + unit.name +
                               "' (cached experts need each expert stored in place as one unit)");
        }
      }
      c->experts_.push_back({static_cast<uint32_t>(l), static_cast<uint32_t>(e), *(it - 1), unit.bytes.data(), m});
    }
    c->first_.push_back(c->experts_.size());
  }
  if (c->experts_.empty()) return Status::Error(file.path() + ": the model has no routed experts to cache");
  GLMV_ASSIGN_OR_RETURN(c->reader_, ExpertReader::Open(file.path(), UnitExtents(file), options.reader));
  for (const Expert& x : c->experts_) c->slot_bytes_ = std::max(c->slot_bytes_, c->reader_->UnitReadBytes(x.unit));
  const size_t slots = std::min(options.budget_bytes / c->slot_bytes_, c->experts_.size());
  if (slots == 0) {
    return Status::Error("an expert cache of " + std::to_string(options.budget_bytes) + " bytes holds no expert (one takes " +
                         std::to_string(c->slot_bytes_) + " bytes)");
  }
  c->arena_bytes_ = slots * c->slot_bytes_;
  // 2 MiB-aligned and asking for transparent huge pages: the expert GEMMs stream a slot's megabytes, and with
  // 4 KiB pages their TLB misses cost as much as the reads (the mapped file gets huge pages the same way).
  // Slots need not be aligned themselves: every aligned 2 MiB of the arena holds slot bytes.
  void* p = mmap(nullptr, c->arena_bytes_ + kArenaHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p != MAP_FAILED) {
    const uintptr_t at = reinterpret_cast<uintptr_t>(p);
    const uintptr_t aligned = (at + kArenaHugePage - 1) / kArenaHugePage * kArenaHugePage;
    if (aligned > at) munmap(p, aligned - at);
    if (kArenaHugePage - (aligned - at) > 0) munmap(reinterpret_cast<void*>(aligned + c->arena_bytes_), kArenaHugePage - (aligned - at));
    p = reinterpret_cast<void*>(aligned);
    madvise(p, c->arena_bytes_, MADV_HUGEPAGE);  // a hint: without transparent huge pages the cache still works
  }
  if (p == MAP_FAILED) {
    const std::string why = std::strerror(errno);
    c->arena_bytes_ = 0;
    return Status::Error("expert cache: cannot allocate " + std::to_string(slots) + " slots of " +
                         std::to_string(c->slot_bytes_) + " bytes: " + why);
  }
  c->arena_ = static_cast<uint8_t*>(p);
  c->slots_.resize(slots);
  c->state_.resize(slots);
  for (size_t s = 0; s < slots; ++s) {
    c->slots_[s].bytes = c->arena_ + s * c->slot_bytes_;
    c->slots_[s].views = c->experts_[0].mapped;  // shapes of the right rank: filling a slot then does not allocate
  }
  c->slot_of_.assign(c->experts_.size(), -1);
  c->queued_.assign(c->experts_.size(), 0);
  c->group_read_.assign(c->experts_.size(), kNoGroupRead);
  c->group_error_.assign(c->experts_.size(), Status::Ok());
  c->group_queue_.assign(c->experts_.size(), 0);
  c->marks_.assign(c->experts_.size(), 0);
  c->predicted_layer_.assign(per_layer.size(), 0);
  c->prefetch_reserve_ = options.prefetch;
  c->UpdateMaxHeld();
  c->prefetch_top_ = options.prefetch_top;
  c->queue_.assign(c->experts_.size(), 0);
  c->prefetch_batch_ = std::max<size_t>(1, options.prefetch_batch);
  c->prefetch_ = options.prefetch;
  c->group_batch_ = std::max<size_t>(1, options.group_batch);
  const size_t batch = std::max(c->prefetch_batch_, c->group_batch_);
  c->batch_slots_.reserve(batch);
  c->batch_.reserve(batch);
  c->batch_results_.resize(batch);
  c->policy_ = options.policy ? options.policy() : std::make_unique<LruPerLayerPolicy>();
  c->policy_->Start(slots, per_layer.size(), c->moe_layers_);
  c->stats_.slots = slots;
  c->stats_.slot_bytes = c->slot_bytes_;
  c->io_thread_ = std::thread([raw = c.get()] { raw->IoThread(); });
  return c;
}

CachedExperts::~CachedExperts() {
  if (io_thread_.joinable()) {  // a group read still queued is dropped: its caller has gone
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    work_.notify_all();
    io_thread_.join();
  }
  if (arena_) munmap(arena_, arena_bytes_);
}

void CachedExperts::Claim(size_t s, size_t key, bool for_prefetch) {
  CacheSlot& st = state_[s];
  if (st.state != State::kEmpty) {
    slot_of_[slots_[s].key] = -1;
    ++stats_.evictions;
    if (st.prefetched) ++stats_.prefetch_unused;
  }
  st.state = State::kLoading;
  st.pins = for_prefetch ? 0 : 1;
  st.layer = experts_[key].layer;
  st.expert = experts_[key].expert;
  st.uses = for_prefetch ? 0 : 1;
  st.last_use = ++clock_;
  st.prefetched = for_prefetch;
  slots_[s].key = key;
  slot_of_[key] = static_cast<int32_t>(s);
}

void CachedExperts::BindSlot(size_t s) {
  Slot& slot = slots_[s];
  const Expert& x = experts_[slot.key];
  MoveView(x.mapped.gate, x.unit_begin, slot.bytes, slot.views.gate);
  MoveView(x.mapped.up, x.unit_begin, slot.bytes, slot.views.up);
  MoveView(x.mapped.down, x.unit_begin, slot.bytes, slot.views.down);
}

void CachedExperts::UpdateMaxHeld() {
  const size_t active = slots_.size() - parked_;
  max_held_.store(std::max<size_t>(1, active - (prefetch_reserve_ ? active / 4 : 0)), std::memory_order_relaxed);
}

size_t CachedExperts::Park(size_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  n = std::min(n, slots_.size() - 1);
  const size_t before = parked_;
  // From the end of the arena, whatever they hold: which experts matter most is the policy's business, and
  // a cache about to be shrunk for an image encode is refilled by the steps after it anyway.
  for (size_t s = slots_.size(); s-- > 0 && parked_ < n;) {
    CacheSlot& st = state_[s];
    if (!st.Free()) continue;
    if (st.state == State::kReady) {
      slot_of_[slots_[s].key] = -1;
      ++stats_.evictions;
      if (st.prefetched) ++stats_.prefetch_unused;
    }
    st = CacheSlot();
    st.state = State::kParked;
    st.layer = UINT32_MAX;  // no layer's: per-layer policies do not count it
    madvise(slots_[s].bytes, slot_bytes_, MADV_DONTNEED);
    ++parked_;
  }
  UpdateMaxHeld();
  stats_.parked = parked_;
  if (before == 0 && parked_ > 0) ++stats_.loans;
  return parked_;
}

void CachedExperts::Unpark() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (CacheSlot& st : state_) {
      if (st.state == State::kParked) st = CacheSlot();
    }
    parked_ = 0;
    UpdateMaxHeld();
    stats_.parked = 0;
  }
  changed_.notify_all();  // an Acquire waiting for a slot may take one now
}

size_t CachedExperts::parked() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return parked_;
}

bool CachedExperts::AnyLoading() const {
  return std::any_of(state_.begin(), state_.end(), [](const CacheSlot& s) { return s.state == State::kLoading; });
}

void CachedExperts::CountAcquire(size_t layer, size_t key) {
  ++stats_.acquires;
  if (predicted_layer_[layer] && !(marks_[key] & kAcquired)) {
    marks_[key] |= kAcquired;
    ++stats_.acquired_after_prediction;
    if (marks_[key] & kPredicted) ++stats_.prefetch_predicted_used;
  }
}

const MlpWeights* CachedExperts::PinReady(size_t s, double waited_since) {
  CacheSlot& st = state_[s];
  ++st.pins;
  ++st.uses;
  st.last_use = ++clock_;
  if (st.prefetched) {
    st.prefetched = false;
    ++stats_.prefetch_useful;
    stats_.prefetch_useful_bytes += reader_->UnitReadBytes(experts_[slots_[s].key].unit);
  }
  if (waited_since == 0) {
    ++stats_.hits;
  } else {
    ++stats_.waits;
    stats_.stall_seconds += Seconds() - waited_since;
  }
  return &slots_[s].views;
}

Result<const MlpWeights*> CachedExperts::Acquire(size_t layer, size_t expert) {
  if (!Exists(layer, expert)) return NoSuchExpert(layer, expert);
  const size_t key = first_[layer] + expert;
  std::unique_lock<std::mutex> lock(mutex_);
  CountAcquire(layer, key);
  return AcquireLocked(lock, layer, key);
}

Result<const MlpWeights*> CachedExperts::AcquireLocked(std::unique_lock<std::mutex>& lock, size_t layer, size_t key) {
  const size_t expert = key - first_[layer];
  double waited_since = 0;  // set once the call first blocks
  auto wait = [&] {
    if (waited_since == 0) waited_since = Seconds();
    ++waiting_;
    changed_.wait(lock);
    --waiting_;
  };
  for (;;) {
    const int32_t s = slot_of_[key];
    if (s >= 0) {
      if (state_[static_cast<size_t>(s)].state == State::kLoading) {  // a prefetch or another thread reads it
        wait();
        continue;
      }
      return PinReady(static_cast<size_t>(s), waited_since);
    }
    const std::optional<size_t> choice = policy_->ChooseSlot(layer, false, state_);
    if (!choice) {
      if (AnyLoading()) {  // a read in flight will free or fill a slot
        ++slot_waiters_;
        wait();
        --slot_waiters_;
        continue;
      }
      if (waited_since != 0) stats_.stall_seconds += Seconds() - waited_since;
      return Status::Error("expert cache: all its slots (" + std::to_string(slots_.size()) + " of " +
                           std::to_string(slot_bytes_) + " bytes) are in use; expert " + std::to_string(expert) +
                           " of layer " + std::to_string(layer) + " cannot be read without evicting one. Acquire "
                           "experts in groups of at most " + std::to_string(slots_.size()) + ", or raise the budget");
    }
    const size_t slot = *choice;
    if (slot >= slots_.size() || !state_[slot].Free()) {  // a policy's bug; never evict what is in use
      return Status::Error(std::string("expert cache: policy ") + policy_->name() + " chose slot " +
                           std::to_string(slot) + ", which is in use");
    }
    Claim(slot, key, false);
    ++stats_.misses;
    lock.unlock();
    const double start = waited_since != 0 ? waited_since : Seconds();
    Status read = reader_->Read(experts_[key].unit, {slots_[slot].bytes, slot_bytes_});
    if (read.ok()) BindSlot(slot);
    lock.lock();
    stats_.stall_seconds += Seconds() - start;
    CacheSlot& st = state_[slot];
    if (!read.ok()) {
      st = CacheSlot();
      slot_of_[key] = -1;
    } else {
      st.state = State::kReady;
    }
    if (waiting_ > 0) changed_.notify_all();
    if (!read.ok()) return read;
    return &slots_[slot].views;
  }
}

Status CachedExperts::BeginAcquire(size_t layer, std::span<const size_t> ids, std::span<const MlpWeights*> out) {
  for (const size_t e : ids) {
    if (!Exists(layer, e)) return NoSuchExpert(layer, e);
  }
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < ids.size(); ++i) {
      const size_t key = first_[layer] + ids[i];
      CountAcquire(layer, key);
      out[i] = nullptr;
      const int32_t s = slot_of_[key];
      if (s >= 0) {
        // Ready: a hit. Being read (a prefetch, another caller): FinishAcquire waits for it like Acquire.
        if (state_[static_cast<size_t>(s)].state == State::kReady) out[i] = PinReady(static_cast<size_t>(s), 0);
        continue;
      }
      const std::optional<size_t> choice = policy_->ChooseSlot(layer, false, state_);
      // No slot free now (prefetches in flight hold some): FinishAcquire acquires it the usual way.
      if (!choice || *choice >= slots_.size() || !state_[*choice].Free()) continue;
      Claim(*choice, key, false);  // pinned for this caller from now on
      ++stats_.misses;
      group_read_[key] = kGroupRead;
      group_queue_[(group_head_ + group_size_) % group_queue_.size()] = key;
      ++group_size_;
      queued = true;
    }
  }
  if (queued) work_.notify_one();
  return Status::Ok();
}

Status CachedExperts::FinishAcquire(size_t layer, std::span<const size_t> ids, std::span<const MlpWeights*> out) {
  Status first;
  std::unique_lock<std::mutex> lock(mutex_);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (out[i]) continue;
    if (!Exists(layer, ids[i])) {
      if (first.ok()) first = NoSuchExpert(layer, ids[i]);
      continue;
    }
    const size_t key = first_[layer] + ids[i];
    // A group read of the expert (this caller's, or another's whose BeginAcquire claimed it first): the
    // first caller to finish it takes the claim's pin, or its error; any other acquires it the usual way.
    double since = 0;
    while (group_read_[key] == kGroupRead) {
      if (since == 0) since = Seconds();
      ++waiting_;
      changed_.wait(lock);
      --waiting_;
    }
    if (since != 0) stats_.stall_seconds += Seconds() - since;
    if (group_read_[key] == kNoGroupRead) {  // no slot was free at BeginAcquire, or another caller took it
      Result<const MlpWeights*> got = AcquireLocked(lock, layer, key);
      if (got.ok()) {
        out[i] = *got;
      } else if (first.ok()) {
        first = got.status();
      }
      continue;
    }
    if (group_read_[key] == kGroupFailed) {
      if (first.ok()) first = group_error_[key];
      group_error_[key] = Status::Ok();
    } else {
      out[i] = &slots_[static_cast<size_t>(slot_of_[key])].views;  // pinned since BeginAcquire claimed it
    }
    group_read_[key] = kNoGroupRead;
  }
  return first;
}

void CachedExperts::Release(size_t layer, size_t expert) {
  if (!Exists(layer, expert)) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const int32_t s = slot_of_[first_[layer] + expert];
  assert(s >= 0 && state_[static_cast<size_t>(s)].pins > 0);  // released more often than acquired
  if (s < 0 || state_[static_cast<size_t>(s)].pins == 0) return;
  if (--state_[static_cast<size_t>(s)].pins == 0 && waiting_ > 0) changed_.notify_all();
}

void CachedExperts::Prefetch(size_t layer, std::span<const int64_t> experts) {
  if (!prefetch_ || layer + 1 >= first_.size()) return;
  const size_t count = first_[layer + 1] - first_[layer];
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // A new prediction for the layer: the previous one's marks go.
    std::fill(marks_.begin() + static_cast<ptrdiff_t>(first_[layer]), marks_.begin() + static_cast<ptrdiff_t>(first_[layer + 1]), 0);
    predicted_layer_[layer] = 1;
    for (const int64_t e : experts) {
      if (e < 0 || static_cast<size_t>(e) >= count) continue;
      const size_t key = first_[layer] + static_cast<size_t>(e);
      if (marks_[key] & kPredicted) continue;  // named twice in this call
      marks_[key] |= kPredicted;
      ++stats_.prefetch_predicted;
      if (slot_of_[key] >= 0 || queued_[key]) continue;  // cached, being read, or already asked for
      // Each key is queued at most once, so the ring (one entry per expert) never overflows.
      queue_[(queue_head_ + queue_size_) % queue_.size()] = key;
      ++queue_size_;
      queued_[key] = 1;
      queued = true;
    }
  }
  if (queued) work_.notify_one();
}

void CachedExperts::WaitForPrefetch() {
  std::unique_lock<std::mutex> lock(mutex_);
  ++waiting_;
  changed_.wait(lock, [&] { return !io_thread_.joinable() || (queue_size_ == 0 && group_size_ == 0 && !io_busy_); });
  --waiting_;
}

ExpertCacheStats CachedExperts::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  ExpertCacheStats s = stats_;
  s.reader = reader_->stats();
  return s;
}

void CachedExperts::IoThread() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_.wait(lock, [&] { return stop_ || group_size_ > 0 || queue_size_ > 0; });
    if (stop_) return;
    // A step waits for its group reads; hints are guesses: groups first.
    if (group_size_ > 0) {
      ReadGroupBatch(lock);
    } else {
      ReadPrefetchBatch(lock);
    }
    if (waiting_ > 0) changed_.notify_all();
  }
}

void CachedExperts::ReadBatchUnlocked(std::unique_lock<std::mutex>& lock) {
  io_busy_ = true;
  lock.unlock();
  std::fill(batch_results_.begin(), batch_results_.end(), Status::Ok());
  (void)reader_->ReadBatch(batch_);  // per-unit outcomes in batch_results_
  for (size_t i = 0; i < batch_.size(); ++i) {
    if (batch_results_[i].ok()) BindSlot(batch_slots_[i]);
  }
  lock.lock();
  io_busy_ = false;
}

void CachedExperts::ReadGroupBatch(std::unique_lock<std::mutex>& lock) {
  // Up to a batch of the oldest group reads, their slots claimed and pinned by BeginAcquire.
  batch_slots_.clear();
  batch_.clear();
  while (group_size_ > 0 && batch_.size() < group_batch_) {
    const size_t key = group_queue_[group_head_];
    group_head_ = (group_head_ + 1) % group_queue_.size();
    --group_size_;
    const size_t s = static_cast<size_t>(slot_of_[key]);
    batch_slots_.push_back(s);
    batch_.push_back({experts_[key].unit, {slots_[s].bytes, slot_bytes_}, &batch_results_[batch_.size()]});
  }
  ReadBatchUnlocked(lock);
  for (size_t i = 0; i < batch_.size(); ++i) {
    const size_t s = batch_slots_[i];
    const size_t key = slots_[s].key;
    if (batch_results_[i].ok()) {
      state_[s].state = State::kReady;
      group_read_[key] = kGroupDone;
    } else {  // FinishAcquire reports it; the slot is free again
      group_read_[key] = kGroupFailed;
      group_error_[key] = batch_results_[i];
      slot_of_[key] = -1;
      state_[s] = CacheSlot();
    }
  }
}

void CachedExperts::ReadPrefetchBatch(std::unique_lock<std::mutex>& lock) {
  // Claim slots for up to a batch of hints, oldest first.
  batch_slots_.clear();
  batch_.clear();
  while (queue_size_ > 0 && batch_.size() < prefetch_batch_) {
    const size_t key = queue_[queue_head_];
    queue_head_ = (queue_head_ + 1) % queue_.size();
    --queue_size_;
    queued_[key] = 0;
    if (slot_of_[key] >= 0) continue;  // an Acquire got to it first
    if (slot_waiters_ > 0) {  // a step waits for a slot: it comes first, and the hints are stale by then
      ++stats_.prefetch_dropped;
      continue;
    }
    const std::optional<size_t> choice = policy_->ChooseSlot(experts_[key].layer, true, state_);
    if (!choice || *choice >= slots_.size() || !state_[*choice].Free()) {
      ++stats_.prefetch_dropped;
      continue;
    }
    Claim(*choice, key, true);
    ++stats_.prefetch_issued;
    batch_slots_.push_back(*choice);
    batch_.push_back({experts_[key].unit, {slots_[*choice].bytes, slot_bytes_}, &batch_results_[batch_.size()]});
  }
  if (batch_.empty()) return;
  ReadBatchUnlocked(lock);
  for (size_t i = 0; i < batch_.size(); ++i) {
    const size_t s = batch_slots_[i];
    if (batch_results_[i].ok()) {
      state_[s].state = State::kReady;
    } else {  // the demand read of the same expert will report the error
      slot_of_[slots_[s].key] = -1;
      state_[s] = CacheSlot();
      ++stats_.prefetch_dropped;
    }
  }
}

}  // namespace glmv
