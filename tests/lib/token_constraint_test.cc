// The token side of constrained decoding on the tiny model's byte-level tokenizer (300 ids): the trie's mask
// equals a brute-force one (each token's bytes run through a fresh matcher that replayed the answer so far),
// eos comes only with a complete answer and alone once nothing may follow, ids without bytes or past the
// vocabulary never come, and an armed constraint changes nothing before its token.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "lib/sampling/grammar_cache.h"
#include "lib/sampling/json_schema.h"
#include "lib/sampling/token_constraint.h"
#include "tests/engine/answer_schema.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using Json = nlohmann::ordered_json;
const std::vector<int64_t> kTinyEos = {280, 287, 289};  // tiny-glm4v-moe's config.json

const Tokenizer& Tiny() {
  static const auto tok = Tokenizer::FromHfJson((test::DataDir() / "tiny-glm4v-moe" / "tokenizer.json").string());
  REQUIRE_MESSAGE(tok.ok(), tok.status().message());
  return *tok.value();
}

std::shared_ptr<const TokenTrie> Trie(size_t vocab = 300) { return TokenTrie::FromTokenizer(Tiny(), vocab); }

std::shared_ptr<const Grammar> CompileSchema(const char* schema) {
  auto g = CompileJsonSchema(Json::parse(schema));
  REQUIRE_MESSAGE(g.ok(), g.status().message());
  return std::move(g).value();
}

int64_t Id(const std::string& bytes) {
  const auto id = Tiny().TokenId(bytes);
  REQUIRE(id.has_value());
  return *id;
}

TEST_CASE("the trie holds the regular tokens' bytes; added tokens and ids past the tokenizer have none") {
  const auto trie = Trie(310);
  CHECK(trie->vocab() == 310);
  CHECK(trie->bytes(Id("a")) == "a");
  CHECK(trie->bytes(Id(" the")) == " the");
  CHECK(trie->bytes(Id("\n\n")) == "\n\n");
  for (int64_t id = 280; id < 310; ++id) CHECK(trie->bytes(id).empty());
  CHECK(trie->num_nodes() > 280);
}

// Walks `grammar` choosing uniformly among the allowed ids, comparing at every step the trie's mask, the
// cheap per-id check and the brute force. Returns the answer's text when it ended by eos, else nullopt.
std::optional<std::string> RandomWalk(const std::shared_ptr<const Grammar>& grammar, const std::shared_ptr<const TokenTrie>& trie,
                                      uint32_t seed, int max_steps) {
  TokenConstraint c(grammar, trie, {kTinyEos, std::nullopt});
  std::mt19937 rng(seed);
  std::string text;
  for (int step = 0; step < max_steps; ++step) {
    const std::vector<uint64_t> allowed = c.AllowedIds();
    REQUIRE(allowed.size() == (trie->vocab() + 63) / 64);
    GrammarMatcher replay(grammar);
    REQUIRE(replay.Advance(text));
    int wrong = 0, fast_wrong = 0;
    std::vector<int64_t> choices;
    for (int64_t id = 0; id < static_cast<int64_t>(trie->vocab()); ++id) {
      const bool eos = std::find(kTinyEos.begin(), kTinyEos.end(), id) != kTinyEos.end();
      const std::string& bytes = trie->bytes(id);
      const bool want = eos ? replay.Complete() : !bytes.empty() && replay.Accepts(bytes);
      wrong += TokenConstraint::IsSet(allowed, static_cast<size_t>(id)) != want;
      fast_wrong += c.Allows(id) != want;
      if (want) choices.push_back(id);
    }
    CHECK_MESSAGE(wrong == 0, "after " << Json(text).dump());
    CHECK_MESSAGE(fast_wrong == 0, "after " << Json(text).dump());
    REQUIRE_FALSE(choices.empty());
    const int64_t id = choices[std::uniform_int_distribution<size_t>(0, choices.size() - 1)(rng)];
    REQUIRE(c.Accept(id));
    if (std::find(kTinyEos.begin(), kTinyEos.end(), id) != kTinyEos.end()) return text;
    text += trie->bytes(id);
  }
  return std::nullopt;
}

TEST_CASE("the trie's mask equals a brute-force per-token mask, all along random answers") {
  const auto trie = Trie();
  const auto answer = CompileSchema(test::kAnswerSchema);
  int ended = 0;
  for (uint32_t seed = 0; seed < 12; ++seed) {
    const auto text = RandomWalk(answer, trie, seed, 400);
    if (!text) continue;
    ++ended;
    const Json parsed = Json::parse(*text);
    CHECK_MESSAGE(test::AnswerProblems(parsed) == "", *text);
  }
  CHECK(ended >= 10);  // everything in the schema is bounded: a random walk ends
  // Free strings with UTF-8 and escapes, numbers, any JSON object: the walks need not end.
  const auto strings = CompileSchema(R"({"type":"object","properties":{"s":{"type":"string"},"n":{"type":"number"},
    "o":{"type":"object"}},"required":["s","n"]})");
  for (uint32_t seed = 0; seed < 4; ++seed) RandomWalk(strings, trie, seed, 60);
  for (uint32_t seed = 0; seed < 4; ++seed) RandomWalk(JsonObjectGrammar(), trie, seed, 60);
}

