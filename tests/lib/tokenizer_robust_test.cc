// Inputs no reference tokenizer accepts: random and ill-formed bytes (round trip exact, no crash; these
// also run under ASan/UBSan), the UTF-8 validator against PCRE2's own, streaming decode, and pieces
// long enough to expose quadratic BPE.
#include <doctest/doctest.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <chrono>
#include <random>
#include <thread>

#include "lib/tokenizer/tokenizer.h"
#include "lib/tokenizer/tokenizer_utf8.h"
#include "tests/lib/tokenizer_test_util.h"

namespace glmv {
namespace {

using Ids = std::vector<int64_t>;

// Byte strings built from fragments chosen to hit every UTF-8 error class and the added-token matcher.
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
    const Ids ids = tok.Encode(s);
    for (int64_t id : ids) REQUIRE((id >= 0 && static_cast<size_t>(id) < tok.size()));
    if (tok.Decode(ids) != s) FAIL_CHECK("round trip failed on case " << i);
    if (tok.Decode(tok.EncodeOrdinary(s)) != s) FAIL_CHECK("ordinary round trip failed on case " << i);
  }
}

TEST_CASE("random and ill-formed bytes round-trip exactly (tiny tokenizer)") {
  GLMV_GET_TOKENIZER(tok, test::TinyTokenizer);
  CheckRandomRoundTrips(*tok, 3000);
  // Each ill-formed byte is its own byte token.
  CHECK(tok->Encode("\xFF") == Ids{0xFF});
  CHECK(tok->Encode("a\xC0\x80z") == Ids{'a', 0xC0, 0x80, 'z'});
}

TEST_CASE("random and ill-formed bytes round-trip exactly (GLM, both paths)") {
  GLMV_GET_TOKENIZER(tik, test::GlmTiktoken);
  GLMV_GET_TOKENIZER(hf, test::GlmHfFromRanks);
  CheckRandomRoundTrips(*tik, 3000);
  CheckRandomRoundTrips(*hf, 1000);
  std::mt19937 gen(7);
  for (int i = 0; i < 500; ++i) {
    const std::string s = RandomBytes(gen);
    REQUIRE(tik->Encode(s) == hf->Encode(s));
  }
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

double Ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
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
    const Ids ids = tok.Encode(s);
    const double ms = Ms(start);
    CAPTURE(label);
    CHECK(tok.Decode(ids) == s);
    MESSAGE(name << ": " << label << " -> " << ids.size() << " tokens in " << ms << " ms");
    CHECK(ms < 5000.0);  // quadratic BPE would take minutes here
  }
}

TEST_CASE("long pieces stay fast (tiny and GLM)") {
  GLMV_GET_TOKENIZER(tiny, test::TinyTokenizer);
  CheckLongPieces(*tiny, "tiny");
  GLMV_GET_TOKENIZER(tik, test::GlmTiktoken);
  CheckLongPieces(*tik, "GLM tiktoken");
  GLMV_GET_TOKENIZER(hf, test::GlmHfFromRanks);
  CheckLongPieces(*hf, "GLM tokenizer.json");
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
