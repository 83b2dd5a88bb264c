// A request's media loaded through lib/media (image_inputs.h, input_limits.h): an image from bytes is the image
// from its file, damaged bytes and limits give errors that name the input and the limit, and InputLimits
// translates into each decoder's limits.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "lib/media/image_inputs.h"
#include "lib/media/input_limits.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

const fs::path kJpeg = test::DataDir() / "images" / "go-video-001.q50.420.jpeg";  // 4:2:0, quality 50
const fs::path kPng = test::DataDir() / "images" / "basn6a08.png";                // RGBA, composited on black

std::string Message(const Status& s) { return s.message(); }

TEST_CASE("image inputs: an image from bytes is the image from its file, pixels and grid") {
  ImagePreprocessConfig config;
  config.min_pixels = 28 * 28 * 2 * 4;  // the 32x32 PNG grows to a few tokens, the JPEG keeps its size
  for (const fs::path& path : {kJpeg, kPng}) {
    CAPTURE(path.string());
    auto from_file = LoadImageFile(path.string(), config);
    REQUIRE_MESSAGE(from_file.ok(), from_file.status().message());
    const std::vector<uint8_t> bytes = test::ReadBytes(path);
    auto from_bytes = LoadImageBytes(bytes, "upload.bin", config);
    REQUIRE_MESSAGE(from_bytes.ok(), from_bytes.status().message());
    CHECK(from_file->name == path.string());
    CHECK(from_bytes->name == "upload.bin");
    CHECK(from_bytes->image.width == from_file->image.width);
    CHECK(from_bytes->image.height == from_file->image.height);
    CHECK(from_bytes->image.pixels == from_file->image.pixels);
    const PreprocessedImage& a = from_file->preprocessed;
    const PreprocessedImage& b = from_bytes->preprocessed;
    CHECK(a.grid_t == 1);
    CHECK(a.grid_h * 14 == a.resized_height);
    CHECK(b.grid_t == a.grid_t);
    CHECK(b.grid_h == a.grid_h);
    CHECK(b.grid_w == a.grid_w);
    CHECK(b.num_tokens == a.num_tokens);
    CHECK(a.num_tokens == a.grid_h * a.grid_w / 4);
    REQUIRE(a.pixel_values.size() == static_cast<size_t>(a.num_patches()) * 1176);
    CHECK(b.pixel_values == a.pixel_values);
  }
}

TEST_CASE("image inputs: damaged bytes give an error naming the input and what is wrong") {
  const ImagePreprocessConfig config;
  const std::vector<uint8_t> jpeg = test::ReadBytes(kJpeg);
  const std::vector<uint8_t> half(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() / 2));
  auto truncated = LoadImageBytes(half, "data:image/jpeg", config);
  REQUIRE(!truncated.ok());
  CHECK(Message(truncated.status()).rfind("data:image/jpeg: truncated JPEG: the data ends before the image is complete", 0) == 0);

  const std::vector<uint8_t> png = test::ReadBytes(kPng);
  const std::vector<uint8_t> png_head(png.begin(), png.begin() + 60);
  auto cut_png = LoadImageBytes(png_head, "photo.png", config);
  REQUIRE(!cut_png.ok());
  CHECK(Message(cut_png.status()).rfind("photo.png: truncated PNG", 0) == 0);

  const std::string text = "not an image at all";
  auto garbage = LoadImageBytes({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, "upload", config);
  REQUIRE(!garbage.ok());
  CHECK(Message(garbage.status()) == "upload: not a JPEG, PNG or WebP image (starts with 6e 6f 74 20 61 6e 20 69)");
  CHECK(Message(LoadImageBytes({}, "empty", config).status()) == "empty: empty file, not an image");
  CHECK(Message(LoadImageFile("/nonexistent/x.jpg", config).status()).rfind("/nonexistent/x.jpg: cannot open", 0) == 0);
}

