// Decode never calls malloc: after a few warm-up steps, further decode steps of four sequences allocate
// nothing — forward, routing (grouped, on a variant model), attention over pages, sampling (every C++
// allocation of this test binary is counted through a replaced operator new). The variant model has no
// tokenizer, so no text is streamed: decoded text pieces are strings and may allocate.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "io/npy.h"
#include "lib/engine/engine.h"
#include "tests/test_util.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<size_t> g_allocations{0};

void* Allocate(size_t n, size_t align) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align) : std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(size_t n) { return Allocate(n, 0); }
void* operator new[](size_t n) { return Allocate(n, 0); }
void* operator new(size_t n, std::align_val_t a) { return Allocate(n, static_cast<size_t>(a)); }
void* operator new[](size_t n, std::align_val_t a) { return Allocate(n, static_cast<size_t>(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }

namespace glmv {
namespace {

TEST_CASE("decode steps of four sequences allocate nothing once warm") {
  const auto tiny = test::DataDir() / "variants" / "groups_shared2";
  EngineOptions options;
  options.max_sequences = 4;
  auto e = Engine::Load(tiny.string(), options);
  REQUIRE(e.ok());
  auto ids = ReadNpy((tiny / "case1_text__input_ids.npy").string());
  REQUIRE(ids.ok());
  std::vector<std::unique_ptr<Sequence>> seqs;
  std::vector<Sequence*> ptrs;
  for (int i = 0; i < 4; ++i) {
    GenerateRequest r;
    r.prompt = ids->ToInt64();
    r.prompt[0] = i;
    r.max_tokens = 64;
    r.sampling.temperature = 0.8f;
    r.sampling.seed = static_cast<uint64_t>(i);
    r.ignore_eos = true;
    auto s = (*e)->Start(r);
    REQUIRE(s.ok());
    ptrs.push_back(s->get());
    seqs.push_back(std::move(s).value());
  }
  for (Sequence* s : ptrs) {
    while (s->prefilling()) (*e)->Prefill(*s);
  }
  for (int i = 0; i < 4; ++i) (*e)->DecodeBatch(ptrs);  // warm: scratch grows to the step's size
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 40; ++i) (*e)->DecodeBatch(ptrs);  // crosses KV page boundaries (16 tokens a page)
  g_counting = false;
  for (Sequence* s : ptrs) {
    CHECK(!s->finished());
    CHECK(s->result().ids.size() == 45);
  }
  MESSAGE("allocations in 40 decode steps of 4 sequences: " << g_allocations.load());
  CHECK(g_allocations.load() == 0);
}

}  // namespace
}  // namespace glmv
