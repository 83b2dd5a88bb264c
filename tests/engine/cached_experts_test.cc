// Routed experts from the expert cache through the engine (issue 14's acceptance): several sequences at
// once, in prefill chunks beside the others' decode rows, through a cache that holds fewer experts than one
// step touches (so each MoE layer runs in several groups of acquires) with prefetch one layer ahead, give
// the mapped run's logits and ids bit for bit, with pread and with io_uring, on the tiny golden model
// converted to .glmv and on a synthetic model the test writes; misses, evictions, reader bytes and the
// prefetch prediction counters are above zero (and the used predictions within their denominators), and the
// experts' units in the mapping are unreachable. Caches of one and two slots (groups of one and two
// experts), and one of four under the frequency-aware policy, give the same bits without deadlocking
// against their prefetches. Models and options the cache cannot serve are refused at load.
#include <doctest/doctest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "lib/engine/engine.h"
#include "lib/tools/convert.h"
#include "tests/engine/golden_cases.h"
#include "tests/experts/tiny_glmv.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using test::GoldenCases;
using test::NewEngine;
using test::Recorder;

// Every request at once (RunToCompletion's scheduler): each one's logits rows and ids.
struct Run {
  std::vector<std::vector<std::vector<float>>> logits;
  std::vector<std::vector<int64_t>> ids;
};
Run RunAll(Engine& engine, const std::vector<GenerateRequest>& requests) {
  Run run;
  run.logits.resize(requests.size());
  std::vector<std::unique_ptr<Sequence>> seqs;
  std::vector<Sequence*> ptrs;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto s = engine.Start(requests[i]);
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

std::vector<GenerateRequest> GoldenRequests(const Engine& engine) {
  std::vector<GenerateRequest> requests;
  for (auto& g : GoldenCases(static_cast<size_t>(engine.model().config().vocab_size))) requests.push_back(g.request);
  return requests;
}

// Every golden prompt at once, in chunks of 5 tokens (× 2 experts of 8) beside the other sequences' rows:
// most steps touch 5 experts or more.
EngineOptions GoldenBatchOptions() {
  EngineOptions options;
  options.prefill_chunk = 5;
  options.max_sequences = 8;
  return options;
}

// Ids and every logits row equal, bit for bit.
void CheckSame(const Run& got, const Run& want) {
  REQUIRE(got.logits.size() == want.logits.size());
  for (size_t i = 0; i < want.logits.size(); ++i) {
    CAPTURE(i);
    CHECK(got.ids[i] == want.ids[i]);
    REQUIRE(got.logits[i].size() == want.logits[i].size());
    size_t differ = 0;
    for (size_t step = 0; step < want.logits[i].size(); ++step) differ += got.logits[i][step] != want.logits[i][step];
    CHECK(differ == 0);
  }
}

// What a cached run must show: it missed, evicted and read, and its predictions were scored.
void CheckStats(const ExpertCacheStats& s, const char* what) {
  MESSAGE(std::string(what) << ": " << s.slots << " slots, " << s.acquires << " acquires, " << s.hits << " hits, " << s.waits
               << " waits, " << s.misses << " misses, " << s.evictions << " evictions, " << s.reader.bytes
               << " bytes read (" << s.reader.uring_reads << " by io_uring); prefetch " << s.prefetch_issued
               << " read, " << s.prefetch_useful << " useful, " << s.prefetch_dropped << " dropped; predicted "
               << s.prefetch_predicted << ", used " << s.prefetch_predicted_used << " of " << s.acquired_after_prediction
               << " acquired after a prediction (precision " << s.PrefetchPrecision() << ", recall "
               << s.PrefetchRecall() << ")");
  CHECK(s.misses > 0);
  CHECK(s.evictions > 0);
  CHECK(s.reader.bytes > 0);
  CHECK(s.hits + s.waits + s.misses == s.acquires);
  CHECK(s.prefetch_predicted > 0);
  CHECK(s.prefetch_predicted_used > 0);
  CHECK(s.acquired_after_prediction > 0);
  CHECK(s.prefetch_predicted_used <= s.prefetch_predicted);
  CHECK(s.prefetch_predicted_used <= s.acquired_after_prediction);
  CHECK(s.acquired_after_prediction <= s.acquires);
  CHECK(s.prefetch_useful <= s.prefetch_issued);
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

// The mapped run and cached runs with pread and io_uring of `requests` on `model`: bit-identical, with the
// cache holding `slots` slots (fewer than one step's experts) and prefetching.
void CompareCached(const std::string& model, const EngineOptions& options, size_t slots,
                   const std::vector<GenerateRequest>& requests) {
  const Run mapped = [&] {
    auto engine = NewEngine(model, options);
    CHECK(engine->cached_experts() == nullptr);
    return RunAll(*engine, requests);
  }();
  CHECK(HiddenMappings(model) == 0);
  for (const bool uring : {false, true}) {
    CAPTURE(uring);
    EngineOptions cached_options = options;
    cached_options.expert_cache.budget_bytes = slots * SlotBytes(model);
    cached_options.expert_cache.reader.io_uring = uring;
    auto engine = NewEngine(model, cached_options);
    const CachedExperts* cache = engine->cached_experts();
    REQUIRE(cache != nullptr);
    CHECK(cache->slots() == slots);
    CHECK(cache->max_held() < cache->slots());  // room kept for reads ahead
    CHECK(cache->wants_prefetch());
    for (const auto& note : cache->notes()) MESSAGE(note);
    CHECK(HiddenMappings(model) > 0);  // the units in the mapping: touching one would crash
    CheckSame(RunAll(*engine, requests), mapped);
    const ExpertCacheStats s = cache->stats();
    CheckStats(s, uring ? "io_uring" : "pread");
    if (uring && cache->reader().uses_io_uring()) CHECK(s.reader.uring_reads > 0);
    if (!uring) CHECK(s.reader.uring_reads == 0);
  }
}

TEST_CASE("every golden prompt at once through a 5-slot expert cache with prefetch: logits and ids bit-identical to mapped") {
  test::TempDir dir;
  const std::string model = ConvertTiny(dir);
  const EngineOptions options = GoldenBatchOptions();
  const auto requests = GoldenRequests(*NewEngine(model, options));
  CompareCached(model, options, 5, requests);  // groups of at most 4 experts (one slot kept for reads ahead)
}

TEST_CASE("the vision tower's share lent by the expert cache while images encode: bit-identical, slots back after") {
  test::TempDir dir;
  const std::string model = ConvertTiny(dir);
  const EngineOptions options = GoldenBatchOptions();
  const auto requests = GoldenRequests(*NewEngine(model, options));
  REQUIRE(std::any_of(requests.begin(), requests.end(), [](const GenerateRequest& r) { return !r.visual.empty(); }));
  const Run mapped = RunAll(*NewEngine(model, options), requests);
  EngineOptions lending = options;
  lending.expert_cache.budget_bytes = 6 * SlotBytes(model);
  lending.vision_lend_bytes = size_t{1} << 30;  // more than the cache: all but num_experts_per_tok slots go
  auto engine = NewEngine(model, lending);
  const CachedExperts* cache = engine->cached_experts();
  REQUIRE(cache != nullptr);
  CheckSame(RunAll(*engine, requests), mapped);
  const ExpertCacheStats s = cache->stats();
  CheckStats(s, "lending");
  CHECK(s.loans > 0);        // the images' encodes parked slots...
  CHECK(cache->parked() == 0);  // ...and the slots came back after
  CHECK(cache->max_held() == 6 - 6 / 4);
}

// The tiny config widened to 16 experts (4 per token) over 4 layers, written as a random-weight .glmv by
// glmv synth's writer into `dir` (a few MB).
std::string WriteSynthModel(const test::TempDir& dir) {
  std::ifstream in(test::TinyDir() / "config.json");
  std::stringstream text;
  text << in.rdbuf();
  std::string json = text.str();
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = json.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, from);
    json.replace(at, from.size(), to);
  };
  replace("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 4");
  replace("\"num_experts_per_tok\": 2", "\"num_experts_per_tok\": 4");
  replace("\"n_routed_experts\": 8", "\"n_routed_experts\": 16");
  replace("\"moe_intermediate_size\": 32", "\"moe_intermediate_size\": 64");
  const auto config_path = dir / "config.json";
  std::ofstream(config_path) << json;
  const std::string path = test::WriteSynthGlmv(dir, config_path, "synth.glmv", 21);
  CHECK(std::filesystem::file_size(path) < 20u << 20);
  return path;
}

