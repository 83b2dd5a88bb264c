// Shared by the tokenizer tests: the real GLM tokenizer loaded once per test binary through each of its
// two code paths, and the test corpus.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/status.h"
#include "lib/tokenizer/tokenizer.h"

namespace glmv::test {

// glm-4-9b-chat's tiktoken ranks (restrictively licensed: read from ../shared, never copied here) and
// GLM-4.5's tokenizer_config.json (its 36 added tokens).
std::filesystem::path GlmRanksPath();
std::filesystem::path Glm45ConfigPath();

using LoadedTokenizer = Result<std::unique_ptr<Tokenizer>>;
// The tiktoken path; nullptr when the reference files are absent.
const LoadedTokenizer* GlmTiktoken();
// The tokenizer.json path, on a tokenizer.json built from the ranks (BuildHfTokenizerJson) in a temp
// directory; nullptr when the reference files are absent.
const LoadedTokenizer* GlmHfFromRanks();
// tests/data/tiny-glm4v-moe/tokenizer.json.
const LoadedTokenizer* TinyTokenizer();

// tests/data/tokenizer/corpus.txt, line by line, plus inline cases a text file cannot carry safely
// (tabs, CRLF, NUL, trailing whitespace, long runs).
std::vector<std::string> CorpusCases();
std::string CorpusText();  // the file as one string

}  // namespace glmv::test

// Declares `const Tokenizer* var` from a LoadedTokenizer getter; skips the test when it is absent.
#define GLMV_GET_TOKENIZER(var, getter)                                                        \
  const ::glmv::Tokenizer* var = nullptr;                                                      \
  do {                                                                                         \
    const auto* loaded_ = (getter)();                                                          \
    if (loaded_ == nullptr) {                                                                  \
      MESSAGE("skipped: reference tokenizer files are absent: " << ::glmv::test::GlmRanksPath()); \
      return;                                                                                  \
    }                                                                                          \
    REQUIRE_MESSAGE(loaded_->ok(), loaded_->status().message());                               \
    var = loaded_->value().get();                                                              \
  } while (0)
