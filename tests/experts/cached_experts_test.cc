// The expert cache on a small synthesized .glmv: views over its slots hold the mapped experts' bytes; LRU
// per layer evicts; an Acquire while every slot is pinned fails with the documented error and evicts
// nothing; prefetched experts are read by the I/O thread and counted useful when acquired; threads
// acquiring at once (with prefetches in between) always see their experts' bytes; a read error names the
// unit and leaves the cache working.
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "lib/experts/cached_experts.h"
#include "lib/text/text_model.h"
#include "tests/experts/tiny_glmv.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

struct Loaded {
  std::unique_ptr<TextModel> model;
  std::vector<std::span<const MlpWeights>> per_layer;
  const ModelFile& file() const { return *model->storage().checkpoint->model_file(); }
};

Loaded Load(const std::string& path) {
  auto m = TextModel::Load(path);
  REQUIRE_MESSAGE(m.ok(), m.status().message());
  Loaded l{std::move(m).value(), {}};
  for (const auto& L : l.model->weights().layers) l.per_layer.emplace_back(L.experts);
  REQUIRE(l.model->storage().checkpoint->model_file() != nullptr);
  return l;
}

size_t SlotBytes(const ModelFile& file) {
  size_t most = 0;
  for (const auto& u : file.units()) most = std::max(most, (u.bytes.size() + 4095) / 4096 * 4096);
  return most;
}

std::unique_ptr<CachedExperts> NewCache(const Loaded& l, size_t slots, CachedExpertsOptions options = {}) {
  options.budget_bytes = slots * SlotBytes(l.file());
  auto c = CachedExperts::Create(l.file(), l.per_layer, options);
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  REQUIRE((*c)->slots() == slots);
  return std::move(c).value();
}

// Default options, reading with io_uring (when the kernel lets it) or with pread.
CachedExpertsOptions ReadingBy(bool uring) {
  CachedExpertsOptions o;
  o.reader.io_uring = uring;
  return o;
}

std::span<const uint8_t> MatrixBytes(const Weight& w) {
  REQUIRE(w.is_packed());
  return {w.packed, PackedMatrixBytes(w.dtype, static_cast<size_t>(w.rows()), static_cast<size_t>(w.cols()))};
}

// The cached expert's views: other pointers, the same shapes, dtypes and bytes as the mapped ones.
bool SameExpert(const MlpWeights& cached, const MlpWeights& mapped) {
  for (auto [c, m] : {std::pair{&cached.gate, &mapped.gate}, {&cached.up, &mapped.up}, {&cached.down, &mapped.down}}) {
    if (c->packed == m->packed || c->shape != m->shape || c->dtype != m->dtype) return false;
    const auto a = MatrixBytes(*c), b = MatrixBytes(*m);
    if (a.size() != b.size() || std::memcmp(a.data(), b.data(), a.size()) != 0) return false;
  }
  return true;
}

constexpr size_t kLayers[] = {1, 2};  // the tiny model's MoE layers (layer 0 is dense)

TEST_CASE("every expert through a 3-slot cache equals the mapped one; LRU per layer evicts the oldest") {
  test::TempDir dir;
  const Loaded l = Load(test::WriteTinySynthGlmv(dir));
  auto cache = NewCache(l, 3);
  CHECK(std::string(cache->policy_name()) == "lru-per-layer");
  for (const size_t layer : kLayers) {
    for (size_t e = 0; e < 8; ++e) {
      CAPTURE(layer);
      CAPTURE(e);
      auto got = cache->Acquire(layer, e);
      REQUIRE_MESSAGE(got.ok(), got.status().message());
      CHECK(SameExpert(**got, l.per_layer[layer][e]));
      cache->Release(layer, e);
    }
  }
  ExpertCacheStats s = cache->stats();
  CHECK(s.acquires == 16);
  CHECK(s.misses == 16);
  CHECK(s.hits == 0);
  CHECK(s.evictions == 13);
  CHECK(s.reader.reads == 16);
  CHECK(s.reader.bytes >= 16 * 3584);
  CHECK(s.stall_seconds > 0);
  // Each layer's share is one slot (3 slots, 2 MoE layers): layer 2 came under its share and took layer 1's
  // oldest, then recycled its own slot; layer 1 kept its two newest.
  for (auto [layer, e] : {std::pair<size_t, size_t>{2, 7}, {1, 6}, {1, 7}}) {
    REQUIRE(cache->Acquire(layer, e).ok());
    cache->Release(layer, e);
  }
  CHECK(cache->stats().hits == 3);
  REQUIRE(cache->Acquire(2, 4).ok());  // a miss: layer 2 is at its share, so its own expert 7 goes
  cache->Release(2, 4);
  REQUIRE(cache->Acquire(1, 6).ok());
  cache->Release(1, 6);
  s = cache->stats();
  CHECK(s.misses == 17);
  CHECK(s.hits == 4);
  REQUIRE(cache->Acquire(2, 7).ok());
  cache->Release(2, 7);
  CHECK(cache->stats().misses == 18);

  CHECK(!cache->Acquire(0, 0).ok());  // layer 0 is dense
  CHECK(!cache->Acquire(1, 8).ok());
  CHECK(!cache->Acquire(3, 0).ok());
}

