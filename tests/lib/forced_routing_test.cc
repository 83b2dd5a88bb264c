// TextModel::ForceRouting, the golden checks' way to run a quantized model along the reference's expert
// choices: forcing the model's own choices changes nothing, forcing others changes the MoE layers' output,
// and malformed choices are errors, never out-of-range reads.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "io/npy.h"
#include "lib/text/text_model.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;
const fs::path kTiny = test::DataDir() / "tiny-glm4v-moe";

struct Case1 {
  std::unique_ptr<TextModel> model;
  std::vector<int64_t> ids;

  Case1() {
    auto m = TextModel::Load(kTiny.string());
    REQUIRE_MESSAGE(m.ok(), m.status().message());
    model = std::move(m).value();
    auto npy = ReadNpy((kTiny / "case1_text__input_ids.npy").string());
    REQUIRE(npy.ok());
    ids = npy->ToInt64();
  }

  std::vector<std::vector<int64_t>> routing;  // forced expert choices per layer; empty: the router's own

  Status Run(std::vector<float>& logits, TextTrace* trace = nullptr) {
    std::vector<float> x(ids.size() * static_cast<size_t>(model->config().hidden_size));
    GLMV_RETURN_IF_ERROR(model->Embed(ids, x.data()));
    GLMV_ASSIGN_OR_RETURN(KvCache cache, model->NewCache(ids.size()));
    ForwardOptions fo;
    fo.trace = trace;
    fo.forced_routing = &routing;
    return model->Forward(x.data(), ids.size(), MRopePositions::Text(0, ids.size()), cache, true, logits, fo);
  }
};

TEST_CASE("forcing the router's own choices reproduces the logits") {
  Case1 c;
  std::vector<float> free_logits, forced_logits;
  TextTrace trace;
  REQUIRE(c.Run(free_logits, &trace).ok());
  size_t moe_layers = 0;
  for (const auto& ids : trace.topk_ids) moe_layers += !ids.empty();
  REQUIRE(moe_layers > 0);
  c.routing = trace.topk_ids;  // sorted by expert id: another order than the router's own
  REQUIRE(c.Run(forced_logits).ok());
  const double diff = test::MaxAbsDiff(free_logits, forced_logits);
  MESSAGE("own choices forced: logits differ by " << diff);
  // The weights' normalising sum may add in another order: float rounding, no more.
  CHECK(diff <= 1e-5);
}

TEST_CASE("forcing other experts changes the result, and clearing restores it") {
  Case1 c;
  std::vector<float> free_logits, forced_logits, restored;
  TextTrace trace;
  REQUIRE(c.Run(free_logits, &trace).ok());
  const auto& cfg = c.model->config();
  const size_t k = static_cast<size_t>(cfg.num_experts_per_tok);
  auto routing = trace.topk_ids;
  for (auto& ids : routing) {
    for (size_t t = 0; t + k <= ids.size(); t += k) {
      // Replace the token's first expert by the lowest-numbered one it did not choose.
      for (int64_t e = 0; e < cfg.n_routed_experts; ++e) {
        if (std::find(ids.begin() + t, ids.begin() + t + k, e) == ids.begin() + t + k) {
          ids[t] = e;
          break;
        }
      }
    }
  }
  c.routing = routing;
  REQUIRE(c.Run(forced_logits).ok());
  const double diff = test::MaxAbsDiff(free_logits, forced_logits);
  MESSAGE("other experts forced: logits differ by " << diff);
  CHECK(diff > 1e-3);
  c.routing.clear();
  REQUIRE(c.Run(restored).ok());
  CHECK(test::MaxAbsDiff(free_logits, restored) == 0.0);
}

TEST_CASE("malformed forced choices are errors naming the layer") {
  Case1 c;
  std::vector<float> logits;
  TextTrace trace;
  REQUIRE(c.Run(logits, &trace).ok());
  size_t layer = 0;
  while (layer < trace.topk_ids.size() && trace.topk_ids[layer].empty()) ++layer;
  REQUIRE(layer < trace.topk_ids.size());
  auto routing = trace.topk_ids;
  SUBCASE("wrong count") { routing[layer].pop_back(); }
  SUBCASE("expert id out of range") { routing[layer][0] = c.model->config().n_routed_experts; }
  SUBCASE("negative expert id") { routing[layer][0] = -1; }
  c.routing = routing;
  const Status st = c.Run(logits);
  REQUIRE(!st.ok());
  MESSAGE(st.message());
  CHECK(st.message().find("layer " + std::to_string(layer)) != std::string::npos);
}

}  // namespace
}  // namespace glmv
