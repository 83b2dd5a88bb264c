// Constrained decoding through the engine (issue 13) on the tiny model, whose random weights and byte-level
// vocabulary make a worst case: at temperature 1 with 50 seeds every answer ends by eos, parses and
// satisfies the schema (checked in C++), and the answers differ; with the constraint armed after a token,
// the ids up to and including that token are exactly the unconstrained run's.
#include <doctest/doctest.h>

#include <set>

#include "lib/engine/engine.h"
#include "lib/sampling/json_schema.h"
#include "lib/sampling/token_constraint.h"
#include "tests/engine/answer_schema.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using Json = nlohmann::ordered_json;

struct Tiny {
  std::unique_ptr<Engine> engine;
  std::shared_ptr<const TokenTrie> trie;
  std::shared_ptr<const Grammar> grammar;
  std::vector<int64_t> prompt;
};

Tiny Load() {
  Tiny t;
  auto e = Engine::Load((test::DataDir() / "tiny-glm4v-moe").string());
  REQUIRE_MESSAGE(e.ok(), e.status().message());
  t.engine = std::move(e).value();
  REQUIRE(t.engine->tokenizer() != nullptr);
  t.trie = TokenTrie::FromTokenizer(*t.engine->tokenizer(), static_cast<size_t>(t.engine->model().config().vocab_size));
  auto g = CompileJsonSchema(Json::parse(test::kAnswerSchema), {true});
  REQUIRE_MESSAGE(g.ok(), g.status().message());
  t.grammar = std::move(g).value();
  t.prompt = t.engine->tokenizer()->Encode("[gMASK]<sop><|user|>\nDescribe the point as JSON.<|assistant|>\n");
  return t;
}

GenerateRequest Sampled(const std::vector<int64_t>& prompt, uint64_t seed, size_t max_tokens) {
  GenerateRequest r;
  r.prompt = prompt;
  r.sampling.temperature = 1.0f;
  r.sampling.seed = seed;
  r.max_tokens = max_tokens;
  return r;
}

// Runs `request` alone with `constraint` (may be null) to the end.
GenerateResult Run(Tiny& t, const GenerateRequest& request, std::unique_ptr<TokenConstraint> constraint) {
  auto s = t.engine->Start(request);
  REQUIRE_MESSAGE(s.ok(), s.status().message());
  if (constraint) (*s)->SetConstraint(std::move(constraint));
  Sequence* one = s->get();
  t.engine->RunToCompletion(std::span<Sequence* const>(&one, 1));
  REQUIRE_MESSAGE((*s)->status().ok(), (*s)->status().message());
  return (*s)->result();
}

TEST_CASE("50 seeds at temperature 1: every constrained answer ends by eos, parses and satisfies the schema") {
  Tiny t = Load();
  const std::vector<int64_t>& eos = t.engine->model().config().eos_token_ids;
  std::set<std::string> answers;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    CAPTURE(seed);
    const GenerateResult r = Run(t, Sampled(t.prompt, seed, 600),
                                 std::make_unique<TokenConstraint>(t.grammar, t.trie, TokenConstraintOptions{eos, std::nullopt}));
    CHECK(r.finish == FinishReason::kEos);
    REQUIRE_FALSE(r.ids.empty());
    CHECK(std::find(eos.begin(), eos.end(), r.ids.back()) != eos.end());
    Json answer;
    REQUIRE_NOTHROW(answer = Json::parse(r.text));
    CHECK_MESSAGE(test::AnswerProblems(answer) == "", r.text);
    answers.insert(r.text);
  }
  CHECK(answers.size() >= 40);  // the seeds matter: the constraint does not force one answer
  // Unconstrained, the same model writes no JSON at all.
  const GenerateResult free = Run(t, Sampled(t.prompt, 1, 40), nullptr);
  CHECK_FALSE(Json::accept(free.text));
}