TEST_CASE("image inputs: the request's limits are enforced and named") {
  const ImagePreprocessConfig config;
  const std::vector<uint8_t> jpeg = test::ReadBytes(kJpeg);
  auto fits = LoadImageBytes(jpeg, "a.jpg", config);
  REQUIRE(fits.ok());
  const uint64_t pixels = uint64_t(fits->image.width) * uint64_t(fits->image.height);

  InputLimits limits;
  limits.max_image_pixels = pixels - 1;
  auto too_many = LoadImageBytes(jpeg, "a.jpg", config, limits);
  REQUIRE(!too_many.ok());
  CHECK(Message(too_many.status()).rfind("a.jpg: ", 0) == 0);
  CHECK(Message(too_many.status()).find("over the limit of " + std::to_string(pixels - 1) +
                                        " (DecodeLimits::max_pixels)") != std::string::npos);
  limits.max_image_pixels = pixels;
  CHECK(LoadImageBytes(jpeg, "a.jpg", config, limits).ok());  // exactly at the limit

  InputLimits by_bytes;
  by_bytes.max_decoded_bytes = 3 * (pixels - 10);  // RGB bytes bind before any pixel limit
  auto over_bytes = LoadImageFile(kJpeg.string(), config, by_bytes);
  REQUIRE(!over_bytes.ok());
  CHECK(Message(over_bytes.status()).find("over the limit of " + std::to_string(pixels - 10) +
                                          " (DecodeLimits::max_pixels)") != std::string::npos);

  InputLimits small_file;
  small_file.max_file_bytes = 100;
  CHECK(Message(LoadImageBytes(jpeg, "a.jpg", config, small_file).status()) ==
        "a.jpg: " + std::to_string(jpeg.size()) + " bytes, over the limit of 100 (DecodeLimits::max_bytes)");
}

TEST_CASE("input limits: one struct, each decoder's limits, and which setting binds the pixels") {
  const InputLimits defaults;
  CHECK(defaults.ForImage().max_pixels == DecodeLimits{}.max_pixels);
  CHECK(defaults.ForVideo().max_frame_pixels == VideoLimits{}.max_frame_pixels);
  CHECK(defaults.ForPdf(7).max_pixels_per_page == PdfLimits{}.max_pixels_per_page);
  CHECK(defaults.ForPdf(7).max_pages == 7);
  CHECK(!defaults.PicturePixelsBoundByBytes(DecodeLimits{}.max_pixels));

  InputLimits l;
  l.max_image_pixels = 5000;
  l.max_decoded_frames = 77;
  l.max_file_bytes = 1234;
  l.decode_seconds = 2.5;
  l.max_decoded_bytes = uint64_t{1} << 30;
  CHECK(l.ForImage().max_pixels == 5000);
  CHECK(l.ForImage().max_bytes == 1234);
  CHECK(l.ForImage().max_seconds == 2.5);
  CHECK(l.ForVideo().max_frame_pixels == 5000);
  CHECK(l.ForVideo().max_frames == 77);
  CHECK(l.ForVideo().max_seconds == 2.5);
  CHECK(l.ForPdf(9).max_bytes == 1234);
  CHECK(l.ForPdf(9).max_total_seconds == 2.5);
  CHECK(l.ForPdf(9).max_library_bytes == uint64_t{1} << 29);  // half the decoded-byte budget
  CHECK(!l.PicturePixelsBoundByBytes(DecodeLimits{}.max_pixels));

  l.max_decoded_bytes = 3000;  // 1000 RGB pixels: below max_image_pixels, so it binds
  CHECK(l.PicturePixels(DecodeLimits{}.max_pixels) == 1000);
  CHECK(l.PicturePixelsBoundByBytes(DecodeLimits{}.max_pixels));
  CHECK(l.ForVideo().max_frame_pixels == 1000);
  CHECK(l.ForPdf(1).max_library_bytes == uint64_t{64} << 20);  // MuPDF keeps a minimum
}

}  // namespace
}  // namespace glmv
