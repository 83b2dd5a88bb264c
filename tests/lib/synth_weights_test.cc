// Random weights for any config: the tensor list is the loader's table, the values have the promised
// distributions, do not depend on chunking or thread count, and make the router pick varied experts.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "lib/model/checkpoint.h"
#include "lib/text/moe.h"
#include "lib/base/parallel.h"
#include "lib/tools/synth_weights.h"
#include "lib/vision/vision_weights.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

ModelConfig TinyConfig() {
  auto c = LoadModelConfig((test::DataDir() / "tiny-glm4v-moe" / "config.json").string());
  REQUIRE(c.ok());
  return *c;
}

std::vector<float> Values(const SynthTensor& t, uint64_t seed, uint64_t first, uint64_t count) {
  std::vector<uint8_t> bytes(count * DTypeSize(t.dtype));
  FillSynthTensor(t, seed, first, count, bytes.data());
  std::vector<float> out(count);
  WidenToF32(t.dtype, bytes.data(), count, out.data());
  return out;
}

const SynthTensor& Named(const std::vector<SynthTensor>& list, const std::string& name) {
  auto it = std::find_if(list.begin(), list.end(), [&](const SynthTensor& t) { return t.name == name; });
  REQUIRE(it != list.end());
  return *it;
}

TEST_CASE("the tensor list is the loader's table, with the checkpoint's dtypes") {
  const ModelConfig c = TinyConfig();
  const auto list = SynthModelTensors(c, DType::kBF16);
  // The tiny golden checkpoint holds exactly the tensors the tables name.
  auto ckpt = Checkpoint::Open((test::DataDir() / "tiny-glm4v-moe").string());
  REQUIRE(ckpt.ok());
  CHECK(list.size() == (*ckpt)->num_tensors());
  std::set<std::string> names;
  for (const auto& t : list) {
    names.insert(t.name);
    const TensorView* real = (*ckpt)->Find(t.name);
    REQUIRE_MESSAGE(real != nullptr, t.name);
    CHECK_MESSAGE(real->shape == t.shape, t.name);
    const bool correction = t.name.find("e_score_correction_bias") != std::string::npos;
    CHECK_MESSAGE(t.dtype == (correction ? DType::kF32 : DType::kBF16), t.name);
  }
  CHECK(names.size() == list.size());
  CHECK(Named(list, "model.language_model.layers.1.mlp.gate.e_score_correction_bias").init == SynthInit::kCorrectionBias);
  CHECK(Named(list, "model.visual.merger.post_projection_norm.bias").init == SynthInit::kBias);
  CHECK(Named(list, "model.visual.merger.post_projection_norm.weight").init == SynthInit::kNorm);
  CHECK(Named(list, "model.language_model.layers.0.self_attn.q_proj.bias").init == SynthInit::kBias);
  CHECK(Named(list, "model.visual.patch_embed.proj.weight").init == SynthInit::kLinear);
  // Text only when the config has no vision tower.
  ModelConfig text_only = c;
  text_only.has_vision = false;
  CHECK(SynthModelTensors(text_only, DType::kF32).size() == SynthTextTensors(c.text, DType::kF32).size());
}