TEST_CASE("armed after a token: the run up to that token is the unconstrained one, the answer after it validates") {
  Tiny t = Load();
  const std::vector<int64_t>& eos = t.engine->model().config().eos_token_ids;
  auto is_eos = [&](int64_t id) { return std::find(eos.begin(), eos.end(), id) != eos.end(); };
  int checked = 0;
  for (uint64_t seed = 1; seed <= 40 && checked < 3; ++seed) {
    CAPTURE(seed);
    GenerateRequest free_request = Sampled(t.prompt, seed, 8);
    free_request.ignore_eos = true;
    const GenerateResult free = Run(t, free_request, nullptr);
    // The arm token: the 6th id, when it is no eos and did not come earlier (nor did any eos).
    constexpr size_t kArm = 5;
    REQUIRE(free.ids.size() == 8);
    const std::vector<int64_t> before(free.ids.begin(), free.ids.begin() + kArm);
    const int64_t arm = free.ids[kArm];
    if (is_eos(arm) || std::any_of(before.begin(), before.end(), [&](int64_t id) { return id == arm || is_eos(id); })) continue;
    ++checked;
    const GenerateResult r = Run(t, Sampled(t.prompt, seed, 600),
                                 std::make_unique<TokenConstraint>(t.grammar, t.trie, TokenConstraintOptions{eos, arm}));
    REQUIRE(r.ids.size() > kArm + 1);
    CHECK(std::vector<int64_t>(r.ids.begin(), r.ids.begin() + kArm + 1) ==
          std::vector<int64_t>(free.ids.begin(), free.ids.begin() + kArm + 1));
    CHECK(r.finish == FinishReason::kEos);
    const std::vector<int64_t> after(r.ids.begin() + kArm + 1, r.ids.end() - 1);  // without the eos
    const std::string text = t.engine->tokenizer()->Decode(after);
    Json answer;
    REQUIRE_NOTHROW(answer = Json::parse(text));
    CHECK_MESSAGE(test::AnswerProblems(answer) == "", text);
  }
  CHECK(checked == 3);
}

// What the server does with thinking on (apps/serve/scheduler.cc): the grammar armed after `</think>`, the
// tokenizer's own token. The reasoning before it is free (the unconstrained run's ids, through `</think>`),
// and the answer after it validates.
TEST_CASE("thinking on: the grammar is armed only after the reasoning block's </think>") {
  Tiny t = Load();
  const std::optional<int64_t> think_end = ThinkEndToken(*t.engine->tokenizer());
  REQUIRE(think_end.has_value());
  const std::vector<int64_t>& eos = t.engine->model().config().eos_token_ids;
  auto is_eos = [&](int64_t id) { return std::find(eos.begin(), eos.end(), id) != eos.end(); };
  const std::vector<int64_t> prompt =
      t.engine->tokenizer()->Encode("[gMASK]<sop><|user|>\nDescribe the point as JSON.<|assistant|>\n<think>");
  int checked = 0;
  for (uint64_t seed = 1; seed <= 60 && checked < 2; ++seed) {
    CAPTURE(seed);
    // A free run in which the random model closes its reasoning before any eos, within 300 tokens.
    GenerateRequest free_request = Sampled(prompt, seed, 300);
    const GenerateResult free = Run(t, free_request, nullptr);
    const auto close = std::find(free.ids.begin(), free.ids.end(), *think_end);
    if (close == free.ids.end() || std::any_of(free.ids.begin(), close, is_eos)) continue;
    const size_t reasoning = static_cast<size_t>(close - free.ids.begin()) + 1;  // through </think>
    ++checked;
    const GenerateResult r = Run(t, Sampled(prompt, seed, reasoning + 600),
                                 std::make_unique<TokenConstraint>(t.grammar, t.trie, TokenConstraintOptions{eos, think_end}));
    REQUIRE(r.ids.size() > reasoning);
    CHECK(std::vector<int64_t>(r.ids.begin(), r.ids.begin() + static_cast<std::ptrdiff_t>(reasoning)) ==
          std::vector<int64_t>(free.ids.begin(), free.ids.begin() + static_cast<std::ptrdiff_t>(reasoning)));
    CHECK(r.finish == FinishReason::kEos);
    const std::vector<int64_t> answer_ids(r.ids.begin() + static_cast<std::ptrdiff_t>(reasoning), r.ids.end() - 1);
    const std::string text = t.engine->tokenizer()->Decode(answer_ids);
    Json answer;
    REQUIRE_NOTHROW(answer = Json::parse(text));
    CHECK_MESSAGE(test::AnswerProblems(answer) == "", text);
    MESSAGE("seed " << seed << ": " << reasoning << " reasoning tokens, then " << text);
  }
  CHECK(checked == 2);
}

}  // namespace
}  // namespace glmv
