// The GLM tokenizer on its real vocabulary (tiktoken ranks from ../shared/ref; linked with test_main_shared,
// so the executable skips, exit 77, without ../shared):
// the published GLM-4.5 test vector, round trips over a multilingual corpus, and the cross-check of the
// two independent BPE paths (rank-driven from tokenizer.model, merge-driven from a tokenizer.json
// built from the same ranks).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>

#include "lib/tokenizer/tokenizer.h"
#include "lib/tokenizer/tokenizer_json.h"
#include "tests/lib/tokenizer_test_util.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using Ids = std::vector<int64_t>;

// From jpossaz/nai-tok's GLM-4.5 tests, made with the real zai-org/GLM-4.5 tokenizer.json
// (../shared/ref/glm-4.5v/SOURCES.md).
const char kPublishedText[] = "[gMASK]this is a test where da goose is cooked<|system|>no<|user|>yes<|assistant|>maybe";
const Ids kPublishedIds = {151331, 574, 374, 264, 1273, 1380, 2994, 61701, 374, 28998, 151335, 2152, 151336, 9689,
                           151337, 36569};

TEST_CASE("GLM tiktoken path: the published GLM-4.5 vectors") {
  GLMV_GET_TOKENIZER(tok, test::GlmTiktoken);
  CHECK(tok->Encode(kPublishedText) == kPublishedIds);
  CHECK(tok->Encode("Hello, world!") == Ids{9703, 11, 1879, 0});
  CHECK(tok->Decode(kPublishedIds) == kPublishedText);
  CHECK(tok->size() == 151365);
}

TEST_CASE("GLM tokenizer.json path: the published GLM-4.5 vectors") {
  GLMV_GET_TOKENIZER(tok, test::GlmHfFromRanks);
  CHECK(tok->Encode(kPublishedText) == kPublishedIds);
  CHECK(tok->Encode("Hello, world!") == Ids{9703, 11, 1879, 0});
  CHECK(tok->size() == 151365);
}

TEST_CASE("GLM special tokens: ids, flags and text (spec §5.2)") {
  GLMV_GET_TOKENIZER(tok, test::GlmTiktoken);
  CHECK(tok->TokenId("<|endoftext|>") == 151329);
  CHECK(tok->TokenId("[gMASK]") == 151331);
  CHECK(tok->TokenId("<sop>") == 151333);
  CHECK(tok->TokenId("<|user|>") == 151336);
  CHECK(tok->TokenId("<think>") == 151350);
  CHECK(tok->TokenId("/nothink") == 151360);
  CHECK(tok->TokenId("<|image|>") == 151363);
  CHECK(tok->TokenId("<|video|>") == 151364);
  CHECK(tok->TokenId("Hello") == 9703);  // regular tokens by raw bytes
  CHECK(tok->TokenId(" world") == 1879);
  CHECK_FALSE(tok->TokenId("<|no such token|>").has_value());
  CHECK(tok->IsSpecial(151336));
  CHECK(tok->IsAdded(151350));
  CHECK_FALSE(tok->IsSpecial(151350));  // <think> is added but "special": false
  CHECK_FALSE(tok->IsAdded(9703));
  CHECK(tok->TokenText(151337) == "<|assistant|>");
  CHECK(tok->TokenText(1879) == " world");
  CHECK(tok->added_tokens().size() == 36);
  // Unknown ids render as nothing and never crash.
  CHECK(tok->TokenText(-1).empty());
  CHECK(tok->TokenText(151365).empty());
  CHECK(tok->Decode(Ids{9703, -5, 1 << 30, 11, 151365, 1879}) == "Hello, world");
  // Added tokens: leftmost, then longest; no BOS is added.
  CHECK(tok->Encode("<|user|><|assistant|>") == Ids{151336, 151337});
  CHECK(tok->Encode("[gMASK]<sop>") == Ids{151331, 151333});
  // EncodeOrdinary treats them as text.
  const Ids plain = tok->EncodeOrdinary("<|user|>");
  CHECK(plain.size() > 1);
  CHECK(tok->Decode(plain) == "<|user|>");
}

TEST_CASE("GLM pre-tokenizer: digits in groups of at most three, contractions, whitespace") {
  GLMV_GET_TOKENIZER(tok, test::GlmTiktoken);
  auto pieces = [&](std::string_view s) {
    std::vector<std::string> out;
    for (int64_t id : tok->Encode(s)) out.push_back(tok->TokenText(id));
    return out;
  };
  // Regex pieces "123" "456" "7"; BPE then splits "456", which is not one token.
  CHECK(pieces("1234567") == std::vector<std::string>{"123", "45", "6", "7"});
  CHECK(pieces("don't") == std::vector<std::string>{"don", "'t"});
  CHECK(tok->Decode(tok->Encode("a  \n\n  b")) == "a  \n\n  b");
}

