// The engine's one prompt cache: a repeated prompt with the same image shares every key and value up to its
// last token and is not encoded again, a different image is not mistaken for it, Fork shares a whole prompt,
// and kept prefixes give their pages back under pressure and past --cache-bytes — all without changing logits.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "tests/engine/tiny_engine.h"

namespace glmv {
namespace {

using test::TinyIds;

std::vector<int64_t> Ids(const std::string& name) { return TinyIds(name); }
std::unique_ptr<Engine> NewEngine(EngineOptions options = {}) { return test::TinyEngine(options); }

class Recorder : public LogitsProcessor {
 public:
  explicit Recorder(std::vector<std::vector<float>>* out) : out_(out) {}
  void Process(std::span<float> logits, std::span<const int64_t>) override { out_->emplace_back(logits.begin(), logits.end()); }

 private:
  std::vector<std::vector<float>>* out_;
};

GenerateRequest ImageRequest() { return test::TinyImageRequest(); }

// Runs `s` alone to the end, recording its logits.
std::vector<std::vector<float>> Run(Engine& e, Sequence& s) {
  std::vector<std::vector<float>> rows;
  s.AddLogitsProcessor(std::make_unique<Recorder>(&rows));
  Sequence* one = &s;
  e.RunToCompletion(std::span<Sequence* const>(&one, 1));
  REQUIRE_MESSAGE(s.status().ok(), s.status().message());
  return rows;
}

double Worst(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < a[i].size(); ++j) worst = std::max(worst, std::fabs(static_cast<double>(a[i][j]) - b[i][j]));
  }
  return worst;
}

TEST_CASE("a repeated prompt with the same image is neither encoded nor prefilled again; another image is") {
  auto e = NewEngine();
  const GenerateRequest r = ImageRequest();
  const auto want = Ids("case6_generate_image__generated_ids.npy");
  auto first = e->Start(r);
  REQUIRE(first.ok());
  CHECK((*first)->encoding());
  const auto fresh = Run(*e, **first);
  CHECK((*first)->result().ids == want);
  CHECK((*first)->result().vision_seconds > 0);
  e->Retire(std::move(first).value());

  auto again = e->Start(r);
  REQUIRE(again.ok());
  const size_t reused = (*again)->result().reused_prompt_tokens;
  CHECK(reused == r.prompt.size() - 1);  // past the image's last token: only the last prompt token is run
  CHECK(!(*again)->encoding());
  const auto shared = Run(*e, **again);
  CHECK((*again)->result().ids == want);
  CHECK((*again)->result().vision_seconds == 0);
  const double worst = Worst(fresh, shared);
  MESSAGE("same image: " << reused << " of " << r.prompt.size() << " prompt tokens reused, no encode; logits differ by "
                         << worst);
  CHECK(worst <= 1e-5);

  GenerateRequest other = r;
  other.visual.image_pixels[5] += 0.25f;  // one value of one patch differs
  auto changed = e->Start(other);
  REQUIRE(changed.ok());
  const ModelConfig& mc = e->model().model_config();
  const size_t first_image = static_cast<size_t>(std::find(r.prompt.begin(), r.prompt.end(), mc.image_token_id) - r.prompt.begin());
  CHECK((*changed)->result().reused_prompt_tokens == first_image);  // the text before the image only
  CHECK((*changed)->encoding());
}

TEST_CASE("Fork shares a whole prompt, then samples on its own; logits as if run alone") {
  auto e = NewEngine();
  GenerateRequest r;
  r.prompt = Ids("case5_generate_text__input_ids.npy");
  r.max_tokens = 6;
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  auto alone = e->Start(r);
  REQUIRE(alone.ok());
  const auto want = Run(*e, **alone);
  const auto want_ids = (*alone)->result().ids;
  alone->reset();
  e->ResetCache();

  auto parent = e->Start(r);
  REQUIRE(parent.ok());
  while ((*parent)->prefilling()) e->Prefill(**parent);
  const size_t pages_before = e->kv_pool().pages_in_use();
  auto child = e->Fork(**parent, r.sampling);
  REQUIRE(child.ok());
  CHECK((*child)->result().reused_prompt_tokens == r.prompt.size() - 1);
  CHECK(e->kv_pool().pages_in_use() == pages_before);  // nothing copied until someone writes
  const auto got = Run(*e, **child);
  CHECK((*child)->result().ids == want_ids);
  const double worst = Worst(want, got);
  MESSAGE("fork: logits differ from a lone run by " << worst);
  CHECK(worst <= 1e-5);
  SamplingParams hot;
  hot.temperature = 1.5f;
  hot.seed = 3;
  auto other = e->Fork(**parent, hot);
  REQUIRE(other.ok());
  Run(*e, **other);
  CHECK((*other)->result().ids.size() == r.max_tokens);
  CHECK((*other)->result().ids != want_ids);
}

TEST_CASE("kept prefixes give their pages back when a running sequence needs them, and past --cache-bytes") {
  EngineOptions options;
  options.context_tokens = 64;
  options.kv_page_tokens = 4;
  auto e = NewEngine(options);
  const size_t capacity = e->kv_pool().capacity_pages();
  GenerateRequest r;
  r.prompt = Ids("case1_text__input_ids.npy");
  r.max_tokens = 64 - r.prompt.size() - 1;
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  auto a = e->Generate(r);
  REQUIRE(a.ok());
  CHECK(e->cached_sequences() == 1);
  GenerateRequest different = r;
  for (auto& id : different.prompt) id = (id + 7) % 200;  // shares nothing; needs the whole pool
  auto b = e->Generate(different);
  REQUIRE(b.ok());
  CHECK(b->finish == FinishReason::kLength);  // not context_full: the cached sequence was evicted for it
  CHECK(e->cached_sequences() == 1);
  CHECK(e->kv_pool().pages_in_use() <= capacity);

  EngineOptions bounded;
  bounded.max_sequences = 4;
  auto f = NewEngine(bounded);
  GenerateRequest small = r;
  small.max_tokens = 2;
  const size_t one = [&] {
    auto s = f->Start(small);
    REQUIRE(s.ok());
    Run(*f, **s);
    return (*s)->kv().pages(0).size() * (*s)->kv().layers() * f->kv_pool().page_bytes();
  }();
  auto g = NewEngine([&] { EngineOptions o = bounded; o.prefix_cache_bytes = 2 * one; return o; }());
  for (int i = 0; i < 4; ++i) {
    GenerateRequest x = small;
    x.prompt[0] = i;  // no two share a prefix
    REQUIRE(g->Generate(x).ok());
  }
  CHECK(g->cached_sequences() == 2);  // the two most recent
}

}  // namespace
}  // namespace glmv
