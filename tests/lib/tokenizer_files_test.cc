// Malformed and unsupported tokenizer files: each is an error that names the file (and the line or
// key), never a crash or a silently different tokenizer. Also the accepted variants of tokenizer.json.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "lib/tokenizer/tokenizer.h"
#include "tests/lib/tokenizer_test_util.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using nlohmann::json;

// The 256 single bytes as base64 rank lines, then `extra`.
std::string ByteRanks(const std::string& extra = "") {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (int b = 0; b < 256; ++b) {
    out += kAlphabet[b >> 2];
    out += kAlphabet[(b & 3) << 4];
    out += "== " + std::to_string(b) + "\n";
  }
  return out + extra;
}

const char kConfig[] = R"({"added_tokens_decoder": {"300": {"content": "<|user|>", "special": true}}})";

void Write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

// The error from loading a tiktoken pair with these contents ("" when it loads).
std::string TiktokenError(const std::string& ranks, const std::string& config = kConfig) {
  test::TempDir dir;
  Write(dir / "tokenizer.model", ranks);
  Write(dir / "tokenizer_config.json", config);
  auto t = Tokenizer::LoadFromDir(dir.path().string());
  return t.ok() ? "" : t.status().message();
}

json TinyJson() {
  std::ifstream f(test::DataDir() / "tiny-glm4v-moe" / "tokenizer.json");
  return json::parse(f);
}

std::string HfError(const std::string& text) {
  test::TempDir dir;
  Write(dir / "tokenizer.json", text);
  auto t = Tokenizer::FromHfJson((dir / "tokenizer.json").string());
  return t.ok() ? "" : t.status().message();
}

TEST_CASE("a directory without tokenizer files") {
  test::TempDir dir;
  auto t = Tokenizer::LoadFromDir(dir.path().string());
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().message().find(dir.path().string()) != std::string::npos);
  CHECK(t.status().message().find("neither tokenizer.json nor tokenizer.model") != std::string::npos);

  Write(dir / "tokenizer.model", ByteRanks());
  t = Tokenizer::LoadFromDir(dir.path().string());
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().message().find("tokenizer_config.json") != std::string::npos);
}

TEST_CASE("a minimal valid ranks file loads") {
  CHECK(TiktokenError(ByteRanks()) == "");
  CHECK(TiktokenError(ByteRanks("aGk= 256\n")) == "");  // "hi"
}

TEST_CASE("malformed tokenizer.model") {
  auto has = [](const std::string& error, const std::string& what) {
    CAPTURE(error);
    CHECK(error.find("tokenizer.model") != std::string::npos);
    CHECK(error.find(what) != std::string::npos);
  };
  has(TiktokenError(ByteRanks("a$k= 256\n")), ":257: bad base64");
  has(TiktokenError(ByteRanks("aGk 256\n")), ":257: bad base64");    // length not a multiple of 4
  has(TiktokenError(ByteRanks("a=k= 256\n")), ":257: bad base64");   // padding inside
  has(TiktokenError(ByteRanks("aGk=\n")), ":257: expected `base64 rank`");
  has(TiktokenError(ByteRanks("aGk= x1\n")), ":257: bad rank");
  has(TiktokenError(ByteRanks("aGk= -1\n")), ":257: bad rank");
  has(TiktokenError(ByteRanks("aGk= 255\n")), "rank 255 appears twice");
  has(TiktokenError(ByteRanks("aGk= 257\n")), "ranks skip 256");
  has(TiktokenError(ByteRanks("AA== 256\n")), ":257: token repeats line 1");
  has(TiktokenError("aGk= 0\n"), "some byte value has no single-byte token");
  has(TiktokenError(""), "no ranks");
}

TEST_CASE("malformed tokenizer_config.json") {
  auto has = [](const std::string& error, const std::string& what) {
    CAPTURE(error);
    CHECK(error.find("tokenizer_config.json") != std::string::npos);
    CHECK(error.find(what) != std::string::npos);
  };
  has(TiktokenError(ByteRanks(), "{not json"), "invalid JSON");
  has(TiktokenError(ByteRanks(), R"({"additional_special_tokens": ["<|user|>"]})"), "no added_tokens_decoder");
  has(TiktokenError(ByteRanks(), R"({"added_tokens_decoder": {"x": {"content": "a"}}})"), "not a token id");
  has(TiktokenError(ByteRanks(), R"({"added_tokens_decoder": {"300": {"special": true}}})"), "content");
  has(TiktokenError(ByteRanks(), R"({"added_tokens_decoder": {"65": {"content": "<a>"}}})"), "which is a rank");
  has(TiktokenError(ByteRanks(), R"({"added_tokens_decoder": {"300": {"content": ""}}})"), "is empty");
  has(TiktokenError(ByteRanks(), R"({"added_tokens_decoder": {"300": {"content": "<a>"}, "301": {"content": "<a>"}}})"),
      "appears twice");
}

