// glmv synth --expert-skew (issue 14 item 5): a synthesized .glmv whose routing is skewed by a Zipf popularity
// per MoE layer, measured through the engine's own routing, against the near-uniform routing of skew 0.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <set>

#include <nlohmann/json.hpp>

#include "io/model_file.h"
#include "lib/engine/engine.h"
#include "lib/model/config.h"
#include "lib/model/linear.h"
#include "lib/text/moe.h"
#include "lib/tools/convert.h"
#include "lib/tools/synth_model_file.h"
#include "lib/tools/synth_weights.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

// The tiny golden model's config with GLM-4.5V's expert counts (128 routed, top 8) at small widths, written
// into `dir` as config.json (the .glmv file carries it).
ModelConfig SkewConfig(const test::TempDir& dir) {
  std::ifstream f(test::DataDir() / "tiny-glm4v-moe" / "config.json");
  nlohmann::json j = nlohmann::json::parse(f);
  j["text_config"]["n_routed_experts"] = 128;
  j["text_config"]["num_experts_per_tok"] = 8;
  // Routers 512 wide instead of 64 (at either width random weights favour some experts along one prompt: the
  // busiest 10 % took 31 % of picks at 64, 34 % at 512, 50 % at 256); no vision tower, which routing never meets.
  j["text_config"]["hidden_size"] = 512;
  j.erase("vision_config");
  std::ofstream((dir / "config.json").string()) << j.dump(2);
  auto c = LoadModelConfig((dir / "config.json").string());
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  return *c;
}

Result<std::map<std::string, std::string>> Metadata(const test::TempDir& dir) {
  return AssetMetadata([&](const std::string& name) -> std::optional<std::string> {
    if (name == "config.json") return (dir / "config.json").string();
    return std::nullopt;
  });
}

std::string Write(const test::TempDir& dir, const ModelConfig& c, double skew, const std::string& name) {
  auto metadata = Metadata(dir);
  REQUIRE_MESSAGE(metadata.ok(), metadata.status().message());
  SynthModelFileOptions options;
  options.seed = 3;
  options.expert_skew = skew;
  const std::string path = (dir / name).string();
  auto report = WriteSynthModelFile(c, *metadata, path, options, [](const ConvertProgress&) { return Status::Ok(); });
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  return path;
}

// The busiest 10 % of a layer's experts: their share of its picks, from ids [tokens × k].
double TopTenthShare(const std::vector<int64_t>& ids, size_t experts) {
  std::vector<double> count(experts, 0.0);
  for (int64_t e : ids) count[static_cast<size_t>(e)] += 1;
  std::sort(count.begin(), count.end(), std::greater<double>());
  return std::accumulate(count.begin(), count.begin() + experts / 10, 0.0) / static_cast<double>(ids.size());
}

struct Routing {  // top-10 % shares, means over the MoE layers
  double independent = 0;  // the router on independent unit-variance hidden states (RouteTokens)
  double prompt = 0;       // the engine prefilling one prompt (every token's choices, from the trace)
};

Routing MeasureRouting(const std::string& path, size_t tokens) {
  EngineOptions eo;
  eo.context_tokens = tokens + 8;
  eo.prefill_chunk = tokens;
  auto engine = Engine::Load(path, eo);
  REQUIRE_MESSAGE(engine.ok(), engine.status().message());
  const TextConfig& c = (*engine)->model().config();
  const size_t E = static_cast<size_t>(c.n_routed_experts), H = static_cast<size_t>(c.hidden_size);
  Routing out;
  size_t layers = 0;

  // What the router sees after the post-attention RMSNorm, were the tokens unrelated: unit-variance entries.
  std::vector<float> x = test::RandomFloats(tokens * H, 11);
  for (float& v : x) v *= std::sqrt(3.0f);
  LinearContext cx;
  MoeScratch scratch;
  for (const TextLayerWeights& layer : (*engine)->model().weights().layers) {
    if (layer.dense) continue;
    RouteTokens(cx, c, layer, x.data(), tokens, scratch);
    out.independent += TopTenthShare(scratch.ids, E);
    ++layers;
  }

  GenerateRequest r;
  r.prompt = std::vector<int64_t>(tokens);
  for (size_t i = 0; i < tokens; ++i) r.prompt[i] = static_cast<int64_t>((i * 7919 + 13) % 280);  // below specials
  r.max_tokens = 1;
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  auto s = (*engine)->Start(r);
  REQUIRE_MESSAGE(s.ok(), s.status().message());
  TextTrace trace;
  (*engine)->SetStepHooks(nullptr, &trace);
  (*engine)->Prefill(**s);  // one chunk: the trace holds every prompt token's choices
  (*engine)->SetStepHooks(nullptr, nullptr);
  REQUIRE((*s)->status().ok());
  for (const auto& ids : trace.topk_ids) {
    if (ids.empty()) continue;
    REQUIRE(ids.size() == tokens * static_cast<size_t>(c.num_experts_per_tok));
    out.prompt += TopTenthShare(ids, E);
  }
  REQUIRE(layers == 2);
  out.independent /= static_cast<double>(layers);
  out.prompt /= static_cast<double>(layers);
  return out;
}