TEST_CASE("an Acquire while every slot is pinned fails with the documented error and evicts nothing") {
  test::TempDir dir;
  const Loaded l = Load(test::WriteTinySynthGlmv(dir));
  auto cache = NewCache(l, 2);
  auto a = cache->Acquire(1, 0);
  auto b = cache->Acquire(2, 3);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto refused = cache->Acquire(1, 5);
  REQUIRE(!refused.ok());
  const std::string why = refused.status().message();
  MESSAGE(why);
  CHECK(why.find("all its slots (2 of") != std::string::npos);
  CHECK(why.find("expert 5 of layer 1") != std::string::npos);
  CHECK(why.find("groups of at most 2") != std::string::npos);
  CHECK(cache->stats().evictions == 0);
  CHECK(SameExpert(**a, l.per_layer[1][0]));  // still there, unchanged
  CHECK(SameExpert(**b, l.per_layer[2][3]));
  // The same expert twice is one slot, pinned twice.
  auto a2 = cache->Acquire(1, 0);
  REQUIRE(a2.ok());
  CHECK(*a2 == *a);
  cache->Release(1, 0);
  CHECK(!cache->Acquire(1, 5).ok());  // (1, 0) is still held once
  cache->Release(1, 0);
  auto c = cache->Acquire(1, 5);  // now (1, 0)'s slot is free
  REQUIRE(c.ok());
  CHECK(SameExpert(**c, l.per_layer[1][5]));
  CHECK(SameExpert(**b, l.per_layer[2][3]));
  CHECK(cache->stats().evictions == 1);
  cache->Release(1, 5);
  cache->Release(2, 3);
}

TEST_CASE("Park lends free slots out (never a pinned one, never the last), max_held follows, Unpark returns them") {
  test::TempDir dir;
  const Loaded l = Load(test::WriteTinySynthGlmv(dir));
  CachedExpertsOptions options;
  options.prefetch = false;
  auto cache = NewCache(l, 5, options);
  CHECK(cache->max_held() == 5);
  for (size_t e = 0; e < 5; ++e) {  // fill every slot
    REQUIRE(cache->Acquire(1, e).ok());
    cache->Release(1, e);
  }
  auto held = cache->Acquire(1, 4);  // the newest: pinned while parking
  REQUIRE(held.ok());
  CHECK(cache->Park(3) == 3);
  CHECK(cache->parked() == 3);
  CHECK(cache->stats().parked == 3);
  CHECK(cache->max_held() == 2);
  CHECK(cache->stats().evictions == 3);  // the parked slots' experts are gone
  CHECK(SameExpert(**held, l.per_layer[1][4]));  // the pinned one stayed
  // Two active slots: the held one and one more; a third expert at once is refused.
  auto second = cache->Acquire(2, 0);
  REQUIRE(second.ok());
  CHECK(SameExpert(**second, l.per_layer[2][0]));
  CHECK(!cache->Acquire(2, 1).ok());
  cache->Release(2, 0);
  cache->Release(1, 4);
  CHECK(cache->Park(3) == 3);   // already parked: nothing more happens
  CHECK(cache->Park(99) == 4);  // never the last slot
  CHECK(cache->max_held() == 1);
  cache->Unpark();
  CHECK(cache->parked() == 0);
  CHECK(cache->max_held() == 5);
  // Every slot usable again, and the experts read into them are the mapped ones.
  std::vector<const MlpWeights*> all;
  for (size_t e = 0; e < 5; ++e) {
    auto got = cache->Acquire(2, e);
    REQUIRE_MESSAGE(got.ok(), got.status().message());
    CHECK(SameExpert(**got, l.per_layer[2][e]));
    all.push_back(*got);
  }
  for (size_t e = 0; e < 5; ++e) cache->Release(2, e);
}