TEST_CASE("GLM round trip over the corpus, both paths") {
  GLMV_GET_TOKENIZER(tik, test::GlmTiktoken);
  GLMV_GET_TOKENIZER(hf, test::GlmHfFromRanks);
  for (const std::string& s : test::CorpusCases()) {
    CAPTURE(s);
    CHECK(tik->Decode(tik->Encode(s)) == s);
    CHECK(hf->Decode(hf->Encode(s)) == s);
    CHECK(tik->Decode(tik->EncodeOrdinary(s)) == s);
  }
}

TEST_CASE("GLM cross-check: tokenizer.json built from the ranks gives the same ids on the corpus") {
  GLMV_GET_TOKENIZER(tik, test::GlmTiktoken);
  GLMV_GET_TOKENIZER(hf, test::GlmHfFromRanks);
  size_t total = 0;
  for (const std::string& s : test::CorpusCases()) {
    CAPTURE(s);
    const Ids a = tik->Encode(s);
    CHECK(a == hf->Encode(s));
    total += a.size();
  }
  MESSAGE("cross-checked " << total << " tokens");
}

TEST_CASE("GLM cross-check with ignore_merges=false: merges alone reproduce the ranks") {
  // Without the whole-piece shortcut every id must come out of the derived merge list. Some GLM tokens
  // (" Việt", ...) are not reachable by rank BPE from their own bytes; tiktoken emits them only when a
  // piece is exactly that token. They must be the only difference.
  GLMV_GET_TOKENIZER(tik, test::GlmTiktoken);
  HfJsonOptions options;
  options.ignore_merges = false;
  auto json = BuildHfTokenizerJsonFromTiktoken(test::GlmRanksPath().string(), test::Glm45ConfigPath().string(), options);
  REQUIRE_MESSAGE(json.ok(), json.status().message());
  MESSAGE(json->merges << " merges derived; " << json->unreachable << " tokens no merge sequence reaches");
  CHECK(json->merges + json->unreachable + 256 == 151329);
  auto parts = ParseHfTokenizerJson(json->json, "built tokenizer.json");
  REQUIRE_MESSAGE(parts.ok(), parts.status().message());
  auto hf = Tokenizer::Create(std::move(parts).value());
  REQUIRE_MESSAGE(hf.ok(), hf.status().message());
  size_t differing = 0;
  for (const std::string& s : test::CorpusCases()) {
    CAPTURE(s);
    const Ids a = tik->Encode(s), b = (*hf)->Encode(s);
    CHECK((*hf)->Decode(b) == s);
    if (a == b) continue;
    ++differing;
    for (int64_t id : a) {
      if (std::find(b.begin(), b.end(), id) != b.end()) continue;
      const std::string text = tik->TokenText(id);
      CAPTURE(text);
      CHECK((*hf)->Encode(text).size() > 1);  // unreachable through merges
    }
  }
  MESSAGE(differing << " corpus cases hit unreachable tokens");
  CHECK(differing > 0);  // the corpus does contain one (" Việt"), so this test has teeth
}

TEST_CASE("GLM encoding speed (cold and warm cache)") {
  GLMV_GET_TOKENIZER(hf, test::GlmHfFromRanks);
  // A fresh tokenizer for a cold cache: the shared ones have seen the corpus already.
  auto tik = Tokenizer::FromTiktoken(test::GlmRanksPath().string(), test::Glm45ConfigPath().string());
  REQUIRE(tik.ok());
  const std::string text = test::CorpusText();
  auto time_ms = [&](const Tokenizer& t, size_t& n) {
    const auto start = std::chrono::steady_clock::now();
    n = t.Encode(text).size();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  size_t n = 0;
  const double cold = time_ms(**tik, n);
  const double warm = time_ms(**tik, n);
  const double hf_ms = time_ms(*hf, n);
  MESSAGE("corpus: " << text.size() << " bytes -> " << n << " tokens; tiktoken path " << cold << " ms cold, " << warm
                     << " ms warm; tokenizer.json path " << hf_ms << " ms");
  CHECK(cold < 2000.0);  // generous: sanitizer builds run this too
}

}  // namespace
}  // namespace glmv
