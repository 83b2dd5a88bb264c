// The tiny golden model's tokenizer (tests/data/tiny-glm4v-moe/tokenizer.json, written by
// tests/tools/make_tiny_tokenizer.py), and a second cross-check of the two BPE paths that needs no
// reference files: the same vocabulary written as tiktoken ranks.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "lib/tokenizer/tokenizer.h"
#include "lib/tokenizer/tokenizer_json.h"
#include "tests/lib/tokenizer_test_util.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using Ids = std::vector<int64_t>;

std::string Base64(std::string_view bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// Writes `tok`'s regular tokens as tokenizer.model and its added tokens as tokenizer_config.json.
void WriteAsTiktoken(const Tokenizer& tok, const test::TempDir& dir) {
  std::ofstream ranks(dir / "tokenizer.model", std::ios::binary);
  nlohmann::json decoder = nlohmann::json::object();
  for (int64_t id = 0; id < static_cast<int64_t>(tok.size()); ++id) {
    if (tok.IsAdded(id)) {
      decoder[std::to_string(id)] = {{"content", tok.TokenText(id)}, {"special", tok.IsSpecial(id)}};
    } else {
      ranks << Base64(tok.TokenText(id)) << ' ' << id << '\n';
    }
  }
  std::ofstream(dir / "tokenizer_config.json") << nlohmann::json{{"added_tokens_decoder", decoder}}.dump(2);
}

TEST_CASE("tiny tokenizer: loads from the golden directory with the README's ids") {
  GLMV_GET_TOKENIZER(tok, test::TinyTokenizer);
  CHECK(tok->size() == 300);
  CHECK(tok->TokenId("<|user|>") == 287);
  const std::vector<std::pair<const char*, int64_t>> ids = {
      {"<|endoftext|>", 280}, {"[gMASK]", 282}, {"<sop>", 284}, {"<|system|>", 286}, {"<|user|>", 287},
      {"<|assistant|>", 288}, {"<|observation|>", 289}, {"<|begin_of_image|>", 290}, {"<|end_of_image|>", 291},
      {"<|begin_of_video|>", 292}, {"<|end_of_video|>", 293}, {"<|image|>", 298}, {"<|video|>", 299}};
  for (const auto& [text, id] : ids) {
    CAPTURE(text);
    CHECK(tok->TokenId(text) == id);
    CHECK(tok->TokenText(id) == text);
    CHECK(tok->IsAdded(id));
  }
  for (int64_t id = 280; id < 300; ++id) CHECK(tok->IsAdded(id));
  CHECK(tok->IsSpecial(287));
  CHECK_FALSE(tok->IsSpecial(298));  // <|image|> is "special": false, as in GLM-4.5
  // Ids 0-255 are the bytes in plain order; 256.. are merges.
  CHECK(tok->TokenText('A') == "A");
  CHECK(tok->TokenText(0) == std::string(1, '\0'));
  CHECK(tok->TokenText(258) == " the");
}

TEST_CASE("tiny tokenizer: merges, added tokens and round trips") {
  GLMV_GET_TOKENIZER(tok, test::TinyTokenizer);
  CHECK(tok->Encode(" the") == Ids{258});
  CHECK(tok->Encode("the") == Ids{'t', 256});
  CHECK(tok->Encode(" and") == Ids{267});
  CHECK(tok->Encode("singing") == Ids{'s', 266, 266});
  CHECK(tok->Encode("[gMASK]<sop><|user|>hi<|assistant|>") == Ids{282, 284, 287, 'h', 'i', 288});
  for (const std::string& s : test::CorpusCases()) {
    CAPTURE(s);
    const Ids ids = tok->Encode(s);
    CHECK(tok->Decode(ids) == s);
    for (int64_t id : ids) CHECK((id >= 0 && id < 300));
  }
}

TEST_CASE("tiny tokenizer: the tiktoken path on the same vocabulary gives the same ids") {
  GLMV_GET_TOKENIZER(hf, test::TinyTokenizer);
  test::TempDir dir;
  WriteAsTiktoken(*hf, dir);
  auto tik = Tokenizer::LoadFromDir(dir.path().string());  // no tokenizer.json: the ranks branch
  REQUIRE_MESSAGE(tik.ok(), tik.status().message());
  CHECK((*tik)->size() == 300);
  CHECK((*tik)->TokenId("<|user|>") == 287);
  for (const std::string& s : test::CorpusCases()) {
    CAPTURE(s);
    CHECK((*tik)->Encode(s) == hf->Encode(s));
  }
  // And back: the tokenizer.json built from those ranks recovers the generator's 24 merges.
  auto json = BuildHfTokenizerJsonFromTiktoken((dir / "tokenizer.model").string(),
                                               (dir / "tokenizer_config.json").string());
  REQUIRE_MESSAGE(json.ok(), json.status().message());
  CHECK(json->merges == 24);
  CHECK(json->unreachable == 0);
  const auto built = nlohmann::json::parse(json->json);
  std::ifstream f(test::DataDir() / "tiny-glm4v-moe" / "tokenizer.json");
  const auto original = nlohmann::json::parse(f);
  CHECK(built["model"]["merges"] == original["model"]["merges"]);
  CHECK(built["model"]["vocab"] == original["model"]["vocab"]);
  CHECK(built["added_tokens"] == original["added_tokens"]);
}

}  // namespace
}  // namespace glmv