// Always slot 0, in use or not.
class StubbornPolicy final : public ExpertCachePolicy {
 public:
  const char* name() const override { return "stubborn"; }
  void Start(size_t, size_t, size_t) override {}
  std::optional<size_t> ChooseSlot(size_t, bool, std::span<const CacheSlot>) override { return 0; }
};

TEST_CASE("a policy that picks a slot in use gets an error, not an eviction") {
  test::TempDir dir;
  const Loaded l = Load(test::WriteTinySynthGlmv(dir));
  CachedExpertsOptions options;
  options.policy = [] { return std::make_unique<StubbornPolicy>(); };
  auto cache = NewCache(l, 2, options);
  CHECK(std::string(cache->policy_name()) == "stubborn");
  auto a = cache->Acquire(1, 0);
  REQUIRE(a.ok());
  auto b = cache->Acquire(1, 1);
  REQUIRE(!b.ok());
  CHECK(b.status().message().find("policy stubborn chose slot 0, which is in use") != std::string::npos);
  CHECK(SameExpert(**a, l.per_layer[1][0]));
  cache->Release(1, 0);
  REQUIRE(cache->Acquire(1, 1).ok());  // slot 0 is free now
  cache->Release(1, 1);
}

TEST_CASE("prefetched experts are read in the background and count as useful when acquired before eviction") {
  test::TempDir dir;
  const Loaded l = Load(test::WriteTinySynthGlmv(dir));
  for (const bool uring : {false, true}) {
    CAPTURE(uring);
    auto cache = NewCache(l, 4, ReadingBy(uring));
    const std::vector<int64_t> hint = {0, 1, 2, 2, 99, -1};  // a repeat and ids out of range are ignored
    cache->Prefetch(1, hint);
    cache->WaitForPrefetch();
    ExpertCacheStats s = cache->stats();
    CHECK(s.prefetch_issued == 3);
    CHECK(s.reader.reads == 3);
    if (uring && cache->reader().uses_io_uring()) CHECK(s.reader.uring_reads == 3);
    cache->Prefetch(1, hint);  // all cached: nothing to read
    cache->WaitForPrefetch();
    CHECK(cache->stats().prefetch_issued == 3);
    for (size_t e : {0, 1}) {
      auto got = cache->Acquire(1, e);
      REQUIRE(got.ok());
      CHECK(SameExpert(**got, l.per_layer[1][e]));
      cache->Release(1, e);
    }
    s = cache->stats();
    CHECK(s.hits == 2);
    CHECK(s.misses == 0);
    CHECK(s.prefetch_useful == 2);
    CHECK(s.prefetch_useful_bytes == 2 * cache->slot_bytes());
    // Layer 2 takes the slots over: expert 2 of layer 1 goes unused.
    for (size_t e = 0; e < 4; ++e) {
      REQUIRE(cache->Acquire(2, e).ok());
      cache->Release(2, e);
    }
    s = cache->stats();
    CHECK(s.prefetch_unused == 1);
    CHECK(s.prefetch_useful == 2);
    CHECK(s.evictions == 3);  // one slot was still empty
  }
  {  // with prefetch off, Prefetch does nothing
    CachedExpertsOptions options;
    options.prefetch = false;
    auto cache = NewCache(l, 4, options);
    const std::vector<int64_t> hint = {0, 1};
    cache->Prefetch(1, hint);
    cache->WaitForPrefetch();
    CHECK(cache->stats().prefetch_issued == 0);
    CHECK(cache->stats().reader.reads == 0);
  }
}