TEST_CASE("values: variance 1/fan_in for linears, norms near 1, biases small") {
  const auto list = SynthModelTensors(TinyConfig(), DType::kF32);
  const auto& down = Named(list, "model.language_model.layers.0.mlp.down_proj.weight");  // [64, 96]
  const auto v = Values(down, 3, 0, down.NumElements());
  double sum = 0, sq = 0;
  for (float x : v) sum += x, sq += double{x} * x;
  const double mean = sum / static_cast<double>(v.size()), var = sq / static_cast<double>(v.size()) - mean * mean;
  CHECK(std::abs(mean) < 0.01);
  CHECK(std::abs(var * 96 - 1) < 0.05);  // 6144 samples: the sample variance is within ~2 % here
  // Bell-shaped: the fourth moment of a sum of 4 uniforms is 2.7σ⁴ (a normal's 3, a uniform's 1.8).
  double m4 = 0;
  for (float x : v) m4 += std::pow((x - mean) * (x - mean), 2);
  const double kurtosis = m4 / static_cast<double>(v.size()) / (var * var);
  MESSAGE("linear weights: variance × fan_in " << var * 96 << ", kurtosis " << kurtosis);
  CHECK(kurtosis > 2.5);
  CHECK(kurtosis < 2.9);
  const auto& patch = Named(list, "model.visual.patch_embed.proj.weight");  // fan_in 3·2·14·14 = 1176
  const auto pv = Values(patch, 3, 0, patch.NumElements());
  CHECK(*std::max_element(pv.begin(), pv.end()) <= std::sqrt(12.0f / 1176) * 1.0001f);  // ±√12 σ at most
  for (const char* name : {"model.language_model.norm.weight", "model.visual.blocks.0.norm1.weight"}) {
    const auto& t = Named(list, name);
    for (float x : Values(t, 3, 0, t.NumElements())) CHECK(std::abs(x - 1.0f) <= 0.05f);
  }
  const auto& bias = Named(list, "model.language_model.layers.0.self_attn.k_proj.bias");
  for (float x : Values(bias, 3, 0, bias.NumElements())) CHECK(std::abs(x) <= 0.02f);
  const auto b = Values(bias, 3, 0, bias.NumElements());
  CHECK(std::set<float>(b.begin(), b.end()).size() > b.size() / 2);  // not a constant
}

TEST_CASE("values depend on (seed, name, index) only: not on chunks, threads or dtype") {
  const auto list = SynthModelTensors(TinyConfig(), DType::kF32);
  const auto& embed = Named(list, "model.language_model.embed_tokens.weight");  // 300 × 64 = 19200
  const uint64_t n = embed.NumElements();
  const auto whole = Values(embed, 11, 0, n);
  auto a = Values(embed, 11, 0, 4097), b = Values(embed, 11, 4097, n - 4097);  // a split inside a 4-value group
  a.insert(a.end(), b.begin(), b.end());
  CHECK(a == whole);
  const int threads = NumThreads();
  SetNumThreads(1);
  CHECK(Values(embed, 11, 0, n) == whole);
  SetNumThreads(threads);
  CHECK(Values(embed, 12, 0, n) != whole);
  SynthTensor other = embed;
  other.name = "lm_head.weight";
  CHECK(Values(other, 11, 0, n) != whole);
  SynthTensor bf16 = embed;
  bf16.dtype = DType::kBF16;
  const auto rounded = Values(bf16, 11, 0, n);
  for (size_t i = 0; i < n; i += 97) CHECK(std::abs(rounded[i] - whole[i]) <= std::abs(whole[i]) / 256);
}

TEST_CASE("the synthesized router spreads tokens over the experts") {
  const ModelConfig c = TinyConfig();  // 8 experts, top-2
  const auto list = SynthTextTensors(c.text, DType::kF32);
  const auto router = Values(Named(list, "model.language_model.layers.1.mlp.gate.weight"), 0, 0, 8 * 64);
  const auto bias = Values(Named(list, "model.language_model.layers.1.mlp.gate.e_score_correction_bias"), 0, 0, 8);
  std::set<int64_t> first_choices;
  std::set<std::pair<int64_t, int64_t>> pairs;
  for (uint32_t token = 0; token < 64; ++token) {
    // A hidden state after RMSNorm has unit-variance entries.
    auto x = test::RandomFloats(64, token + 1);
    for (auto& v : x) v *= std::sqrt(3.0f);
    float logits[8];
    for (int e = 0; e < 8; ++e) {
      logits[e] = 0;
      for (int i = 0; i < 64; ++i) logits[e] += router[static_cast<size_t>(e * 64 + i)] * x[static_cast<size_t>(i)];
    }
    int64_t ids[2];
    float weights[2];  // unused here
    SelectExperts(c.text, logits, bias.data(), ids, weights);
    first_choices.insert(ids[0]);
    pairs.insert({std::min(ids[0], ids[1]), std::max(ids[0], ids[1])});
  }
  CHECK(first_choices.size() >= 6);
  CHECK(pairs.size() >= 12);
}

}  // namespace
}  // namespace glmv
