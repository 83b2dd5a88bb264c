// config.json parsing: the tiny config parses to the documented values; broken or unsupported configs are
// errors naming the key. The real GLM-4.5V config from ../shared/ref is config_shared_test.cc.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "lib/model/config.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string ErrorOf(const std::string& json) {
  auto c = ParseModelConfig(json, "test.json");
  return c.ok() ? "" : c.status().message();
}

TEST_CASE("the tiny golden config") {
  auto c = LoadModelConfig((test::DataDir() / "tiny-glm4v-moe" / "config.json").string());
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  const TextConfig& t = c->text;
  CHECK(t.hidden_size == 64);
  CHECK(t.head_dim == 32);
  CHECK(t.rotary_dim() == 16);
  CHECK(t.mrope_section == std::vector<int64_t>{2, 3, 3});
  CHECK(t.routed_scaling_factor == 2.5);
  CHECK(t.eos_token_ids == std::vector<int64_t>{280, 287, 289});
  CHECK(c->has_vision);
  CHECK(c->vision.depth == 2);
  CHECK(c->image_token_id == 298);
}

TEST_CASE("broken configs name the problem") {
  const std::string tiny = Slurp(test::DataDir() / "tiny-glm4v-moe" / "config.json");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = tiny;
    const auto pos = s.find(from);
    REQUIRE(pos != std::string::npos);
    s.replace(pos, from.size(), to);
    return s;
  };
  CHECK(ErrorOf(tiny).empty());
  CHECK(ErrorOf("{not json").find("not a valid JSON object") != std::string::npos);
  CHECK(ErrorOf(with("\"hidden_size\": 64", "\"hidden_size\": \"64\"")).find("text_config.hidden_size must be an integer") !=
        std::string::npos);
  CHECK(ErrorOf(with("\"vocab_size\": 300,", "")).find("missing key text_config.vocab_size") != std::string::npos);
  CHECK(ErrorOf(with("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3")).find("multiple of num_key_value_heads") !=
        std::string::npos);
  CHECK(ErrorOf(with("\"num_experts_per_tok\": 2", "\"num_experts_per_tok\": 9")).find("num_experts_per_tok") !=
        std::string::npos);
  CHECK(ErrorOf(with("\"use_qk_norm\": false", "\"use_qk_norm\": true")).find("use_qk_norm") != std::string::npos);
  CHECK(ErrorOf(with("\"hidden_act\": \"silu\",\n    \"max", "\"hidden_act\": \"gelu\",\n    \"max"))
            .find("hidden_act 'gelu'") != std::string::npos);
  const auto mrope = ErrorOf(with("2,\n        3,\n        3", "2,\n        3,\n        4"));
  CHECK(mrope.find("mrope_section") != std::string::npos);
  CHECK(mrope.find("test.json") != std::string::npos);
}

TEST_CASE("transformers-5 rope_parameters and a top-level text config are understood") {
  auto c = ParseModelConfig(R"({"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
      "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8, "intermediate_size": 16,
      "first_k_dense_replace": 1, "moe_intermediate_size": 4, "n_routed_experts": 2, "num_experts_per_tok": 1,
      "eos_token_id": 3,
      "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [1, 1, 0],
                          "partial_rotary_factor": 0.5}})",
                            "inline");
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  CHECK(c->text.rope_theta == 1000000.0);
  CHECK(c->text.mrope_section == std::vector<int64_t>{1, 1, 0});
  CHECK(c->text.eos_token_ids == std::vector<int64_t>{3});
  CHECK(!c->has_vision);
}

}  // namespace
}  // namespace glmv