TEST_CASE("threads acquiring at once, alone and in groups, with prefetches in between, always hold their experts' bytes") {
  test::TempDir dir;
  const Loaded l = Load(test::WriteTinySynthGlmv(dir));
  for (const bool uring : {false, true}) {
    CAPTURE(uring);
    CachedExpertsOptions options = ReadingBy(uring);
    options.prefetch_batch = 3;
    constexpr size_t kThreads = 4, kHeld = 2, kRounds = 300;
    auto cache = NewCache(l, kThreads * kHeld + 1, options);  // room for every pin, and a little to spare
    std::atomic<size_t> errors{0}, wrong{0};
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 rng(static_cast<uint32_t>(t) + 1);
        for (size_t round = 0; round < kRounds; ++round) {
          const size_t layer = kLayers[rng() % 2];
          const size_t e0 = rng() % 8, e1 = (e0 + 1 + rng() % 7) % 8;
          if (round % 5 == 0) {
            const std::vector<int64_t> next = {static_cast<int64_t>(rng() % 8), static_cast<int64_t>(rng() % 8)};
            cache->Prefetch(kLayers[rng() % 2], next);
          }
          if (round % 2 == 1) {  // as MoE code does: a group begun at once, finished one by one or together
            const std::vector<size_t> ids = {e0, e1};
            std::vector<const MlpWeights*> out(2, nullptr);
            if (!cache->BeginAcquire(layer, ids, out).ok()) ++errors;
            if (round % 4 == 1) {
              if (!cache->FinishAcquire(layer, std::span(ids).subspan(1), std::span(out).subspan(1)).ok()) ++errors;
            }
            if (!cache->FinishAcquire(layer, ids, out).ok()) ++errors;
            for (size_t i = 0; i < 2; ++i) {
              if (!out[i]) continue;
              if (!SameExpert(*out[i], l.per_layer[layer][ids[i]])) ++wrong;
              cache->Release(layer, ids[i]);
            }
            continue;
          }
          auto a = cache->Acquire(layer, e0);
          auto b = cache->Acquire(layer, e1);
          if (!a.ok() || !b.ok()) ++errors;
          if (a.ok() && !SameExpert(**a, l.per_layer[layer][e0])) ++wrong;
          if (b.ok() && !SameExpert(**b, l.per_layer[layer][e1])) ++wrong;
          if (a.ok()) cache->Release(layer, e0);
          if (b.ok()) cache->Release(layer, e1);
        }
      });
    }
    for (auto& th : threads) th.join();
    cache->WaitForPrefetch();
    CHECK(errors == 0);
    CHECK(wrong == 0);
    const ExpertCacheStats s = cache->stats();
    CHECK(s.acquires == kThreads * kRounds * kHeld);
    CHECK(s.hits + s.waits + s.misses == s.acquires);
    CHECK(s.misses > 0);
    CHECK(s.evictions > 0);
    MESSAGE("hits " << s.hits << ", waits " << s.waits << ", misses " << s.misses << ", prefetched " << s.prefetch_issued
                    << " (useful " << s.prefetch_useful << ", unused " << s.prefetch_unused << ", dropped "
                    << s.prefetch_dropped << ")");
    // Every pin was released: every slot can be taken by other experts at once.
    std::vector<size_t> held;
    for (size_t i = 0; i < cache->slots(); ++i) {
      auto got = cache->Acquire(kLayers[i % 2], i / 2);
      REQUIRE_MESSAGE(got.ok(), got.status().message());
    }
    for (size_t i = 0; i < cache->slots(); ++i) cache->Release(kLayers[i % 2], i / 2);
  }
}

