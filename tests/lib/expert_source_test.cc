// The forward reaches routed experts only through an ExpertSource: a counting source sees every expert the
// router chose acquired and released once per MoE layer, the logits are the mapped source's, and a source
// that fails makes the forward fail with its message (the process lives).
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "io/npy.h"
#include "lib/experts/resident_experts.h"
#include "lib/text/text_model.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

const auto kTinyDir = test::DataDir() / "tiny-glm4v-moe";

class CountingExperts : public ExpertSource {
 public:
  explicit CountingExperts(ExpertSource& inner) : inner_(inner) {}
  Result<const MlpWeights*> Acquire(size_t layer, size_t expert) override {
    if (fail) return Status::Error("expert unit " + std::to_string(expert) + " of layer " + std::to_string(layer) + ": read failed");
    ++held[{layer, expert}];
    ++acquires;
    acquired[layer].insert(static_cast<int64_t>(expert));
    return inner_.Acquire(layer, expert);
  }
  void Release(size_t layer, size_t expert) override {
    --held[{layer, expert}];
    ++releases;
    inner_.Release(layer, expert);
  }
  void Prefetch(size_t, std::span<const int64_t>) override {}

  bool fail = false;
  size_t acquires = 0, releases = 0;
  std::map<std::pair<size_t, size_t>, int> held;
  std::map<size_t, std::set<int64_t>> acquired;

 private:
  ExpertSource& inner_;
};

TEST_CASE("routed experts come only through the ExpertSource, each acquired once per layer and released") {
  auto m = TextModel::Load(kTinyDir.string());
  REQUIRE(m.ok());
  const TextModel& model = **m;
  auto npy = ReadNpy((kTinyDir / "case1_text__input_ids.npy").string());
  REQUIRE(npy.ok());
  const auto ids = npy->ToInt64();
  const size_t n = ids.size(), H = static_cast<size_t>(model.config().hidden_size);
  auto run = [&](ExpertSource* source, std::vector<float>& logits, TextTrace* trace) {
    std::vector<float> x(n * H);
    REQUIRE(model.Embed(ids, x.data()).ok());
    auto cache = model.NewCache(n);
    REQUIRE(cache.ok());
    ForwardOptions fo;
    fo.experts = source;
    fo.trace = trace;
    return model.Forward(x.data(), n, MRopePositions::Text(0, n), *cache, true, logits, fo);
  };
  std::vector<float> mapped_logits, counted_logits;
  TextTrace trace;
  REQUIRE(run(nullptr, mapped_logits, &trace).ok());

  std::vector<std::span<const MlpWeights>> per_layer;
  for (const auto& L : model.weights().layers) per_layer.emplace_back(L.experts);
  MappedExperts mapped(per_layer);
  CountingExperts counting(mapped);
  REQUIRE(run(&counting, counted_logits, nullptr).ok());
  CHECK(counted_logits == mapped_logits);
  CHECK(counting.acquires > 0);
  CHECK(counting.acquires == counting.releases);
  for (const auto& [key, count] : counting.held) CHECK(count == 0);
  for (size_t l = 0; l < trace.topk_ids.size(); ++l) {
    const std::set<int64_t> chosen(trace.topk_ids[l].begin(), trace.topk_ids[l].end());
    CAPTURE(l);
    CHECK(counting.acquired[l] == chosen);  // exactly the router's choices, no more
  }
  MESSAGE("experts acquired over the forward: " << counting.acquires);

  counting.fail = true;
  const Status st = run(&counting, counted_logits, nullptr);
  REQUIRE(!st.ok());
  CHECK(st.message().find("read failed") != std::string::npos);
  CHECK(counting.acquires == counting.releases);  // what was acquired before the failure is released
}

TEST_CASE("experts copied into RAM give the mapped experts' logits, and a float model's experts are refused") {
  auto m = TextModel::Load(kTinyDir.string());
  REQUIRE(m.ok());
  std::vector<std::span<const MlpWeights>> per_layer;
  for (const auto& L : (*m)->weights().layers) per_layer.emplace_back(L.experts);
  auto refused = ResidentExperts::Copy(per_layer);  // the tiny model is f32
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("int4/int8") != std::string::npos);
}

}  // namespace
}  // namespace glmv
