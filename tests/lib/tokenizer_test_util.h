// Shared by the tokenizer tests: the real GLM tokenizer loaded once per test binary through each of its
// two code paths, the test corpus, and the robustness checks run on the tiny and the GLM tokenizer.
#pragma once

#include <filesystem>
#include <memory>
#include <random>
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
// The tiktoken path; nullptr when the reference files are absent. Only the executables linked with
// test_main_shared use it (they skip when ../shared is absent).
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

// Byte strings built from fragments chosen to hit every UTF-8 error class and the added-token matcher.
std::string RandomBytes(std::mt19937& gen);
// `n` random byte strings (seed 12345) round-trip exactly through Encode and EncodeOrdinary, ids in range.
void CheckRandomRoundTrips(const Tokenizer& tok, int n);
// Pieces long enough to expose quadratic BPE (100k spaces, digits, ...) round-trip in under 5 s each.
void CheckLongPieces(const Tokenizer& tok, const std::string& name);

}  // namespace glmv::test

// Declares `const Tokenizer* var` from a LoadedTokenizer getter. The GLM getters run only in executables that
// skip (exit 77) without ../shared, so files of it missing here FAIL the test, naming them.
#define GLMV_GET_TOKENIZER(var, getter)                                                          \
  const ::glmv::Tokenizer* var = nullptr;                                                        \
  do {                                                                                           \
    const auto* loaded_ = (getter)();                                                            \
    if (loaded_ == nullptr) {                                                                    \
      FAIL("reference tokenizer files are missing from ../shared: "                              \
           << ::glmv::test::GlmRanksPath() << ", " << ::glmv::test::Glm45ConfigPath());          \
    }                                                                                            \
    REQUIRE_MESSAGE(loaded_->ok(), loaded_->status().message());                                 \
    var = loaded_->value().get();                                                                \
  } while (0)
