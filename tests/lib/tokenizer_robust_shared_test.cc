// Inputs no reference tokenizer accepts, on the real GLM vocabulary from ../shared/ref (the executable skips,
// exit 77, without ../shared), through both code paths: random and ill-formed bytes (round trip exact, the two
// paths agree; these also run under ASan/UBSan), streaming decode of characters split across tokens, and pieces
// long enough to expose quadratic BPE.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "lib/tokenizer/tokenizer.h"
#include "lib/tokenizer/tokenizer_utf8.h"
#include "tests/lib/tokenizer_test_util.h"

namespace glmv {
namespace {

using Ids = std::vector<int64_t>;

TEST_CASE("random and ill-formed bytes round-trip exactly (GLM, both paths)") {
  GLMV_GET_TOKENIZER(tik, test::GlmTiktoken);
  GLMV_GET_TOKENIZER(hf, test::GlmHfFromRanks);
  test::CheckRandomRoundTrips(*tik, 3000);
  test::CheckRandomRoundTrips(*hf, 1000);
  std::mt19937 gen(7);
  for (int i = 0; i < 500; ++i) {
    const std::string s = test::RandomBytes(gen);
    REQUIRE(tik->Encode(s) == hf->Encode(s));
  }
}

TEST_CASE("StreamDecoder on GLM: multi-byte characters split across tokens") {
  GLMV_GET_TOKENIZER(tok, test::GlmTiktoken);
  const std::string text = "罕见字：龘靐齉爩 emoji 👩‍👩‍👧‍👦🧑🏿‍💻 done";
  const Ids ids = tok->Encode(text);
  Tokenizer::StreamDecoder d(*tok);
  std::string all;
  int held = 0;
  for (int64_t id : ids) {
    const std::string piece = d.Push(id);
    if (piece.size() < tok->TokenText(id).size()) ++held;
    CHECK(ReplaceInvalidUtf8(piece) == piece);  // every piece is valid UTF-8 on its own
    all += piece;
  }
  all += d.Flush();
  CHECK(all == text);
  MESSAGE(ids.size() << " tokens, " << held << " of them ended inside a character");
  CHECK(held > 0);  // the text does split characters across tokens
}

TEST_CASE("long pieces stay fast (GLM, both paths)") {
  GLMV_GET_TOKENIZER(tik, test::GlmTiktoken);
  test::CheckLongPieces(*tik, "GLM tiktoken");
  GLMV_GET_TOKENIZER(hf, test::GlmHfFromRanks);
  test::CheckLongPieces(*hf, "GLM tokenizer.json");
}

}  // namespace
}  // namespace glmv
