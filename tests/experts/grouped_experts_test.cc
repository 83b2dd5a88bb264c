// Grouped acquires and prefetch one layer ahead (issue 14), below the engine: a forward through a source
// that lets a step hold only 1, 2 or 3 experts at once gives the unlimited source's logits bit for bit while
// never holding more and splitting each layer into several groups; PredictExperts on a layer's own input is
// exactly its routing; the cache's max_held leaves room for reads ahead, and its prediction counters score
// each Prefetch call against the layer's next acquires.
#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "lib/experts/cached_experts.h"
#include "lib/text/expert_prediction.h"
#include "lib/text/text_model.h"
#include "tests/experts/tiny_glmv.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

// Forwards to `inner`, lets a step hold at most `limit` experts, and watches how many it holds at once.
class LimitedExperts final : public ExpertSource {
 public:
  LimitedExperts(ExpertSource& inner, size_t limit) : inner_(inner), limit_(limit) {}
  Result<const MlpWeights*> Acquire(size_t layer, size_t expert) override {
    if (held_ == 0) ++groups;
    ++held_;
    most_held = std::max(most_held, held_);
    return inner_.Acquire(layer, expert);
  }
  void Release(size_t layer, size_t expert) override {
    --held_;
    inner_.Release(layer, expert);
  }
  void Prefetch(size_t layer, std::span<const int64_t> experts) override {
    ++prefetches;
    predicted[layer].insert(experts.begin(), experts.end());
    inner_.Prefetch(layer, experts);
  }
  size_t max_held() const override { return limit_; }
  bool wants_prefetch() const override { return true; }

  size_t groups = 0, most_held = 0, prefetches = 0;
  std::map<size_t, std::set<int64_t>> predicted;
  size_t held() const { return held_; }

 private:
  ExpertSource& inner_;
  size_t limit_;
  size_t held_ = 0;
};

struct Tiny {
  std::unique_ptr<TextModel> model;
  std::vector<std::span<const MlpWeights>> per_layer;
};

Tiny LoadTiny(const std::string& path) {
  auto m = TextModel::Load(path);
  REQUIRE_MESSAGE(m.ok(), m.status().message());
  Tiny t{std::move(m).value(), {}};
  for (const auto& L : t.model->weights().layers) t.per_layer.emplace_back(L.experts);
  return t;
}

std::vector<int64_t> RandomIds(size_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> ids(n);
  for (auto& id : ids) id = static_cast<int64_t>(rng() % static_cast<uint32_t>(vocab));
  return ids;
}

// All logits of one prefill of `ids` through `source` (null: the model's mapped experts); the trace if asked.
std::vector<float> Prefill(const TextModel& model, std::span<const int64_t> ids, ExpertSource* source,
                           TextTrace* trace = nullptr) {
  const size_t n = ids.size(), H = static_cast<size_t>(model.config().hidden_size);
  std::vector<float> x(n * H), logits;
  REQUIRE(model.Embed(ids, x.data()).ok());
  auto cache = model.NewCache(n);
  REQUIRE(cache.ok());
  ForwardOptions fo;
  fo.experts = source;
  fo.trace = trace;
  const Status st = model.Forward(x.data(), n, MRopePositions::Text(0, n), *cache, true, logits, fo);
  REQUIRE_MESSAGE(st.ok(), st.message());
  return logits;
}

