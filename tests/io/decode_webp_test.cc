// WebP through io/decode_webp.h and the image entry point, on files the test encodes from known pixels with
// libwebp's own encoder: lossless round trips bit for bit, lossy within a stated tolerance, alpha dropped
// without compositing, an animation's first frame, EXIF orientation, the pixel limit before allocation, and
// every cut-off or damaged file an error that names the file.
#include <doctest/doctest.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "io/decode_image.h"
#include "io/decode_webp.h"
#include "io/exif.h"
#include "io/sniff_media.h"
#include "tests/io/webp_test_util.h"

namespace glmv {
namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A picture as RGBA with one alpha value for every pixel.
std::vector<uint8_t> WithAlpha(const RgbImage& image, uint8_t alpha) {
  std::vector<uint8_t> rgba;
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    rgba.insert(rgba.end(), {image.pixels[i], image.pixels[i + 1], image.pixels[i + 2], alpha});
  }
  return rgba;
}

TEST_CASE("webp: a lossless file decodes bit for bit, through DecodeWebp and the image entry point") {
  for (const auto& [w, h] : {std::pair{37, 23}, std::pair{1, 1}, std::pair{200, 3}}) {
    const RgbImage source = test::WebpTestPattern(w, h, 7);
    const std::vector<uint8_t> webp = test::EncodeWebpLossless(source);
    REQUIRE(!webp.empty());
    CHECK(SniffImageFormat(webp) == ImageFormat::kWebp);
    const MediaSniff sniff = SniffMediaBytes(webp);
    CHECK(sniff.kind == MediaKind::kImage);
    CHECK(sniff.format == "webp");
    auto direct = DecodeWebp(webp, "p.webp", DecodeLimits{});
    REQUIRE_MESSAGE(direct.ok(), direct.status().message());
    auto image = DecodeImageBytes(webp, "p.webp");
    REQUIRE_MESSAGE(image.ok(), image.status().message());
    CHECK(image->width == w);
    CHECK(image->height == h);
    CHECK(image->pixels == source.pixels);
    CHECK(direct->pixels == source.pixels);
  }
}

// Smooth colour ramps: what lossy coding keeps well (the noisy checkerboard of WebpTestPattern loses its blue
// detail to 4:2:0 chroma subsampling, which says nothing about the decoder).
RgbImage Ramps(int width, int height) {
  RgbImage image = RgbImage::Black(width, height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = image.Row(y) + 3 * x;
      p[0] = static_cast<uint8_t>(40 + x * 160 / width);
      p[1] = static_cast<uint8_t>(30 + y * 180 / height);
      p[2] = static_cast<uint8_t>(200 - (x + y) * 150 / (width + height));
    }
  }
  return image;
}

TEST_CASE("webp: a lossy file equals libwebp's own decode and stays within 2 levels on average of the source") {
  const RgbImage source = Ramps(64, 48);
  const std::vector<uint8_t> webp = test::EncodeWebpLossy(source, 90);
  REQUIRE(!webp.empty());
  auto image = DecodeImageBytes(webp, "q.webp");
  REQUIRE_MESSAGE(image.ok(), image.status().message());
  REQUIRE(image->width == 64);
  REQUIRE(image->height == 48);
  // The same library's simple decoder, with the same (default) options: identical.
  int w = 0, h = 0;
  uint8_t* reference = WebPDecodeRGB(webp.data(), webp.size(), &w, &h);
  REQUIRE(reference != nullptr);
  CHECK(std::vector<uint8_t>(reference, reference + size_t(w) * h * 3) == image->pixels);
  WebPFree(reference);
  // Against the source, lossy at quality 90 on smooth ramps: mean absolute error ≤ 2 levels (of 255), no
  // sample off by more than 16 (measured: 1.3 and 6). A decoder that swapped channels, flipped rows or misplaced
  // the picture would be off by tens of levels on average.
  double sum = 0;
  int worst = 0;
  for (size_t i = 0; i < source.pixels.size(); ++i) {
    const int d = std::abs(int(source.pixels[i]) - int(image->pixels[i]));
    sum += d;
    worst = std::max(worst, d);
  }
  const double mean = sum / static_cast<double>(source.pixels.size());
  INFO("mean abs error " << mean << ", worst " << worst);
  CHECK(mean <= 2.0);
  CHECK(worst <= 16);
}

