#include "tests/lib/tokenizer_test_util.h"

#include <fstream>
#include <sstream>

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

}  // namespace glmv::test
