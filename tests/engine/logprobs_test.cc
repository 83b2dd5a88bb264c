// OpenAI's logprobs through the engine on the tiny model: each generated token's log-probability is the raw
// model's (the log-softmax of the reference's logits at that step, whatever the sampling settings), greedy
// picks the top-1, the top list is sorted and holds at most all of the probability; an eos that ends the run
// is not listed; and the vision tower's count of encoded images leaves out an image shared from the prefix
// cache.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "tests/engine/tiny_engine.h"

namespace glmv {
namespace {

const auto kTiny = test::TinyDir();
std::vector<int64_t> Ids(const std::string& name) { return test::TinyIds(name); }
std::unique_ptr<Engine> NewEngine() { return test::TinyEngine(); }

GenerateRequest TextRequest(size_t top) {
  GenerateRequest r;
  r.prompt = Ids("case5_generate_text__input_ids.npy");
  r.max_tokens = Ids("case5_generate_text__generated_ids.npy").size();
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  r.logprobs = true;
  r.top_logprobs = top;
  return r;
}

TEST_CASE("logprobs are the raw model's: log-softmax of the reference's logits; greedy takes the top-1") {
  auto e = NewEngine();
  auto ref = ReadNpy((kTiny / "case5_generate_text__step_logits.npy").string());
  REQUIRE(ref.ok());
  const std::vector<float> logits = ref->ToFloat();
  const size_t vocab = static_cast<size_t>(e->model().config().vocab_size);
  auto got = e->Generate(TextRequest(5));
  REQUIRE(got.ok());
  const auto want_ids = Ids("case5_generate_text__generated_ids.npy");
  CHECK(got->ids == want_ids);
  REQUIRE(got->logprobs.size() == got->ids.size());
  double worst = 0;
  for (size_t step = 0; step < got->ids.size(); ++step) {
    const TokenLogprob& t = got->logprobs[step];
    const float* row = logits.data() + step * vocab;
    double z = 0;
    const float mx = *std::max_element(row, row + vocab);
    for (size_t i = 0; i < vocab; ++i) z += std::exp(static_cast<double>(row[i]) - mx);
    const double want = row[t.id] - mx - std::log(z);
    worst = std::max(worst, std::fabs(want - t.logprob));
    CHECK(t.id == got->ids[step]);
    CHECK(t.logprob <= 0.0f);
    REQUIRE(t.top.size() == 5);
    CHECK(t.top[0].first == t.id);  // greedy: the chosen token is the most likely one
    CHECK(t.top[0].second == doctest::Approx(t.logprob));
    double mass = 0;
    for (size_t k = 0; k < t.top.size(); ++k) {
      mass += std::exp(static_cast<double>(t.top[k].second));
      if (k > 0) CHECK(t.top[k].second <= t.top[k - 1].second);
    }
    CHECK(mass <= 1.0 + 1e-6);
  }
  MESSAGE("logprobs differ from the reference's log-softmax by at most " << worst);
  CHECK(worst <= 1e-4);
}

TEST_CASE("logprobs do not depend on temperature; the eos that ends a run is not listed") {
  auto e = NewEngine();
  auto greedy = e->Generate(TextRequest(3));
  REQUIRE(greedy.ok());
  e->ResetCache();
  GenerateRequest hot = TextRequest(3);
  hot.sampling.temperature = 1.7f;
  hot.sampling.top_p = 0.5f;
  hot.sampling.seed = 11;
  auto sampled = e->Generate(hot);
  REQUIRE(sampled.ok());
  // The first token's distribution is the same prompt's: same top list, whatever was sampled from it.
  REQUIRE(!sampled->logprobs.empty());
  CHECK(sampled->logprobs[0].top == greedy->logprobs[0].top);

  GenerateRequest until_eos = TextRequest(0);
  until_eos.ignore_eos = false;
  until_eos.max_tokens = 200;
  until_eos.sampling.temperature = 1.0f;
  const auto& eos = e->model().config().eos_token_ids;
  bool ended_by_eos = false;
  for (uint64_t seed = 0; seed < 20 && !ended_by_eos; ++seed) {
    until_eos.sampling.seed = seed;
    auto r = e->Generate(until_eos);
    REQUIRE(r.ok());
    if (r->finish != FinishReason::kEos) continue;
    ended_by_eos = true;
    CHECK(std::find(eos.begin(), eos.end(), r->ids.back()) != eos.end());
    CHECK(r->logprobs.size() == r->ids.size() - 1);
    for (const TokenLogprob& t : r->logprobs) CHECK(t.top.empty());
  }
  CHECK(ended_by_eos);
}

TEST_CASE("images_encoded counts the images the vision tower ran, not one shared from the prefix cache") {
  auto e = NewEngine();
  GenerateRequest r = test::TinyImageRequest();
  r.max_tokens = 2;
  CHECK(e->images_encoded() == 0);
  REQUIRE(e->Generate(r).ok());
  CHECK(e->images_encoded() == 1);
  REQUIRE(e->Generate(r).ok());  // the same picture: shared, not run again
  CHECK(e->images_encoded() == 1);
  r.visual.image_pixels[0] += 0.5f;
  REQUIRE(e->Generate(r).ok());
  CHECK(e->images_encoded() == 2);
  CHECK(e->videos_encoded() == 0);
}

}  // namespace
}  // namespace glmv
