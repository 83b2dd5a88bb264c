// PilResizeBicubic: properties that hold for any correct separable resampler, and its speed. The comparison
// with Pillow 9.4 on the golden files of ../shared is pil_resize_shared_test.cc.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "lib/media/pil_resize.h"

namespace glmv {
namespace {

RgbImage MakeImage(int width, int height, uint32_t seed) {
  RgbImage im;
  im.width = width;
  im.height = height;
  im.pixels.resize(static_cast<size_t>(width) * height * 3);
  uint32_t s = seed;
  for (auto& p : im.pixels) {
    s = s * 1664525u + 1013904223u;  // LCG: deterministic noise with full 0..255 range
    p = static_cast<uint8_t>(s >> 24);
  }
  return im;
}

RgbImage Transpose(const RgbImage& in) {
  RgbImage out;
  out.width = in.height;
  out.height = in.width;
  out.pixels.resize(in.pixels.size());
  for (int y = 0; y < in.height; ++y) {
    for (int x = 0; x < in.width; ++x) {
      for (int c = 0; c < 3; ++c) out.Row(x)[y * 3 + c] = in.Row(y)[x * 3 + c];
    }
  }
  return out;
}

TEST_CASE("pil resize: bad sizes are errors") {
  RgbImage empty;
  auto r = PilResizeBicubic(empty, 10, 10);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("empty") != std::string::npos);
  const RgbImage im = MakeImage(8, 8, 1);
  CHECK_FALSE(PilResizeBicubic(im, 0, 10).ok());
  CHECK_FALSE(PilResizeBicubic(im, 10, -1).ok());
  CHECK_FALSE(PilResizeBicubic(im, 1 << 15, 1 << 14).ok());  // 2^29 pixels: refused before allocating
  RgbImage short_buffer = im;
  short_buffer.pixels.pop_back();
  CHECK_FALSE(PilResizeBicubic(short_buffer, 4, 4).ok());
}

TEST_CASE("pil resize: the same size is a copy") {
  const RgbImage im = MakeImage(37, 23, 2);
  auto r = PilResizeBicubic(im, 37, 23);
  REQUIRE(r.ok());
  CHECK(r->pixels == im.pixels);
}

TEST_CASE("pil resize: a flat image stays flat when shrinking and enlarging") {
  for (uint8_t v : {uint8_t{0}, uint8_t{1}, uint8_t{128}, uint8_t{254}, uint8_t{255}}) {
    RgbImage im = MakeImage(50, 40, 0);
    std::fill(im.pixels.begin(), im.pixels.end(), v);
    for (auto [w, h] : {std::pair{7, 5}, std::pair{123, 97}, std::pair{50, 3}, std::pair{1, 1}}) {
      auto r = PilResizeBicubic(im, w, h);
      REQUIRE(r.ok());
      CHECK(r->width == w);
      CHECK(r->height == h);
      bool flat = std::all_of(r->pixels.begin(), r->pixels.end(), [v](uint8_t p) { return p == v; });
      CHECK_MESSAGE(flat, "value " << int(v) << " to " << w << "x" << h);
    }
  }
}

TEST_CASE("pil resize: a one-axis resize is the same along either axis") {
  // Only one pass runs, so resizing the transposed image must give the transposed result.
  const RgbImage im = MakeImage(91, 33, 3);
  for (int w : {17, 64, 200}) {
    auto a = PilResizeBicubic(im, w, im.height);
    auto b = PilResizeBicubic(Transpose(im), im.height, w);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(Transpose(*a).pixels == b->pixels);
  }
}

TEST_CASE("pil resize: a 12 MP photo resizes well under a second") {
  // CPU time (all threads) is checked rather than wall time, which a busy machine inflates at will.
  const RgbImage im = MakeImage(4000, 3000, 4);
  for (auto [w, h] : {std::pair{252, 168}, std::pair{2520, 1876}}) {
    const std::clock_t c0 = std::clock();
    const auto t0 = std::chrono::steady_clock::now();
    auto r = PilResizeBicubic(im, w, h);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    REQUIRE(r.ok());
    MESSAGE("4000x3000 -> " << w << "x" << h << ": " << cpu * 1000 << " ms CPU, " << wall * 1000 << " ms wall");
#if !defined(__SANITIZE_ADDRESS__) && defined(NDEBUG)
    CHECK(cpu < 1.0);  // only meaningful in an optimised, uninstrumented build
#endif
  }
}

}  // namespace
}  // namespace glmv