TEST_CASE("a read error names the file, the unit and the offset, and the cache goes on") {
  test::TempDir dir;
  const std::string path = test::WriteTinySynthGlmv(dir);
  const std::string cut = (dir / "cut.glmv").string();
  fs::copy_file(path, cut);
  const Loaded l = Load(cut);  // mapped whole; cut below, under the cache's feet
  const auto extents = UnitExtents(l.file());
  const size_t last = extents.size() - 1;
  fs::resize_file(cut, extents[last].offset);
  auto cache = NewCache(l, 2);
  for (int attempt = 0; attempt < 2; ++attempt) {  // the failed slot is not left holding a half-read expert
    auto bad = cache->Acquire(2, 7);
    REQUIRE(!bad.ok());
    CHECK(bad.status().message().find(cut) != std::string::npos);
    CHECK(bad.status().message().find("'" + extents[last].name + "'") != std::string::npos);
    CHECK(bad.status().message().find("offset " + std::to_string(extents[last].offset)) != std::string::npos);
  }
  // Prefetching it fails quietly (the demand read reports it).
  const std::vector<int64_t> seven = {7};
  cache->Prefetch(2, seven);
  cache->WaitForPrefetch();
  CHECK(cache->stats().prefetch_dropped == 1);
  auto a = cache->Acquire(2, 6);
  auto b = cache->Acquire(1, 0);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(SameExpert(**a, l.per_layer[2][6]));
  CHECK(SameExpert(**b, l.per_layer[1][0]));
  cache->Release(2, 6);
  cache->Release(1, 0);
}

TEST_CASE("a group: cached experts at once, the missing ones read together in the background, finished in any order") {
  test::TempDir dir;
  const Loaded l = Load(test::WriteTinySynthGlmv(dir));
  for (const bool uring : {false, true}) {
    CAPTURE(uring);
    CachedExpertsOptions options = ReadingBy(uring);
    options.prefetch = false;  // group reads do not need prefetch on
    auto cache = NewCache(l, 4, options);
    REQUIRE(cache->Acquire(1, 0).ok());
    cache->Release(1, 0);
    const std::vector<size_t> ids = {0, 2, 3};
    std::vector<const MlpWeights*> out(ids.size(), nullptr);
    REQUIRE(cache->BeginAcquire(1, ids, out).ok());
    REQUIRE(out[0] != nullptr);  // cached: pinned at once
    CHECK(out[1] == nullptr);
    CHECK(out[2] == nullptr);
    CHECK(SameExpert(*out[0], l.per_layer[1][0]));
    // The last first, alone; then the rest.
    REQUIRE(cache->FinishAcquire(1, std::span(ids).subspan(2), std::span(out).subspan(2)).ok());
    REQUIRE(out[2] != nullptr);
    CHECK(SameExpert(*out[2], l.per_layer[1][3]));
    REQUIRE(cache->FinishAcquire(1, ids, out).ok());
    for (size_t i = 0; i < ids.size(); ++i) {
      REQUIRE(out[i] != nullptr);
      CHECK(SameExpert(*out[i], l.per_layer[1][ids[i]]));
    }
    // All three stay pinned until released: a fourth slot is all another expert can get.
    auto other = cache->Acquire(2, 5);
    REQUIRE(other.ok());
    CHECK(!cache->Acquire(2, 6).ok());
    cache->Release(2, 5);
    for (const size_t e : ids) cache->Release(1, e);
    ExpertCacheStats s = cache->stats();
    CHECK(s.acquires == 6);  // the refused one counts
    CHECK(s.hits == 1);
    CHECK(s.misses == 4);  // (1, 0) once, 2 and 3 by the group, (2, 5)
    CHECK(s.reader.reads == 4);
    if (uring && cache->reader().uses_io_uring()) CHECK(s.reader.uring_reads >= 2);
    // Read once: now hits, all ready in BeginAcquire, nothing left to finish.
    std::fill(out.begin(), out.end(), nullptr);
    REQUIRE(cache->BeginAcquire(1, ids, out).ok());
    for (const MlpWeights* w : out) CHECK(w != nullptr);
    REQUIRE(cache->FinishAcquire(1, ids, out).ok());
    for (const size_t e : ids) cache->Release(1, e);
    CHECK(cache->stats().hits == 4);
    CHECK(cache->stats().reader.reads == 4);
    // An expert that does not exist: an error, nothing pinned.
    const std::vector<size_t> bad = {1, 8};
    std::vector<const MlpWeights*> bad_out(2, nullptr);
    CHECK(!cache->BeginAcquire(1, bad, bad_out).ok());
    CHECK(bad_out[0] == nullptr);
    CHECK(cache->stats().acquires == 9);
  }
}

