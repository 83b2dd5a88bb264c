// data: URLs as OpenAI clients send images: strict base64 (with or without padding), the media type, and
// errors that say what is wrong and where.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/serve/data_url.h"

namespace glmv::app {
namespace {

std::string Text(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

TEST_CASE("base64: RFC 4648's test vectors, padded and unpadded") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CAPTURE(encoded);
    auto d = DecodeBase64(encoded);
    REQUIRE(d.ok());
    CHECK(Text(*d) == plain);
    std::string bare = encoded;
    while (!bare.empty() && bare.back() == '=') bare.pop_back();
    auto u = DecodeBase64(bare);
    REQUIRE(u.ok());
    CHECK(Text(*u) == plain);
  }
  auto all = DecodeBase64("AP8A/w==");  // the whole byte range's ends, and '/'
  REQUIRE(all.ok());
  CHECK(*all == std::vector<uint8_t>{0x00, 0xFF, 0x00, 0xFF});
}

TEST_CASE("base64: a bad character, a stray length or misplaced padding is an error that says where") {
  auto bad = DecodeBase64("Zm9v%mFy");
  REQUIRE(!bad.ok());
  CHECK(bad.status().message().find("'%' at offset 4") != std::string::npos);
  auto space = DecodeBase64("Zm9v YmFy");
  REQUIRE(!space.ok());
  CHECK(space.status().message().find("offset 4") != std::string::npos);
  CHECK(!DecodeBase64("Zm9vY").ok());      // 5 characters: no whole byte in the last one
  CHECK(!DecodeBase64("Zg=").ok());        // padding that does not end a group of 4
  CHECK(!DecodeBase64("Zm=9v").ok());      // '=' inside
}

TEST_CASE("data: URLs: media type and payload; what is not one is named") {
  auto png = ParseDataUrl("data:image/png;base64,iVBORw0KGgo=", "messages[0].content[1].image_url.url");
  REQUIRE(png.ok());
  CHECK(png->media_type == "image/png");
  CHECK(png->bytes.size() == 8);
  CHECK(png->bytes[1] == 'P');
  auto typed = ParseDataUrl("data:image/jpeg;name=x.jpg;base64,/9j/", "u");
  REQUIRE(typed.ok());
  CHECK(typed->media_type == "image/jpeg");
  for (const char* url : {"http://example.com/a.png", "data:image/png,plain-text", "data:image/png;base64",
                          "data:image/png;base64,", "data:image/png;base64,@@@@"}) {
    CAPTURE(url);
    auto r = ParseDataUrl(url, "messages[0].content[1].image_url.url");
    REQUIRE(!r.ok());
    CHECK(r.status().message().find("messages[0].content[1].image_url.url") == 0);
  }
}

}  // namespace
}  // namespace glmv::app