TEST_CASE("--expert-skew: routing is skewed at S > 0, close to uniform at S = 0") {
  test::TempDir dir;
  const ModelConfig c = SkewConfig(dir);
  const size_t tokens = 256;  // × 8 picks per MoE layer
  std::vector<Routing> at;
  for (double skew : {0.0, 0.5, 1.0, 2.0}) at.push_back(MeasureRouting(Write(dir, c, skew, "s" + std::to_string(at.size()) + ".glmv"), tokens));
  MESSAGE("top 10 % of experts' share of picks, S = 0, 0.5, 1, 2: independent states " << at[0].independent << ", "
          << at[1].independent << ", " << at[2].independent << ", " << at[3].independent << "; one prompt "
          << at[0].prompt << ", " << at[1].prompt << ", " << at[2].prompt << ", " << at[3].prompt);
  // 12 of 128 experts: 9.4 % when uniform, a little more by chance over 2,048 picks.
  CHECK(at[0].independent < 0.2);
  CHECK(at[2].independent > 0.3);
  // Within one prompt random weights already favour some experts (the tokens' hidden states share a
  // component); the skew comes on top of that.
  CHECK(at[2].prompt > 0.3);
  CHECK(at[2].prompt > at[0].prompt + 0.1);
  for (size_t i = 1; i < at.size(); ++i) {
    CHECK(at[i].independent > at[i - 1].independent);
    CHECK(at[i].prompt > at[i - 1].prompt);
  }
}

TEST_CASE("--expert-skew: the bias is -0.1 S ln(rank) centred, a permutation of its own per layer; 0 changes nothing") {
  test::TempDir dir;
  const ModelConfig c = SkewConfig(dir);
  const std::string a = "model.language_model.layers.1.mlp.gate.e_score_correction_bias";
  const std::string b = "model.language_model.layers.2.mlp.gate.e_score_correction_bias";
  std::vector<float> x(128), y(128);
  FillSkewedCorrectionBias(a, 128, 1.0, 3, x.data());
  FillSkewedCorrectionBias(b, 128, 1.0, 3, y.data());
  CHECK(std::abs(std::accumulate(x.begin(), x.end(), 0.0)) < 1e-4);
  std::vector<float> sorted = x;
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  for (size_t r = 1; r < 128; ++r) {
    CHECK(sorted[r - 1] - sorted[r] == doctest::Approx(0.1 * std::log(double(r + 1) / double(r))).epsilon(1e-3));
  }
  const auto favourite = [](const std::vector<float>& v) { return std::max_element(v.begin(), v.end()) - v.begin(); };
  std::set<long> favourites = {favourite(x), favourite(y)};
  for (uint64_t seed = 4; seed < 8; ++seed) {
    FillSkewedCorrectionBias(a, 128, 1.0, seed, x.data());
    favourites.insert(favourite(x));
  }
  CHECK(favourites.size() >= 4);  // layers and seeds pick other favourites

  // Skew 0 writes the file it wrote before the option existed (the default options); S > 0 is recorded.
  const std::string zero = Write(dir, c, 0, "zero.glmv");
  auto metadata = Metadata(dir);
  REQUIRE(metadata.ok());
  SynthModelFileOptions defaults;
  defaults.seed = 3;
  const std::string plain = (dir / "plain.glmv").string();
  REQUIRE(WriteSynthModelFile(c, *metadata, plain, defaults, [](const ConvertProgress&) { return Status::Ok(); }).ok());
  CHECK(test::ReadBytes(zero) == test::ReadBytes(plain));
  auto skewed = ModelFile::Open(Write(dir, c, 1.5, "skewed.glmv"));
  REQUIRE_MESSAGE(skewed.ok(), skewed.status().message());
  CHECK(nlohmann::json::parse(skewed->metadata().at("glmv.source"))["expert_skew"] == 1.5);

  SynthModelFileOptions bad = defaults;
  bad.expert_skew = -1;
  CHECK(!WriteSynthModelFile(c, *metadata, (dir / "bad.glmv").string(), bad,
                             [](const ConvertProgress&) { return Status::Ok(); }).ok());
}

}  // namespace
}  // namespace glmv
