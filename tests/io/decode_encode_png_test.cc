// WritePng / EncodePng: lossless round trips through our own decoder, atomic replacement, clear errors.
#include <doctest/doctest.h>

#include <filesystem>
#include <random>

#include "io/decode_image.h"
#include "io/encode_png.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

RgbImage RandomImage(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  RgbImage im = RgbImage::Black(w, h);
  for (auto& v : im.pixels) v = static_cast<uint8_t>(rng());
  return im;
}

TEST_CASE("encode: WritePng round-trips exactly and leaves no temporary files") {
  test::TempDir dir;
  for (const auto& [w, h] : {std::pair{37, 23}, std::pair{1, 1}, std::pair{3000, 1}, std::pair{1, 700}}) {
    const RgbImage image = RandomImage(w, h, static_cast<uint32_t>(w * 1000 + h));
    const fs::path path = dir / ("out_" + std::to_string(w) + "x" + std::to_string(h) + ".png");
    REQUIRE(WritePng(path.string(), image).ok());
    auto back = DecodeImageFile(path.string());
    REQUIRE_MESSAGE(back.ok(), back.status().message());
    CHECK(back->width == w);
    CHECK(back->height == h);
    CHECK(back->pixels == image.pixels);
  }
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    CHECK_MESSAGE(e.path().extension() == ".png", e.path().string());
    ++files;
  }
  CHECK(files == 4);
}

TEST_CASE("encode: WritePng replaces an existing file whole") {
  test::TempDir dir;
  const std::string path = (dir / "x.png").string();
  REQUIRE(WritePng(path, RandomImage(8, 8, 1)).ok());
  const RgbImage second = RandomImage(20, 10, 2);
  REQUIRE(WritePng(path, second).ok());
  auto back = DecodeImageFile(path);
  REQUIRE(back.ok());
  CHECK(back->pixels == second.pixels);
  CHECK((fs::status(path).permissions() & fs::perms::others_read) != fs::perms::none);
}

TEST_CASE("encode: errors are clear and leave nothing behind") {
  test::TempDir dir;
  const std::string missing_dir = (dir / "no" / "such" / "x.png").string();
  const Status s = WritePng(missing_dir, RandomImage(2, 2, 3));
  REQUIRE(!s.ok());
  CHECK(s.message().find(missing_dir) == 0);
  CHECK(!fs::exists(dir / "no"));

  RgbImage empty;
  CHECK(!EncodePng(empty).ok());
  RgbImage wrong = RandomImage(4, 4, 4);
  wrong.pixels.pop_back();
  auto e = EncodePng(wrong);
  REQUIRE(!e.ok());
  CHECK(e.status().message().find("4x4x3") != std::string::npos);
  CHECK(!WritePng((dir / "bad.png").string(), wrong).ok());
  CHECK(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace glmv