TEST_CASE("webp: alpha is dropped without compositing, the RGB under transparent pixels kept") {
  const RgbImage source = test::WebpTestPattern(16, 9, 11);
  std::vector<uint8_t> rgba = WithAlpha(source, 255);
  for (size_t i = 3; i < rgba.size(); i += 4) rgba[i] = static_cast<uint8_t>((i / 4) % 3 == 0 ? 0 : (i * 7) % 256);
  const std::vector<uint8_t> webp = test::EncodeWebpLosslessRgba(16, 9, rgba, /*exact=*/true);
  REQUIRE(!webp.empty());
  auto image = DecodeImageBytes(webp, "alpha.webp");
  REQUIRE_MESSAGE(image.ok(), image.status().message());
  CHECK(image->pixels == source.pixels);
}

TEST_CASE("webp: an animation gives its first frame, drawn at its offset on a black canvas") {
  constexpr int kW = 32, kH = 16;
  // Frame 1: transparent except a 10x6 block at (8, 4); the encoder crops the frame to the block. Frame 2:
  // the whole canvas opaque and different, which must not show.
  const RgbImage block = test::WebpTestPattern(10, 6, 5);
  std::vector<uint8_t> first(size_t(kW) * kH * 4, 0);
  for (int y = 0; y < 6; ++y) {
    for (int x = 0; x < 10; ++x) {
      uint8_t* p = &first[(size_t(4 + y) * kW + 8 + x) * 4];
      const uint8_t* s = block.Row(y) + 3 * x;
      p[0] = s[0], p[1] = s[1], p[2] = s[2], p[3] = 255;
    }
  }
  const std::vector<uint8_t> second = WithAlpha(test::WebpTestPattern(kW, kH, 9), 255);
  const std::vector<uint8_t> webp = test::EncodeWebpAnimation(kW, kH, {first, second});
  REQUIRE(!webp.empty());

  // The file really is an animation whose first frame is a sub-rectangle (so the offset path runs).
  const WebPData data{webp.data(), webp.size()};
  WebPDemuxer* demux = WebPDemux(&data);
  REQUIRE(demux != nullptr);
  CHECK(WebPDemuxGetI(demux, WEBP_FF_FRAME_COUNT) == 2);
  WebPIterator frame;
  REQUIRE(WebPDemuxGetFrame(demux, 1, &frame));
  const bool cropped = frame.x_offset > 0 && frame.y_offset > 0 && frame.width < kW;
  WebPDemuxReleaseIterator(&frame);
  WebPDemuxDelete(demux);
  CHECK(cropped);

  auto image = DecodeImageBytes(webp, "anim.webp");
  REQUIRE_MESSAGE(image.ok(), image.status().message());
  REQUIRE(image->width == kW);
  REQUIRE(image->height == kH);
  RgbImage expected = RgbImage::Black(kW, kH);
  for (int y = 0; y < 6; ++y) {
    for (int x = 0; x < 10; ++x) {
      for (int c = 0; c < 3; ++c) expected.Row(4 + y)[3 * (8 + x) + c] = block.Row(y)[3 * x + c];
    }
  }
  CHECK(image->pixels == expected.pixels);
}

TEST_CASE("webp: the EXIF chunk's orientation turns the picture upright") {
  const RgbImage source = test::WebpTestPattern(12, 5, 2);
  const std::vector<uint8_t> plain = test::EncodeWebpLossless(source);
  std::vector<uint8_t> exif = test::OrientationExif(6);
  const std::vector<uint8_t> rotated = test::AddWebpExif(plain, exif);
  REQUIRE(!rotated.empty());
  auto image = DecodeImageBytes(rotated, "exif.webp");
  REQUIRE_MESSAGE(image.ok(), image.status().message());
  CHECK(image->width == 5);
  CHECK(image->height == 12);
  CHECK(image->pixels == ApplyExifOrientation(source, 6).pixels);
  // With the "Exif\0\0" prefix a JPEG's APP1 carries, as some writers store it.
  exif.insert(exif.begin(), {'E', 'x', 'i', 'f', 0, 0});
  auto prefixed = DecodeImageBytes(test::AddWebpExif(plain, exif), "exif2.webp");
  REQUIRE_MESSAGE(prefixed.ok(), prefixed.status().message());
  CHECK(prefixed->pixels == ApplyExifOrientation(source, 6).pixels);
}