TEST_CASE("a step holding at most 1, 2 or 3 experts gives the unlimited source's logits bit for bit") {
  test::TempDir dir;
  const Tiny t = LoadTiny(test::WriteTinySynthGlmv(dir));
  const auto ids = RandomIds(24, t.model->config().vocab_size, 3);  // 24 tokens × 2 of 8 experts: all 8 touched
  MappedExperts mapped(t.per_layer);
  LimitedExperts unlimited(mapped, std::numeric_limits<size_t>::max());
  TextTrace trace;
  const std::vector<float> want = Prefill(*t.model, ids, &unlimited, &trace);
  CHECK(want == Prefill(*t.model, ids, nullptr));  // the watcher itself changes nothing
  std::vector<size_t> touched;  // per MoE layer, its experts with tokens
  for (const auto& layer_ids : trace.topk_ids) {
    if (!layer_ids.empty()) touched.push_back(std::set<int64_t>(layer_ids.begin(), layer_ids.end()).size());
  }
  REQUIRE(touched.size() == 2);
  CHECK(touched[0] + touched[1] >= 14);
  CHECK(unlimited.groups == 2);  // one per MoE layer
  for (const size_t limit : {1, 2, 3}) {
    CAPTURE(limit);
    LimitedExperts limited(mapped, limit);
    const std::vector<float> got = Prefill(*t.model, ids, &limited);
    REQUIRE(got.size() == want.size());
    size_t differ = 0;
    for (size_t i = 0; i < got.size(); ++i) differ += got[i] != want[i];
    MESSAGE("groups of " << limit << ": " << limited.groups << " groups, " << differ << " logits differ");
    CHECK(differ == 0);
    CHECK(limited.most_held == limit);
    CHECK(limited.held() == 0);
    CHECK(limited.groups == (touched[0] + limit - 1) / limit + (touched[1] + limit - 1) / limit);
    // Prefetch hints went to the next MoE layers only (layer 0 is dense: it predicts layer 1, layer 1 predicts 2).
    CHECK(limited.prefetches == 2);
    CHECK(limited.predicted.count(0) == 0);
    CHECK(limited.predicted.count(1) == 1);
    CHECK(limited.predicted.count(2) == 1);
  }
}

TEST_CASE("groups: NextExpertGroup skips experts without tokens and counts only those with") {
  std::vector<std::vector<std::pair<uint32_t, float>>> per_expert(7);
  for (const size_t e : {1, 2, 4, 6}) per_expert[e].push_back({0, 1.0f});
  ExpertGroup g = NextExpertGroup(per_expert, 0, 2);
  CHECK(g.begin == 1);
  CHECK(g.end == 3);
  g = NextExpertGroup(per_expert, g.end, 2);
  CHECK(g.begin == 4);
  CHECK(g.end == 7);
  g = NextExpertGroup(per_expert, g.end, 2);
  CHECK(g.begin == 7);
  CHECK(g.end == 7);
  g = NextExpertGroup(per_expert, 0, 0);  // at least one
  CHECK(g.end - g.begin == 1);
  g = NextExpertGroup(per_expert, 0, std::numeric_limits<size_t>::max());
  CHECK(g.begin == 1);
  CHECK(g.end == 7);
}

TEST_CASE("PredictExperts applied to a layer's own MLP input is exactly that layer's routing") {
  test::TempDir dir;
  const Tiny t = LoadTiny(test::WriteTinySynthGlmv(dir));
  const TextConfig& c = t.model->config();
  const size_t H = static_cast<size_t>(c.hidden_size);
  const auto ids = RandomIds(6, c.vocab_size, 11);
  TextTrace trace;
  (void)Prefill(*t.model, ids, nullptr, &trace);
  // Layer 2's MLP input is RmsNorm(layer 1's output + layer 2's attention), which the trace does not hold;
  // any x will do: the prediction and RouteTokens must agree on it.
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(ids.size() * H);
  for (float& v : x) v = normal(rng);
  LinearContext cx;
  for (const size_t layer : {1, 2}) {
    CAPTURE(layer);
    MoeScratch moe;
    RouteTokens(cx, c, t.model->weights().layers[layer], x.data(), ids.size(), moe);
    std::vector<int64_t> want;
    for (size_t e = 0; e < moe.per_expert.size(); ++e) {
      if (!moe.per_expert[e].empty()) want.push_back(static_cast<int64_t>(e));
    }
    ExpertPrediction p;
    const auto got = PredictExperts(cx, c, t.model->weights().layers[layer], x.data(), ids.size(), p);
    CHECK(std::vector<int64_t>(got.begin(), got.end()) == want);
    CHECK(want.size() >= 2);
    // One token: exactly its k experts.
    const auto one = PredictExperts(cx, c, t.model->weights().layers[layer], x.data(), 1, p);
    CHECK(one.size() == static_cast<size_t>(c.num_experts_per_tok));
    // top = 1: the one token's heaviest choice, which is the largest routing weight RouteTokens gave it.
    const std::vector<int64_t> one_all(one.begin(), one.end());
    const auto heaviest = PredictExperts(cx, c, t.model->weights().layers[layer], x.data(), 1, p, 1);
    REQUIRE(heaviest.size() == 1);
    int64_t best = -1;
    float best_w = -1;
    for (size_t i = 0; i < static_cast<size_t>(c.num_experts_per_tok); ++i) {
      if (moe.weights[i] > best_w) best_w = moe.weights[i], best = moe.ids[i];
    }
    CHECK(heaviest[0] == best);
    // Every token's top choices are a subset of its full choices.
    const auto top2 = PredictExperts(cx, c, t.model->weights().layers[layer], x.data(), ids.size(), p, 2);
    CHECK(top2.size() <= 2 * ids.size());
    for (const int64_t e : top2) CHECK(std::find(want.begin(), want.end(), e) != want.end());
  }
}