TEST_CASE("malformed or unsupported tokenizer.json") {
  auto has = [](const std::string& error, const std::string& what) {
    CAPTURE(error);
    CHECK(error.find("tokenizer.json") != std::string::npos);
    CHECK(error.find(what) != std::string::npos);
  };
  has(HfError("{\"model\": "), "invalid JSON");
  has(HfError("[]"), "not a JSON object");
  json j = TinyJson();
  j["model"].erase("merges");
  has(HfError(j.dump()), "missing model.merges");
  j = TinyJson();
  j["model"].erase("vocab");
  has(HfError(j.dump()), "missing model.vocab");
  j = TinyJson();
  j["model"]["merges"].push_back(json::array({"h", "zz"}));
  has(HfError(j.dump()), "model.merges[24]");
  j = TinyJson();
  j["model"]["merges"].push_back("t h e");
  has(HfError(j.dump()), "model.merges[24] is neither");
  j = TinyJson();
  j["model"]["merges"].push_back(json::array({"h", "e"}));
  has(HfError(j.dump()), "repeats an earlier merge");
  j = TinyJson();
  j["model"]["vocab"]["\u4e2d"] = 400;  // not a byte-level character
  has(HfError(j.dump()), "not in the byte-level alphabet");
  j = TinyJson();
  j["model"]["vocab"].erase("A");
  has(HfError(j.dump()), "lacks a token for some byte");
  j = TinyJson();
  j["model"]["type"] = "WordPiece";
  has(HfError(j.dump()), "model.type must be \"BPE\"");
  j = TinyJson();
  j["model"]["byte_fallback"] = true;
  has(HfError(j.dump()), "byte_fallback");
  j = TinyJson();
  j["normalizer"] = {{"type", "NFC"}};
  has(HfError(j.dump()), "normalizer \"NFC\" is unsupported");
  j = TinyJson();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  has(HfError(j.dump()), "unsupported pre_tokenizer type \"Whitespace\"");
  j = TinyJson();
  j["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true;
  has(HfError(j.dump()), "add_prefix_space");
  j = TinyJson();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {{"Regex", "(unclosed"}};
  has(HfError(j.dump()), "does not compile");
  j = TinyJson();
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
  has(HfError(j.dump()), "Isolated");
  j = TinyJson();
  j["added_tokens"][1]["id"] = 280;
  has(HfError(j.dump()), "two added tokens have id 280");
  j = TinyJson();
  j["model"]["vocab"]["xyz"] = 2000000000;  // would make id tables of 2e9 entries
  has(HfError(j.dump()), "model.vocab[\"xyz\"] is not an id");
  j = TinyJson();
  j["added_tokens"][0]["id"] = 2000000000;
  has(HfError(j.dump()), "outside [0, ");
  j = TinyJson();
  j["added_tokens"][0]["rstrip"] = true;
  has(HfError(j.dump()), "rstrip");
}

TEST_CASE("accepted tokenizer.json variants") {
  GLMV_GET_TOKENIZER(tiny, test::TinyTokenizer);
  test::TempDir dir;
  const std::string text = "the singing and 123456 <|user|> dogs'll";

  // Merges as "a b" strings (the older serialization) give the same tokenizer.
  json j = TinyJson();
  for (auto& m : j["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  Write(dir / "a.json", j.dump());
  auto a = Tokenizer::FromHfJson((dir / "a.json").string());
  REQUIRE_MESSAGE(a.ok(), a.status().message());
  CHECK((*a)->Encode(text) == tiny->Encode(text));

  // ByteLevel(use_regex=true) alone: GPT-2's pattern, whose digit runs are not capped at three.
  j = TinyJson();
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  Write(dir / "b.json", j.dump());
  auto b = Tokenizer::FromHfJson((dir / "b.json").string());
  REQUIRE_MESSAGE(b.ok(), b.status().message());
  CHECK((*b)->Decode((*b)->Encode(text)) == text);
  CHECK((*b)->Encode("123456").size() == 6);  // one piece, no digit merges: six byte tokens
  CHECK(tiny->Encode("123456").size() == 6);

  // ignore_merges: a piece that is a vocab token is emitted whole even where merges would not reach it.
  j = TinyJson();
  j["model"]["vocab"]["xyz"] = 300;  // no merge builds "xyz"
  j["added_tokens"] = json::array();
  Write(dir / "c.json", j.dump());
  auto c = Tokenizer::FromHfJson((dir / "c.json").string());
  REQUIRE(c.ok());
  CHECK((*c)->Encode("xyz") == std::vector<int64_t>{'x', 'y', 'z'});
  j["model"]["ignore_merges"] = true;
  Write(dir / "d.json", j.dump());
  auto d = Tokenizer::FromHfJson((dir / "d.json").string());
  REQUIRE(d.ok());
  CHECK((*d)->Encode("xyz") == std::vector<int64_t>{300});
}

}  // namespace
}  // namespace glmv
