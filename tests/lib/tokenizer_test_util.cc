#include "tests/lib/tokenizer_test_util.h"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string_view>
#include <utility>

#include "lib/tokenizer/tokenizer_json.h"
#include "tests/test_util.h"

namespace glmv::test {

std::filesystem::path GlmRanksPath() { return SharedDir() / "ref" / "glm-4.5v" / "glm-4-9b-chat" / "tokenizer.model"; }
std::filesystem::path Glm45ConfigPath() { return SharedDir() / "ref" / "glm-4.5v" / "glm-4.5" / "tokenizer_config.json"; }

namespace {
bool HaveGlmFiles() { return std::filesystem::exists(GlmRanksPath()) && std::filesystem::exists(Glm45ConfigPath()); }
}  // namespace

const LoadedTokenizer* GlmTiktoken() {
  if (!HaveGlmFiles()) return nullptr;
  static const LoadedTokenizer tok = Tokenizer::FromTiktoken(GlmRanksPath().string(), Glm45ConfigPath().string());
  return &tok;
}

const LoadedTokenizer* GlmHfFromRanks() {
  if (!HaveGlmFiles()) return nullptr;
  static const LoadedTokenizer tok = []() -> LoadedTokenizer {
    auto json = BuildHfTokenizerJsonFromTiktoken(GlmRanksPath().string(), Glm45ConfigPath().string());
    if (!json.ok()) return json.status();
    TempDir dir;
    const auto path = dir / "tokenizer.json";
    std::ofstream(path, std::ios::binary) << json->json;
    return Tokenizer::LoadFromDir(dir.path().string());  // exercises the tokenizer.json branch
  }();
  return &tok;
}

const LoadedTokenizer* TinyTokenizer() {
  static const LoadedTokenizer tok = Tokenizer::LoadFromDir((DataDir() / "tiny-glm4v-moe").string());
  return &tok;
}

std::string CorpusText() {
  std::ifstream f(DataDir() / "tokenizer" / "corpus.txt", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> CorpusCases() {
  std::vector<std::string> cases;
  std::istringstream in(CorpusText());
  for (std::string line; std::getline(in, line);) cases.push_back(line);
  const std::vector<std::string> inline_cases = {
      "",
      " ",
      "\t",
      "tab\tseparated\tvalues\t\t",
      "windows\r\nline\r\nendings\r\n",
      "trailing spaces   ",
      "trailing newlines\n\n\n",
      "\n\n  \n\t\n leading",
      std::string("nul\0byte", 8),
      std::string(1000, ' ') + "x",
      std::string(300, '\n'),
      std::string(500, 'a'),
      "1234567890123456789",
      "<|user|><|user|><|assistant|>",
      "<|endoftext|>",
      "x<|endoftext|>y",
  };
  cases.insert(cases.end(), inline_cases.begin(), inline_cases.end());
  cases.push_back(CorpusText());
  return cases;
}

std::string RandomBytes(std::mt19937& gen) {
  static const std::vector<std::string> kFragments = {
      "a", " ", "\n", "\r\n", "\t", "1", "é", "中", "😀", "\xE2\x80\x8D",  // ZWJ
      std::string(1, '\0'), "\x80", "\xBF", "\xC0\x80", "\xC1\xBF",    // lone continuation, overlong NUL
      "\xE0\x80\x80", "\xF0\x80\x80\x80",                                // overlong 3 and 4 bytes
      "\xED\xA0\x80", "\xED\xBF\xBF",                                    // UTF-8-encoded surrogates
      "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFE", "\xFF",            // above U+10FFFF, never valid
      "\xC3", "\xE4\xB8", "\xF0\x9F\x98",                                // truncated sequences
      "<|user|>", "<|user", "[gMASK]", "<", "|", "'s", "'S"};
  std::uniform_int_distribution<int> len(0, 60), pick(0, static_cast<int>(kFragments.size()) - 1), byte(0, 255),
      coin(0, 3);
  std::string s;
  for (int i = len(gen); i > 0; --i) {
    if (coin(gen) == 0) {
      s += static_cast<char>(byte(gen));
    } else {
      s += kFragments[pick(gen)];
    }
  }
  return s;
}

void CheckRandomRoundTrips(const Tokenizer& tok, int n) {
  std::mt19937 gen(12345);
  for (int i = 0; i < n; ++i) {
    const std::string s = RandomBytes(gen);
    const std::vector<int64_t> ids = tok.Encode(s);
    for (int64_t id : ids) REQUIRE((id >= 0 && static_cast<size_t>(id) < tok.size()));
    if (tok.Decode(ids) != s) FAIL_CHECK("round trip failed on case " << i);
    if (tok.Decode(tok.EncodeOrdinary(s)) != s) FAIL_CHECK("ordinary round trip failed on case " << i);
  }
}

void CheckLongPieces(const Tokenizer& tok, const std::string& name) {
  auto repeat = [](std::string_view unit, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += unit;
    return s;
  };
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {"100k spaces", std::string(100000, ' ')},      {"100k 'a'", std::string(100000, 'a')},
      {"50k newlines + x", std::string(50000, '\n') + "x"}, {"20k emoji", repeat("\xF0\x9F\x98\x80", 20000)},
      {"100k digits", std::string(100000, '7')},     {"30k 'ab'", repeat("ab", 30000)}};
  for (const auto& [label, s] : inputs) {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<int64_t> ids = tok.Encode(s);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    CAPTURE(label);
    CHECK(tok.Decode(ids) == s);
    MESSAGE(name << ": " << label << " -> " << ids.size() << " tokens in " << ms << " ms");
    CHECK(ms < 5000.0);  // quadratic BPE would take minutes here
  }
}

}  // namespace glmv::test
