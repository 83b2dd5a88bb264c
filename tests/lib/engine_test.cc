// The generation loop on the tiny golden model: greedy output equals the reference's, the KV-cache prefix
// is reused across requests without changing results, seeds repeat, stop strings and cancellation end runs.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>

#include "io/npy.h"
#include "lib/engine/engine.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

const auto kTiny = test::DataDir() / "tiny-glm4v-moe";

std::vector<int64_t> Golden(const std::string& name) {
  auto a = ReadNpy((kTiny / name).string());
  REQUIRE(a.ok());
  return a->ToInt64();
}

std::unique_ptr<Engine> Load() {
  auto e = Engine::Load(kTiny.string());
  REQUIRE_MESSAGE(e.ok(), e.status().message());
  return std::move(e).value();
}

GenerateRequest Greedy(std::vector<int64_t> prompt, size_t n) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.max_tokens = n;
  r.ignore_eos = true;
  return r;
}

TEST_CASE("greedy generation equals the reference, also when the prompt prefix comes from the cache") {
  auto e = Load();
  const auto prompt = Golden("case5_generate_text__input_ids.npy");
  const auto want = Golden("case5_generate_text__generated_ids.npy");
  auto first = e->Generate(Greedy(prompt, want.size()));
  REQUIRE(first.ok());
  CHECK(first->ids == want);
  CHECK(first->reused_prompt_tokens == 0);
  // The same prompt again: all but the last prompt token come from the cache.
  auto second = e->Generate(Greedy(prompt, want.size()));
  REQUIRE(second.ok());
  CHECK(second->reused_prompt_tokens == prompt.size() - 1);
  CHECK(second->ids == want);
  // A continuation (prompt + first answer) reuses the whole previous prompt.
  auto longer = prompt;
  longer.insert(longer.end(), want.begin(), want.begin() + 3);
  auto third = e->Generate(Greedy(longer, 5));
  REQUIRE(third.ok());
  CHECK(third->reused_prompt_tokens >= prompt.size());
  CHECK(std::vector<int64_t>(third->ids.begin(), third->ids.begin() + 5) ==
        std::vector<int64_t>(want.begin() + 3, want.begin() + 8));
  e->ResetCache();
  auto fresh = e->Generate(Greedy(longer, 5));
  REQUIRE(fresh.ok());
  CHECK(fresh->reused_prompt_tokens == 0);
  CHECK(fresh->ids == third->ids);
}

TEST_CASE("generation after an image equals the reference (M-RoPE delta carried into decoding)") {
  auto e = Load();
  REQUIRE_MESSAGE(e->vision() != nullptr, e->vision_status().message());
  GenerateRequest r = Greedy(Golden("case6_generate_image__input_ids.npy"), 6);
  auto px = ReadNpy((kTiny / "case2_image__pixel_values.npy").string());
  REQUIRE(px.ok());
  r.visual.image_pixels = px->ToFloat();
  const auto grid = Golden("case2_image__image_grid_thw.npy");
  r.visual.image_grids = {{grid[0], grid[1], grid[2]}};
  auto out = e->Generate(r);
  REQUIRE_MESSAGE(out.ok(), out.status().message());
  CHECK(out->ids == Golden("case6_generate_image__generated_ids.npy"));
  CHECK(out->vision_seconds > 0);
  // Placeholders without pixels, or pixels without placeholders, are errors.
  GenerateRequest no_pixels = Greedy(r.prompt, 2);
  auto bad = e->Generate(no_pixels);
  REQUIRE(!bad.ok());
  MESSAGE(bad.status().message());
  GenerateRequest no_placeholders = r;
  no_placeholders.prompt = Golden("case1_text__input_ids.npy");
  CHECK(!e->Generate(no_placeholders).ok());
}

TEST_CASE("image placeholders expand to one token per visual token") {
  auto e = Load();
  const ModelConfig& c = e->model().model_config();
  const std::vector<int64_t> ids = {282, c.image_start_token_id, c.image_token_id, c.image_end_token_id, 5,
                                    c.image_start_token_id, c.image_token_id, c.image_end_token_id};
  const int64_t counts[] = {3, 2};
  auto out = ExpandImagePlaceholders(c, ids, counts);
  REQUIRE(out.ok());
  CHECK(out->size() == ids.size() + 2 + 1);
  CHECK(std::count(out->begin(), out->end(), c.image_token_id) == 5);
  const int64_t one[] = {3};
  CHECK(!ExpandImagePlaceholders(c, ids, one).ok());
}

TEST_CASE("seeded sampling repeats; cancellation and limits end the run") {
  auto e = Load();
  GenerateRequest r = Greedy(Golden("case1_text__input_ids.npy"), 12);
  r.sampling.temperature = 1.5f;
  r.sampling.seed = 7;
  auto a = e->Generate(r), b = e->Generate(r);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->ids == b->ids);
  CHECK(a->ids.size() == 12);
  CHECK(a->finish == FinishReason::kLength);
  r.sampling.seed = 8;
  auto c = e->Generate(r);
  REQUIRE(c.ok());
  CHECK(c->ids != a->ids);

  std::atomic<bool> cancel{true};
  auto d = e->Generate(r, {}, &cancel);
  REQUIRE(d.ok());
  CHECK(d->finish == FinishReason::kCancelled);
  CHECK(d->ids.size() == 1);

  GenerateRequest too_long = r;
  too_long.prompt.assign(5000, 1);
  auto f = e->Generate(too_long);
  REQUIRE(!f.ok());
  CHECK(f.status().message().find("does not fit the context") != std::string::npos);
  GenerateRequest bad_id = r;
  bad_id.prompt = {1, 2, 100000};
  auto g = e->Generate(bad_id);
  REQUIRE(!g.ok());
  CHECK(g.status().message().find("100000") != std::string::npos);
}

TEST_CASE("an eos id ends the run (and is reported) unless ignored") {
  auto e = Load();
  const auto& eos = e->model().config().eos_token_ids;
  GenerateRequest r = Greedy(Golden("case1_text__input_ids.npy"), 150);
  r.ignore_eos = false;
  r.sampling.temperature = 5.0f;  // near-uniform over 300 ids: an eos id turns up within a few hundred draws
  r.sampling.top_k = 0;
  r.sampling.top_p = 1.0f;
  bool found = false;
  for (uint64_t seed = 0; seed < 20 && !found; ++seed) {
    r.sampling.seed = seed;
    auto out = e->Generate(r);
    REQUIRE(out.ok());
    if (out->finish != FinishReason::kEos) continue;
    found = true;
    CHECK(std::find(eos.begin(), eos.end(), out->ids.back()) != eos.end());
    for (size_t i = 0; i + 1 < out->ids.size(); ++i) CHECK(std::find(eos.begin(), eos.end(), out->ids[i]) == eos.end());
    GenerateRequest keep_going = r;
    keep_going.ignore_eos = true;
    auto more = e->Generate(keep_going);
    REQUIRE(more.ok());
    CHECK(more->ids.size() == r.max_tokens);
    CHECK(std::vector<int64_t>(more->ids.begin(), more->ids.begin() + out->ids.size()) == out->ids);
  }
  CHECK(found);
}

}  // namespace
}  // namespace glmv
