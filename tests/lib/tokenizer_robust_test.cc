// Inputs no reference tokenizer accepts, on the tiny tokenizer: random and ill-formed bytes (round trip exact,
// no crash; these also run under ASan/UBSan), the UTF-8 validator against PCRE2's own, streaming decode, and
// pieces long enough to expose quadratic BPE. The same on the real GLM vocabulary from ../shared is
// tokenizer_robust_shared_test.cc.
#include <doctest/doctest.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <random>
#include <thread>

#include "lib/tokenizer/tokenizer.h"
#include "lib/tokenizer/tokenizer_utf8.h"
#include "tests/lib/tokenizer_test_util.h"

namespace glmv {
namespace {

using Ids = std::vector<int64_t>;

TEST_CASE("random and ill-formed bytes round-trip exactly (tiny tokenizer)") {
  GLMV_GET_TOKENIZER(tok, test::TinyTokenizer);
  test::CheckRandomRoundTrips(*tok, 3000);
  // Each ill-formed byte is its own byte token.
  CHECK(tok->Encode("\xFF") == Ids{0xFF});
  CHECK(tok->Encode("a\xC0\x80z") == Ids{'a', 0xC0, 0x80, 'z'});
}

TEST_CASE("the UTF-8 validator agrees with PCRE2's") {
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>("x"), 1, PCRE2_UTF, &err, &off, nullptr);
  REQUIRE(code != nullptr);
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  std::mt19937 gen(99);
  std::uniform_int_distribution<int> len(1, 6), byte(0x70, 0xFF);  // mostly non-ASCII bytes
  int valid = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    for (int k = len(gen); k > 0; --k) s += static_cast<char>(byte(gen));
    size_t pos = 0;
    while (pos < s.size() && Utf8CharLength(std::string_view(s).substr(pos)) != 0) {
      pos += Utf8CharLength(std::string_view(s).substr(pos));
    }
    const bool ours = pos == s.size();
    const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, 0, md, nullptr);
    const bool theirs = rc == PCRE2_ERROR_NOMATCH || rc >= 0;  // anything else is a UTF-8 error
    if (ours != theirs) FAIL_CHECK("disagree on " << i);
    valid += ours;
  }
  MESSAGE(valid << " of 200000 random strings were well-formed");
  CHECK(valid > 1000);
  pcre2_match_data_free(md);
  pcre2_code_free(code);
}

TEST_CASE("UTF-8 helpers") {
  CHECK(Utf8CharLength("\xF4\x8F\xBF\xBF") == 4);  // U+10FFFF
  CHECK(Utf8CharLength("\xF4\x90\x80\x80") == 0);
  CHECK(Utf8CharLength("\xED\x9F\xBF") == 3);  // U+D7FF
  CHECK(Utf8CharLength("\xED\xA0\x80") == 0);  // U+D800
  CHECK(Utf8CharLength("\xE0\x9F\xBF") == 0);  // overlong
  CHECK(IncompleteUtf8Tail("ab\xE4\xB8") == 2);
  CHECK(IncompleteUtf8Tail("ab\xE4\xB8\xAD") == 0);
  CHECK(IncompleteUtf8Tail("ab\xED\xA0") == 0);  // can never complete: a surrogate
  CHECK(IncompleteUtf8Tail("\xF0\x9F\x98") == 3);
  CHECK(IncompleteUtf8Tail("\x80\x80\x80") == 0);
  CHECK(ReplaceInvalidUtf8("a\xFF" "b\xE4\xB8" "c\xF0\x9F\x98\x80") == "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xF0\x9F\x98\x80");
}

TEST_CASE("StreamDecoder holds back a split character and never stalls") {
  GLMV_GET_TOKENIZER(tok, test::TinyTokenizer);  // ids 0-255 are bytes, so any split can be made
  Tokenizer::StreamDecoder d(*tok);
  CHECK(d.Push(0xE2) == "");
  CHECK(d.Push(0x82) == "");
  CHECK(d.Push(0xAC) == "\xE2\x82\xAC");  // €
  CHECK(d.Push(0xF0) == "");
  CHECK(d.Push('a') == "\xF0" "a");  // known ill-formed: emitted raw at once
  CHECK(d.Push(0xFF) == "\xFF");
  CHECK(d.Push(258) == " the");
  CHECK(d.Push(-1) == "");  // unknown ids render as nothing
  CHECK(d.Push(0xE4) == "");
  CHECK(d.Flush() == "\xE4");  // the unfinished tail, raw
  CHECK(d.Flush() == "");

  // Any id sequence: the pieces concatenate to Decode(all).
  std::mt19937 gen(3);
  std::uniform_int_distribution<int> id(-2, 301);
  for (int round = 0; round < 200; ++round) {
    Ids ids(40);
    for (auto& x : ids) x = id(gen);
    Tokenizer::StreamDecoder s(*tok);
    std::string all;
    for (int64_t x : ids) all += s.Push(x);
    all += s.Flush();
    CHECK(all == tok->Decode(ids));
  }
  // Well-formed text sent byte by byte: every piece is well-formed on its own, i.e. no character is
  // ever split between two pieces.
  const std::string text = "añ中😀👩‍👧 ok \xF4\x8F\xBF\xBF end";
  Tokenizer::StreamDecoder s(*tok);
  std::string all;
  for (char c : text) {
    const std::string piece = s.Push(static_cast<uint8_t>(c));
    CHECK(ReplaceInvalidUtf8(piece) == piece);
    all += piece;
  }
  CHECK(s.Flush().empty());
  CHECK(all == text);
}

TEST_CASE("long pieces stay fast (tiny)") {
  GLMV_GET_TOKENIZER(tiny, test::TinyTokenizer);
  test::CheckLongPieces(*tiny, "tiny");
}

TEST_CASE("Encode is safe from several threads at once") {
  GLMV_GET_TOKENIZER(tok, test::TinyTokenizer);
  const std::string text = test::CorpusText();
  const Ids expected = tok->Encode(text);
  std::vector<Ids> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) r = tok->Encode(text);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) CHECK(r == expected);
}

}  // namespace
}  // namespace glmv