size_t GroupSlotBytes(const ModelFile& file) {
  size_t most = 0;
  for (const auto& u : file.units()) most = std::max(most, (u.bytes.size() + 4095) / 4096 * 4096);
  return most;
}

TEST_CASE("the cache's max_held keeps a quarter of the slots for reads ahead; prediction counters score each hint") {
  test::TempDir dir;
  const Tiny t = LoadTiny(test::WriteTinySynthGlmv(dir));
  const ModelFile& file = *t.model->storage().checkpoint->model_file();
  CachedExpertsOptions o;
  o.budget_bytes = 8 * GroupSlotBytes(file);
  auto cache = CachedExperts::Create(file, t.per_layer, o);
  REQUIRE(cache.ok());
  CHECK((*cache)->max_held() == 6);
  CHECK((*cache)->wants_prefetch());
  o.prefetch = false;
  auto quiet = CachedExperts::Create(file, t.per_layer, o);
  REQUIRE(quiet.ok());
  CHECK((*quiet)->max_held() == 8);
  CHECK(!(*quiet)->wants_prefetch());
  o.prefetch = true;
  o.budget_bytes = 2 * GroupSlotBytes(file);
  auto two = CachedExperts::Create(file, t.per_layer, o);
  REQUIRE(two.ok());
  CHECK((*two)->max_held() == 2);
  o.budget_bytes = GroupSlotBytes(file);
  auto one = CachedExperts::Create(file, t.per_layer, o);
  REQUIRE(one.ok());
  CHECK((*one)->max_held() == 1);
  CHECK(MappedExperts().max_held() == std::numeric_limits<size_t>::max());
  CHECK(!MappedExperts().wants_prefetch());

  CachedExperts& c = **cache;
  auto use = [&](size_t layer, std::initializer_list<size_t> experts) {
    for (const size_t e : experts) {
      REQUIRE(c.Acquire(layer, e).ok());
      c.Release(layer, e);
    }
  };
  use(1, {0, 1});  // no prediction for layer 1 yet: not scored
  ExpertCacheStats s = c.stats();
  CHECK(s.prefetch_predicted == 0);
  CHECK(s.acquired_after_prediction == 0);
  const int64_t guess[] = {2, 3, 3, 5, 9, -1};  // 3 twice, 9 and -1 out of range: 3 predicted
  c.Prefetch(1, guess);
  c.WaitForPrefetch();
  use(1, {3, 4, 3, 5});  // 3 and 5 predicted and used, 4 not predicted; 3's second acquire is not counted again
  s = c.stats();
  CHECK(s.prefetch_predicted == 3);
  CHECK(s.prefetch_predicted_used == 2);
  CHECK(s.acquired_after_prediction == 3);
  CHECK(s.PrefetchPrecision() == doctest::Approx(2.0 / 3.0));
  CHECK(s.PrefetchRecall() == doctest::Approx(2.0 / 3.0));
  const int64_t next[] = {2};  // a new prediction for layer 1: the old one's marks go
  c.Prefetch(1, next);
  use(1, {3, 2});
  s = c.stats();
  CHECK(s.prefetch_predicted == 4);
  CHECK(s.prefetch_predicted_used == 3);
  CHECK(s.acquired_after_prediction == 5);
  CHECK(s.prefetch_predicted_used <= s.prefetch_predicted);
  CHECK(s.prefetch_predicted_used <= s.acquired_after_prediction);
}

}  // namespace
}  // namespace glmv