TEST_CASE("eos only once the answer is complete; alone once nothing may follow") {
  const auto trie = Trie();
  TokenConstraint c(CompileSchema(R"({"const":"ab"})"), trie, {kTinyEos, std::nullopt});
  CHECK_FALSE(c.Allows(280));
  CHECK_FALSE(TokenConstraint::IsSet(c.AllowedIds(), 280));
  CHECK(c.Allows(Id("\"")));
  CHECK_FALSE(c.Allows(Id("a")));
  REQUIRE(c.Accept(Id("\"")));
  CHECK_FALSE(c.Accept(Id("b")));  // refused, and nothing changes
  REQUIRE(c.Accept(Id("a")));
  REQUIRE(c.Accept(Id("b")));
  CHECK_FALSE(c.Complete());
  REQUIRE(c.Accept(Id("\"")));
  CHECK(c.Complete());
  std::vector<float> logits(310, 1.0f);
  c.Mask(logits);
  for (size_t id = 0; id < logits.size(); ++id) {
    const bool eos = std::find(kTinyEos.begin(), kTinyEos.end(), static_cast<int64_t>(id)) != kTinyEos.end();
    CHECK_MESSAGE(std::isfinite(logits[id]) == eos, id);
  }
  // An integer may be complete and still go on: digits and eos both.
  TokenConstraint n(CompileSchema(R"({"type":"integer"})"), trie, {kTinyEos, std::nullopt});
  REQUIRE(n.Accept(Id("1")));
  CHECK(n.Complete());
  CHECK(n.Allows(280));
  CHECK(n.Allows(Id("2")));
  CHECK_FALSE(n.Allows(Id("a")));
}

TEST_CASE("ids past the trie's vocabulary and ids without bytes are never allowed") {
  TokenConstraint c(JsonObjectGrammar(), Trie(), {kTinyEos, std::nullopt});
  std::vector<float> logits(320, 0.5f);
  c.Mask(logits);
  CHECK(std::isfinite(logits[Id("{")]));
  CHECK_FALSE(std::isfinite(logits[Id("a")]));
  for (size_t id = 280; id < logits.size(); ++id) CHECK_FALSE(std::isfinite(logits[id]));
  CHECK_FALSE(c.Allows(295));
  CHECK_FALSE(c.Allows(315));
  CHECK_FALSE(c.Accept(315));
}

TEST_CASE("armed after a token: before it everything is allowed and nothing advances the grammar") {
  const auto trie = Trie();
  const int64_t think_end = ThinkEndToken(Tiny()).value();
  CHECK(think_end == 295);
  TokenConstraint c(CompileSchema(test::kAnswerSchema), trie, {kTinyEos, think_end});
  CHECK_FALSE(c.armed());
  const GrammarMatcher::StateId start = c.matcher().state();
  for (int64_t id = 0; id < 300; ++id) CHECK(c.Allows(id));
  std::vector<float> logits(300, 0.25f);
  c.Mask(logits);
  CHECK(std::all_of(logits.begin(), logits.end(), [](float v) { return v == 0.25f; }));
  for (const char* piece : {"a", "{", "\"", "}", "x"}) CHECK(c.Accept(Id(piece)));
  CHECK(c.Accept(280));
  CHECK(c.matcher().state() == start);  // nothing advanced
  CHECK_FALSE(c.Complete());
  REQUIRE(c.Accept(think_end));
  CHECK(c.armed());
  CHECK_FALSE(c.Allows(Id("a")));
  CHECK_FALSE(c.Allows(280));
  CHECK(c.Allows(Id("{")));
  c.Mask(logits);
  CHECK_FALSE(std::isfinite(logits[Id("a")]));
  CHECK(std::isfinite(logits[Id("{")]));
}

TEST_CASE("the grammar cache compiles a schema once, keys on strict, and drops the least recently used") {
  GrammarCache cache(2);
  const Json a = Json::parse(test::kAnswerSchema), b = Json::parse(R"({"type":"integer"})");
  auto first = cache.JsonSchema(a, {});
  REQUIRE(first.ok());
  auto again = cache.JsonSchema(a, {});
  REQUIRE(again.ok());
  CHECK(first->get() == again->get());
  CHECK(cache.hits() == 1);
  auto strict = cache.JsonSchema(a, {true});
  REQUIRE(strict.ok());
  CHECK(strict->get() != first->get());
  REQUIRE(cache.JsonSchema(b, {}).ok());  // evicts a (loose), the least recently used
  CHECK(cache.size() == 2);
  auto a3 = cache.JsonSchema(a, {});
  REQUIRE(a3.ok());
  CHECK(a3->get() != first->get());  // compiled anew
  CHECK(cache.misses() == 4);
  CHECK_FALSE(cache.JsonSchema(Json::parse(R"({"type":"integer","maximum":3})"), {}).ok());
  CHECK(cache.size() == 2);
}

}  // namespace
}  // namespace glmv
