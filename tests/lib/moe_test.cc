// Expert selection (spec §2.6) on hand-made router logits: the correction bias picks experts but does not
// weigh them; normalisation, scaling and group limits as configured.
#include <doctest/doctest.h>

#include <cmath>

#include "lib/text/moe.h"

namespace glmv {
namespace {

TextConfig Router(int64_t experts, int64_t k, int64_t groups = 1, int64_t topk_groups = 1) {
  TextConfig c;
  c.n_routed_experts = experts;
  c.num_experts_per_tok = k;
  c.n_group = groups;
  c.topk_group = topk_groups;
  return c;
}

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

TEST_CASE("correction bias selects, uncorrected scores weigh") {
  TextConfig c = Router(4, 2);
  c.routed_scaling_factor = 2.5;
  const float logits[4] = {2.0f, 1.0f, 0.0f, -1.0f};
  const float bias[4] = {0.0f, 0.0f, 0.0f, 0.6f};  // lifts expert 3 past expert 1
  int64_t ids[2];
  float w[2];
  SelectExperts(c, logits, bias, ids, w);
  CHECK(ids[0] == 0);
  CHECK(ids[1] == 3);
  const float s0 = Sigmoid(2.0f), s3 = Sigmoid(-1.0f);
  CHECK(w[0] == doctest::Approx(2.5f * s0 / (s0 + s3)));
  CHECK(w[1] == doctest::Approx(2.5f * s3 / (s0 + s3)));
}

TEST_CASE("without norm_topk_prob the weights are the raw scores times the scale") {
  TextConfig c = Router(3, 2);
  c.norm_topk_prob = false;
  c.routed_scaling_factor = 1.5;
  const float logits[3] = {0.5f, -0.5f, 1.5f};
  const float bias[3] = {0, 0, 0};
  int64_t ids[2];
  float w[2];
  SelectExperts(c, logits, bias, ids, w);
  CHECK(ids[0] == 2);
  CHECK(ids[1] == 0);
  CHECK(w[0] == doctest::Approx(1.5f * Sigmoid(1.5f)));
  CHECK(w[1] == doctest::Approx(1.5f * Sigmoid(0.5f)));
}

TEST_CASE("group-limited routing keeps the best groups by the sum of their top two") {
  // 3 groups of 2. Group scores (top-2 sums): g0 = s(3)+s(-3), g1 = s(1)+s(1), g2 = s(0)+s(0).
  // g1 > g0 (0.73+0.73 > 0.95+0.05) and g2 = 1.0, so with topk_group 1 only group 1 survives even though
  // expert 0 has the single best score.
  TextConfig c = Router(6, 2, 3, 1);
  const float logits[6] = {3.0f, -3.0f, 1.0f, 1.0f, 0.0f, 0.0f};
  const float bias[6] = {0, 0, 0, 0, 0, 0};
  int64_t ids[2];
  float w[2];
  SelectExperts(c, logits, bias, ids, w);
  CHECK(ids[0] == 2);
  CHECK(ids[1] == 3);  // ties go to the lower id first
  CHECK(w[0] == doctest::Approx(0.5f));
}

}  // namespace
}  // namespace glmv
