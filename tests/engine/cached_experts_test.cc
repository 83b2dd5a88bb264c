// Routed experts from the expert cache through the engine (issue 14's acceptance, on the tiny golden model
// converted to .glmv): every golden prompt at once, in 5-token prefill chunks beside the others' decode
// rows, through a cache of 8 slots for 16 experts, gives the mapped run's logits and ids bit for bit, with
// pread and with io_uring, while misses, evictions and reader bytes are all above zero and the experts'
// units in the mapping are unreachable. A budget below what one layer's step pins fails that step with the
// cache's error (the engine lives); models and options the cache cannot serve are refused at load.
#include <doctest/doctest.h>

#include <fstream>

#include "lib/engine/engine.h"
#include "lib/tools/convert.h"
#include "tests/engine/golden_cases.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using test::GoldenCases;
using test::NewEngine;
using test::Recorder;

// Every golden case at once (RunToCompletion's scheduler): each one's logits rows and ids.
struct Run {
  std::vector<std::vector<std::vector<float>>> logits;
  std::vector<std::vector<int64_t>> ids;
};
Run RunAll(Engine& engine) {
  const auto cases = GoldenCases(static_cast<size_t>(engine.model().config().vocab_size));
  Run run;
  run.logits.resize(cases.size());
  std::vector<std::unique_ptr<Sequence>> seqs;
  std::vector<Sequence*> ptrs;
  for (size_t i = 0; i < cases.size(); ++i) {
    auto s = engine.Start(cases[i].request);
    REQUIRE_MESSAGE(s.ok(), s.status().message());
    (*s)->AddLogitsProcessor(std::make_unique<Recorder>(&run.logits[i]));
    ptrs.push_back(s->get());
    seqs.push_back(std::move(s).value());
  }
  engine.RunToCompletion(ptrs);
  for (const auto& s : seqs) {
    REQUIRE_MESSAGE(s->status().ok(), s->status().message());
    run.ids.push_back(s->result().ids);
  }
  return run;
}

std::string ConvertTiny(const test::TempDir& dir) {
  const std::string model = (dir / "tiny.glmv").string();
  auto converted = ConvertModel(test::TinyDir().string(), model, ConvertOptions{}, [](const ConvertProgress&) { return Status::Ok(); });
  REQUIRE_MESSAGE(converted.ok(), converted.status().message());
  return model;
}

size_t SlotBytes(const std::string& model) {
  auto file = ModelFile::Open(model);
  REQUIRE(file.ok());
  size_t most = 0;
  for (const auto& u : file->units()) most = std::max(most, (u.bytes.size() + 4095) / 4096 * 4096);
  return most;
}

// Mappings of `path` in this process that nothing may touch (PROT_NONE), from /proc/self/maps.
size_t HiddenMappings(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  size_t hidden = 0;
  while (std::getline(maps, line)) {
    if (line.find(path) != std::string::npos && line.find(" ---s ") != std::string::npos) ++hidden;  // shared, no access
  }
  return hidden;
}

TEST_CASE("every golden prompt at once through an 8-slot expert cache: logits and ids bit-identical to mapped") {
  test::TempDir dir;
  const std::string model = ConvertTiny(dir);
  EngineOptions options;
  options.prefill_chunk = 5;
  options.max_sequences = 8;
  const Run mapped = [&] {
    auto engine = NewEngine(model, options);
    CHECK(engine->cached_experts() == nullptr);
    return RunAll(*engine);
  }();
  CHECK(HiddenMappings(model) == 0);
  for (const bool uring : {false, true}) {
    CAPTURE(uring);
    EngineOptions cached_options = options;
    cached_options.expert_cache.budget_bytes = 8 * SlotBytes(model);  // 2 MoE layers × 8 experts: half fit
    cached_options.expert_cache.reader.io_uring = uring;
    auto engine = NewEngine(model, cached_options);
    const CachedExperts* cache = engine->cached_experts();
    REQUIRE(cache != nullptr);
    CHECK(cache->slots() == 8);
    for (const auto& note : cache->notes()) MESSAGE(note);
    CHECK(HiddenMappings(model) > 0);  // the units in the mapping: touching one would crash
    const Run cached = RunAll(*engine);
    REQUIRE(cached.logits.size() == mapped.logits.size());
    for (size_t i = 0; i < mapped.logits.size(); ++i) {
      CAPTURE(i);
      CHECK(cached.ids[i] == mapped.ids[i]);
      REQUIRE(cached.logits[i].size() == mapped.logits[i].size());
      for (size_t step = 0; step < mapped.logits[i].size(); ++step) CHECK(cached.logits[i][step] == mapped.logits[i][step]);
    }
    const ExpertCacheStats s = cache->stats();
    MESSAGE(std::string(uring ? "io_uring" : "pread") << ": " << s.acquires << " acquires, " << s.hits << " hits, " << s.misses
                                           << " misses, " << s.evictions << " evictions, " << s.reader.bytes
                                           << " bytes read (" << s.reader.uring_reads << " reads by io_uring)");
    CHECK(s.misses > 0);
    CHECK(s.evictions > 0);
    CHECK(s.hits > 0);
    CHECK(s.reader.bytes > 0);
    CHECK(s.hits + s.waits + s.misses == s.acquires);
    if (uring && cache->reader().uses_io_uring()) CHECK(s.reader.uring_reads > 0);
    if (!uring) CHECK(s.reader.uring_reads == 0);
  }
}

TEST_CASE("a budget below what one layer's step pins fails that step with the cache's error, evicting nothing") {
  test::TempDir dir;
  const std::string model = ConvertTiny(dir);
  EngineOptions options;
  options.expert_cache.budget_bytes = SlotBytes(model);  // one slot; a token alone needs two experts per layer
  auto engine = NewEngine(model, options);
  REQUIRE(engine->cached_experts()->slots() == 1);
  test::GoldenCase g = GoldenCases(static_cast<size_t>(engine->model().config().vocab_size))[0];
  auto s = engine->Start(g.request);
  REQUIRE(s.ok());
  Sequence* one = s->get();
  engine->RunToCompletion(std::span<Sequence* const>(&one, 1));
  REQUIRE(!(*s)->status().ok());
  MESSAGE((*s)->status().message());
  CHECK((*s)->status().message().find("all its slots (1 of") != std::string::npos);
  CHECK((*s)->result().finish == FinishReason::kError);
  CHECK(engine->cached_experts()->stats().evictions == 0);
  // The engine lives on: the next request fails the same way, at its step.
  auto again = engine->Start(g.request);
  REQUIRE(again.ok());
  one = again->get();
  engine->RunToCompletion(std::span<Sequence* const>(&one, 1));
  CHECK((*again)->status().message().find("all its slots (1 of") != std::string::npos);
}

TEST_CASE("an expert cache is refused for a Hugging Face directory, beside --experts-in-ram, and below one expert") {
  EngineOptions options;
  options.expert_cache.budget_bytes = 1 << 20;
  auto hf = Engine::Load(test::TinyDir().string(), options);
  REQUIRE(!hf.ok());
  CHECK(hf.status().message().find(".glmv") != std::string::npos);

  test::TempDir dir;
  const std::string model = ConvertTiny(dir);
  EngineOptions both = options;
  both.experts_in_ram = true;
  auto refused = Engine::Load(model, both);
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("exclude") != std::string::npos);

  EngineOptions tiny_budget;
  tiny_budget.expert_cache.budget_bytes = 100;
  auto small = Engine::Load(model, tiny_budget);
  REQUIRE(!small.ok());
  CHECK(small.status().message().find("holds no expert") != std::string::npos);
}

}  // namespace
}  // namespace glmv