TEST_CASE("a group whose read fails: FinishAcquire names the unit, sets the others, and the cache goes on") {
  test::TempDir dir;
  const std::string path = test::WriteTinySynthGlmv(dir);
  const std::string cut = (dir / "cut.glmv").string();
  fs::copy_file(path, cut);
  const Loaded l = Load(cut);
  const auto extents = UnitExtents(l.file());
  const size_t last = extents.size() - 1;  // layer 2's expert 7
  fs::resize_file(cut, extents[last].offset);
  for (const bool uring : {false, true}) {
    CAPTURE(uring);
    auto cache = NewCache(l, 3, ReadingBy(uring));
    const std::vector<size_t> ids = {5, 6, 7};
    std::vector<const MlpWeights*> out(ids.size(), nullptr);
    REQUIRE(cache->BeginAcquire(2, ids, out).ok());
    const Status finished = cache->FinishAcquire(2, ids, out);
    REQUIRE(!finished.ok());
    MESSAGE(finished.message());
    CHECK(finished.message().find("'" + extents[last].name + "'") != std::string::npos);
    CHECK(finished.message().find("offset " + std::to_string(extents[last].offset)) != std::string::npos);
    REQUIRE(out[0] != nullptr);
    REQUIRE(out[1] != nullptr);
    CHECK(out[2] == nullptr);
    CHECK(SameExpert(*out[0], l.per_layer[2][5]));
    CHECK(SameExpert(*out[1], l.per_layer[2][6]));
    cache->Release(2, 5);
    cache->Release(2, 6);
    // The failed slot is free again: three other experts fit.
    for (size_t e = 0; e < 3; ++e) REQUIRE(cache->Acquire(1, e).ok());
    for (size_t e = 0; e < 3; ++e) cache->Release(1, e);
  }
}

TEST_CASE("creation errors: a budget below one expert, experts that are not the file's units; fallbacks are notes") {
  test::TempDir dir;
  const Loaded l = Load(test::WriteTinySynthGlmv(dir));
  CachedExpertsOptions options;
  options.budget_bytes = SlotBytes(l.file()) - 1;
  auto small = CachedExperts::Create(l.file(), l.per_layer, options);
  REQUIRE(!small.ok());
  CHECK(small.status().message().find("holds no expert") != std::string::npos);

  // The tiny Hugging Face model's experts (f32, in safetensors) are not in the .glmv file's units.
  auto hf = TextModel::Load((test::DataDir() / "tiny-glm4v-moe").string());
  REQUIRE(hf.ok());
  std::vector<std::span<const MlpWeights>> foreign;
  for (const auto& L : (*hf)->weights().layers) foreign.emplace_back(L.experts);
  options.budget_bytes = 1 << 20;
  auto mismatched = CachedExperts::Create(l.file(), foreign, options);
  REQUIRE(!mismatched.ok());
  CHECK(mismatched.status().message().find("not in a unit") != std::string::npos);

  options.reader.simulate_io_uring_error = EPERM;
  auto cache = CachedExperts::Create(l.file(), l.per_layer, options);
  REQUIRE(cache.ok());
  CHECK((*cache)->slots() == 16);  // never more slots than experts
  const auto notes = (*cache)->notes();
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find(IoUringBuiltIn() ? "io_uring refused" : "io_uring not built in") != std::string::npos);
  REQUIRE((*cache)->Acquire(1, 1).ok());
  (*cache)->Release(1, 1);
}

TEST_CASE("LRU per layer: empty slots first, then the layer's own oldest at its share, else an over-share layer's") {
  LruPerLayerPolicy p;
  p.Start(4, 3, 2);  // 4 slots, layers 1 and 2 MoE: a share of 2 each
  using S = CacheSlot::State;
  std::vector<CacheSlot> slots(4);
  auto set = [&](size_t i, S state, uint32_t layer, uint64_t last_use, uint32_t pins = 0) {
    slots[i].state = state;
    slots[i].layer = layer;
    slots[i].last_use = last_use;
    slots[i].pins = pins;
  };
  set(0, S::kReady, 1, 5);
  set(1, S::kEmpty, 0, 0);
  set(2, S::kReady, 1, 3);
  set(3, S::kReady, 1, 9);
  CHECK(p.ChooseSlot(2, false, slots) == std::optional<size_t>(1));  // the empty one
  set(1, S::kReady, 2, 1);
  // Layer 1 holds 3 (over its share of 2), layer 2 holds 1: layer 2 takes layer 1's oldest (slot 2), not
  // its own older slot 1.
  CHECK(p.ChooseSlot(2, false, slots) == std::optional<size_t>(2));
  // Layer 1 is at or over its share: its own oldest.
  CHECK(p.ChooseSlot(1, false, slots) == std::optional<size_t>(2));
  set(2, S::kReady, 1, 3, 1);  // pinned
  CHECK(p.ChooseSlot(1, true, slots) == std::optional<size_t>(0));
  set(0, S::kLoading, 1, 5);  // being read
  set(3, S::kReady, 1, 9, 2);
  // Layer 1 has nothing free of its own: the oldest free slot anywhere (layer 2's).
  CHECK(p.ChooseSlot(1, false, slots) == std::optional<size_t>(1));
  set(1, S::kReady, 2, 1, 1);
  CHECK(p.ChooseSlot(1, false, slots) == std::nullopt);  // all pinned or loading
}

