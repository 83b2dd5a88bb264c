// config.json parsing: the released GLM-4.5V config from ../shared/ref (the executable skips, exit 77, without
// it) parses to the documented values.
#include <doctest/doctest.h>

#include <filesystem>

#include "lib/model/config.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

TEST_CASE("the released GLM-4.5V config (from ../shared/ref)") {
  const auto path = test::SharedDir() / "ref" / "glm-4.5v" / "glm-4.5v" / "config.as-reported.json";
  REQUIRE_MESSAGE(std::filesystem::exists(path), path.string() << " is missing from ../shared");
  auto c = LoadModelConfig(path.string());
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  const TextConfig& t = c->text;
  CHECK(t.vocab_size == 151552);
  CHECK(t.num_hidden_layers == 46);
  CHECK(t.q_width() == 12288);
  CHECK(t.rotary_dim() == 64);
  CHECK(t.mrope_section == std::vector<int64_t>{8, 12, 12});
  CHECK(t.n_routed_experts == 128);
  CHECK(t.num_experts_per_tok == 8);
  CHECK(t.first_k_dense_replace == 1);
  CHECK(t.eos_token_ids == std::vector<int64_t>{151329, 151336, 151338});
  CHECK(c->vision.out_hidden_size == 4096);
}

}  // namespace
}  // namespace glmv