TEST_CASE("webp: the pixel limit refuses a canvas before its memory is allocated") {
  const RgbImage source = test::WebpTestPattern(40, 30, 1);
  const std::vector<uint8_t> webp = test::EncodeWebpLossless(source);
  DecodeLimits limits;
  limits.max_pixels = 1199;
  auto small = DecodeImageBytes(webp, "big.webp", limits);
  REQUIRE(!small.ok());
  CHECK(small.status().message() ==
        "big.webp: WebP is 40x30 = 1200 pixels, over the limit of 1199 (DecodeLimits::max_pixels)");
  limits.max_pixels = 1200;
  CHECK(DecodeImageBytes(webp, "big.webp", limits).ok());

  // A bomb: an animation whose canvas header is patched to 16384 x 16384 (268 M pixels, 805 MB of RGB)
  // around a frame of a few bytes. The default limit refuses it from the header.
  std::vector<uint8_t> anim = test::EncodeWebpAnimation(
      8, 8, {WithAlpha(test::WebpTestPattern(8, 8, 4), 255), WithAlpha(test::WebpTestPattern(8, 8, 5), 255)});
  REQUIRE(anim.size() > 30);
  REQUIRE(std::string(anim.begin() + 12, anim.begin() + 16) == "VP8X");
  for (int at : {24, 27}) anim[at] = 0xFF, anim[at + 1] = 0x3F, anim[at + 2] = 0x00;  // 24-bit size − 1
  auto bomb = DecodeImageBytes(anim, "bomb.webp");
  REQUIRE(!bomb.ok());
  CHECK(bomb.status().message() ==
        "bomb.webp: WebP is 16384x16384 = 268435456 pixels, over the limit of 100000000 (DecodeLimits::max_pixels)");
}

TEST_CASE("webp: every truncation of a file is an error naming it, never a picture") {
  const std::vector<uint8_t> lossless = test::EncodeWebpLossless(test::WebpTestPattern(33, 17, 8));
  const std::vector<uint8_t> lossy = test::EncodeWebpLossy(test::WebpTestPattern(33, 17, 8), 80);
  const std::vector<uint8_t> anim = test::EncodeWebpAnimation(
      16, 8, {WithAlpha(test::WebpTestPattern(16, 8, 1), 255), WithAlpha(test::WebpTestPattern(16, 8, 2), 255)});
  for (const auto* file : {&lossless, &lossy, &anim}) {
    REQUIRE(file->size() > 40);
    int truncated_messages = 0;
    for (size_t n = 1; n < file->size(); ++n) {
      const std::vector<uint8_t> cut(file->begin(), file->begin() + static_cast<std::ptrdiff_t>(n));
      auto image = DecodeImageBytes(cut, "cut.webp");
      REQUIRE_MESSAGE(!image.ok(), "a WebP cut to " << n << " of " << file->size() << " bytes decoded");
      const std::string message = image.status().message();
      CHECK_MESSAGE(message.rfind("cut.webp: ", 0) == 0, message);
      truncated_messages += Contains(message, "truncated WebP");
    }
    // Once the 12-byte RIFF header is whole, every cut is named as a truncation.
    CHECK(truncated_messages >= static_cast<int>(file->size()) - 12);
  }
}

TEST_CASE("webp: damaged bitstreams and containers are errors naming the file") {
  const std::vector<uint8_t> good = test::EncodeWebpLossless(test::WebpTestPattern(33, 17, 8));
  REQUIRE(good.size() > 40);
  // The VP8L signature byte (0x2F) after the chunk header at offset 20.
  std::vector<uint8_t> bad_signature = good;
  REQUIRE(bad_signature[20] == 0x2F);
  bad_signature[20] = 0x00;
  auto a = DecodeImageBytes(bad_signature, "sig.webp");
  REQUIRE(!a.ok());
  CHECK_MESSAGE(Contains(a.status().message(), "sig.webp: invalid WebP"), a.status().message());

  // The entropy-coded data overwritten: the lossless decoder finds codes that make no picture.
  std::vector<uint8_t> scrambled = good;
  for (size_t i = 25; i < scrambled.size(); ++i) scrambled[i] = static_cast<uint8_t>(0xFF ^ (i * 37));
  auto b = DecodeImageBytes(scrambled, "noise.webp");
  REQUIRE(!b.ok());
  CHECK_MESSAGE(Contains(b.status().message(), "noise.webp: "), b.status().message());

  // A chunk header that claims more bytes than the RIFF holds.
  std::vector<uint8_t> long_chunk = good;
  long_chunk[16] = 0xF0, long_chunk[17] = 0xFF, long_chunk[18] = 0xFF, long_chunk[19] = 0x0F;
  auto c = DecodeImageBytes(long_chunk, "chunk.webp");
  REQUIRE(!c.ok());
  CHECK_MESSAGE(Contains(c.status().message(), "chunk.webp: "), c.status().message());

  // "RIFF....WEBP" and nothing else.
  const std::vector<uint8_t> header_only = {'R', 'I', 'F', 'F', 4, 0, 0, 0, 'W', 'E', 'B', 'P'};
  auto d = DecodeImageBytes(header_only, "empty.webp");
  REQUIRE(!d.ok());
  CHECK_MESSAGE(Contains(d.status().message(), "empty.webp: "), d.status().message());
}

}  // namespace
}  // namespace glmv
