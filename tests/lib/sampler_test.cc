#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "lib/sampling/sampler.h"

namespace glmv {
namespace {

std::vector<float> Logits() { return {1.0f, 3.0f, 2.0f, 0.5f, 2.9f, -1.0f}; }

TEST_CASE("greedy picks the largest allowed logit") {
  SamplingParams p;
  p.temperature = 0;
  auto l = Logits();
  CHECK(Sampler(p, 6).Sample(l, {}) == 1);
  l = Logits();
  CHECK(Sampler(p, 1).Sample(l, {}) == 0);  // ids past the tokenizer are never chosen
}

TEST_CASE("the same seed gives the same sequence; another seed a different one") {
  SamplingParams p;
  p.seed = 42;
  auto run = [&](uint64_t seed) {
    p.seed = seed;
    Sampler s(p, 6);
    std::vector<int64_t> ids;
    for (int i = 0; i < 50; ++i) {
      auto l = Logits();
      ids.push_back(s.Sample(l, {}));
    }
    return ids;
  };
  CHECK(run(42) == run(42));
  CHECK(run(42) != run(43));
}

TEST_CASE("top-k, top-p and min-p restrict the candidates") {
  auto seen = [](SamplingParams p) {
    std::map<int64_t, int> counts;
    Sampler s(p, 6);
    for (int i = 0; i < 2000; ++i) {
      auto l = Logits();
      ++counts[s.Sample(l, {})];
    }
    return counts;
  };
  SamplingParams p;
  p.top_k = 2;
  auto k = seen(p);
  CHECK(k.size() == 2);
  CHECK(k.count(1) == 1);
  CHECK(k.count(4) == 1);
  p = {};
  p.top_p = 0.5f;  // p(1) ≈ 0.37, p(4) ≈ 0.33: both needed to reach 0.5
  auto tp = seen(p);
  CHECK(tp.size() == 2);
  p = {};
  p.min_p = 0.5f;  // keeps ids with p ≥ 0.5·p(1): 1, 4 (e^-0.1) and 2 (e^-1 ≈ 0.37 < 0.5 → out)
  auto mp = seen(p);
  CHECK(mp.size() == 2);
  p = {};
  auto all = seen(p);
  CHECK(all.size() >= 5);
}

TEST_CASE("penalties lower the logits of seen tokens") {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 2.0f;
  auto l = Logits();
  const int64_t history[] = {1, 1, 5};
  CHECK(Sampler(p, 6).Sample(l, history) == 4);  // 3.0/2 = 1.5 < 2.9
  CHECK(l[1] == doctest::Approx(1.5f));
  CHECK(l[5] == doctest::Approx(-2.0f));  // negative logits are multiplied
  p.repetition_penalty = 1.0f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  l = Logits();
  Sampler(p, 6).Sample(l, history);
  CHECK(l[1] == doctest::Approx(3.0f - 0.5f - 0.5f));
  CHECK(l[5] == doctest::Approx(-1.0f - 0.5f - 0.25f));
}

}  // namespace
}  // namespace glmv