TEST_CASE("three sequences on a synthetic 16-expert model through a 6-slot cache with prefetch: bit-identical to mapped") {
  test::TempDir dir;
  const std::string model = WriteSynthModel(dir);
  EngineOptions options;
  options.prefill_chunk = 8;
  options.max_sequences = 4;
  std::mt19937 rng(9);
  std::vector<GenerateRequest> requests;
  for (const size_t length : {20, 9, 13}) {
    GenerateRequest r;
    for (size_t i = 0; i < length; ++i) r.prompt.push_back(static_cast<int64_t>(rng() % 280));  // below the special ids
    r.sampling.temperature = 0;
    r.ignore_eos = true;
    r.max_tokens = 6;
    requests.push_back(std::move(r));
  }
  CompareCached(model, options, 6, requests);  // groups of at most 5 of the 16 experts, 3 layers of them
}

TEST_CASE("caches of 1, 2 and 4 slots run groups of 1, 2 and 3 experts beside their prefetches: same bits, no deadlock") {
  test::TempDir dir;
  const std::string model = ConvertTiny(dir);
  EngineOptions options;
  options.prefill_chunk = 4;
  auto golden = GoldenRequests(*NewEngine(model, options));
  const std::vector<GenerateRequest> requests = {golden[0], golden[4]};  // text prefill and text generation
  const Run mapped = RunAll(*NewEngine(model, options), requests);
  // 2: the experts one token picks per layer, the smallest budget planned. 4, with the frequency-aware
  // policy: groups of 3.
  for (const auto& [slots, policy] : {std::pair<size_t, const char*>{1, "lru-per-layer"}, {2, "lru-per-layer"},
                                      {4, "lfu-decay-per-layer"}}) {
    CAPTURE(slots);
    const std::string policy_name = policy;
    CAPTURE(policy_name);
    EngineOptions cached_options = options;
    cached_options.expert_cache.budget_bytes = slots * SlotBytes(model);
    cached_options.expert_cache.policy = ExpertCachePolicyByName(policy);
    auto engine = NewEngine(model, cached_options);
    REQUIRE(engine->cached_experts()->slots() == slots);
    CHECK(std::string(engine->cached_experts()->policy_name()) == policy);
    CHECK(engine->cached_experts()->max_held() == slots - slots / 4);
    CheckSame(RunAll(*engine, requests), mapped);
    const ExpertCacheStats s = engine->cached_experts()->stats();
    MESSAGE(slots << " slots: " << s.misses << " misses, " << s.prefetch_issued << " prefetched, " << s.prefetch_dropped
                  << " prefetch hints dropped");
    CHECK(s.misses > 0);
    CHECK(s.evictions > 0);
  }
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
