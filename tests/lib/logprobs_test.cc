// RawLogprobs: the log-softmax at the chosen id and the most likely ids, sorted, ties to the lower id.
#include <doctest/doctest.h>

#include <cmath>

#include "lib/sampling/logprobs.h"

namespace glmv {
namespace {

TEST_CASE("RawLogprobs is the log-softmax at the chosen id, with the top ids most likely first") {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.5f, 3.0f, -1.0f};
  double z = 0;
  for (float l : logits) z += std::exp(static_cast<double>(l));
  std::vector<std::pair<float, int64_t>> scratch;
  const TokenLogprob t = RawLogprobs(logits, 2, 3, scratch);
  CHECK(t.id == 2);
  CHECK(t.logprob == doctest::Approx(2.0 - std::log(z)).epsilon(1e-6));
  REQUIRE(t.top.size() == 3);
  CHECK(t.top[0].first == 1);  // 3.0 twice: the lower id first
  CHECK(t.top[1].first == 4);
  CHECK(t.top[2].first == 2);
  CHECK(t.top[0].second == doctest::Approx(3.0 - std::log(z)).epsilon(1e-6));
  CHECK(t.top[2].second == doctest::Approx(t.logprob));
  double mass = 0;
  for (const auto& [id, lp] : RawLogprobs(logits, 0, 100, scratch).top) mass += std::exp(static_cast<double>(lp));
  CHECK(RawLogprobs(logits, 0, 100, scratch).top.size() == logits.size());  // at most every id
  CHECK(mass == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(RawLogprobs(logits, 5, 0, scratch).top.empty());
  CHECK(std::isinf(RawLogprobs(logits, 99, 0, scratch).logprob));  // no such id
}

TEST_CASE("RawLogprobs stays finite for large logits and keeps -infinity rows out of the top") {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {1000.0f, -inf, 999.0f};
  std::vector<std::pair<float, int64_t>> scratch;
  const TokenLogprob t = RawLogprobs(logits, 0, 2, scratch);
  CHECK(std::isfinite(t.logprob));
  CHECK(t.logprob <= 0.0f);
  REQUIRE(t.top.size() == 2);
  CHECK(t.top[1].first == 2);
}

}  // namespace
}  // namespace glmv