TEST_CASE("LFU with decay per layer: the fewest recent uses go first, a prefetch counts one, old counts halve") {
  auto make = ExpertCachePolicyByName("lfu-decay-per-layer");
  REQUIRE(make != nullptr);
  auto p = make();
  CHECK(std::string(p->name()) == "lfu-decay-per-layer");
  CHECK(ExpertCachePolicyByName("lru-per-layer") != nullptr);
  CHECK(ExpertCachePolicyByName("random") == nullptr);
  p->Start(4, 2, 1);  // 4 slots, layer 1 MoE: its share is all 4
  using S = CacheSlot::State;
  std::vector<CacheSlot> slots(4);
  auto set = [&](size_t i, uint64_t last_use, uint64_t uses, bool prefetched = false, uint32_t pins = 0) {
    slots[i].state = S::kReady;
    slots[i].layer = 1;
    slots[i].last_use = last_use;
    slots[i].uses = uses;
    slots[i].prefetched = prefetched;
    slots[i].pins = pins;
  };
  set(0, 10, 5);
  set(1, 9, 1);   // the least used: goes first although slot 3 is older
  set(2, 11, 3);
  set(3, 8, 2);
  CHECK(p->ChooseSlot(1, false, slots) == std::optional<size_t>(1));
  set(1, 9, 0, true);  // prefetched, not acquired yet: counts one use, still the fewest
  CHECK(p->ChooseSlot(1, false, slots) == std::optional<size_t>(1));
  set(3, 8, 1);  // tie at one use: the older (slot 3) goes
  CHECK(p->ChooseSlot(1, false, slots) == std::optional<size_t>(3));
  set(3, 8, 1, false, 1);  // pinned: never
  CHECK(p->ChooseSlot(1, false, slots) == std::optional<size_t>(1));
  // Time passes (now = 30): slot 0's 5 uses at tick 10 halve 5 times (20 ticks / 4 slots) to 0, slot 2's 3 uses
  // at tick 11 halve 4 times to 0; slot 1 was used at tick 30: its prefetch vote keeps it.
  set(1, 30, 0, true);
  CHECK(p->ChooseSlot(1, false, slots) == std::optional<size_t>(0));  // 0 = 0: the older of 0 and 2

  // Through the cache: every expert it hands out is the mapped one.
  test::TempDir dir;
  const Loaded l = Load(test::WriteTinySynthGlmv(dir));
  CachedExpertsOptions o;
  o.policy = make;
  auto cache = NewCache(l, 3, o);
  CHECK(std::string(cache->policy_name()) == "lfu-decay-per-layer");
  for (int round = 0; round < 2; ++round) {
    for (const size_t layer : kLayers) {
      for (const size_t e : {0, 1, 0, 2, 0, 3, 1}) {
        auto got = cache->Acquire(layer, e);
        REQUIRE(got.ok());
        CHECK(SameExpert(**got, l.per_layer[layer][e]));
        cache->Release(layer, e);
      }
    }
  }
  const ExpertCacheStats s = cache->stats();
  MESSAGE("lfu-decay-per-layer over 3 slots: " << s.hits << " hits, " << s.misses << " misses");
  CHECK(s.hits > 0);
  CHECK(s.evictions > 0);
}

}  // namespace
}  // namespace glmv
