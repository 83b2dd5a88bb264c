// libFuzzer target: the WebP decoder (libwebp's demuxer and decoder behind io/decode_webp.cc) on arbitrary
// bytes. An error status is the normal outcome; a crash, a sanitizer report, a leak, a hang or a picture whose
// size disagrees with its pixels or the limit is a bug. ../shared/media holds no WebP, so the seeds are files
// libwebp's own encoder makes here (GLMV_FUZZ_WRITE_SEEDS, as run_fuzzers.sh asks): lossless, lossy, with
// alpha, animated with a cropped first frame, and with an EXIF orientation.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "io/decode_webp.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/io/webp_test_util.h"

namespace {

glmv::Status WriteSeed(const std::string& path, const std::vector<uint8_t>& bytes) {
  if (bytes.empty()) return glmv::Status::Error(path + ": libwebp made no file");
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return f ? glmv::Status::Ok() : glmv::Status::Error(path + ": cannot write");
}

std::vector<uint8_t> Rgba(const glmv::RgbImage& image, bool holes) {
  std::vector<uint8_t> rgba;
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    const bool hole = holes && (i / 3) % 5 == 0;
    rgba.insert(rgba.end(), {image.pixels[i], image.pixels[i + 1], image.pixels[i + 2], uint8_t(hole ? 0 : 255)});
  }
  return rgba;
}

glmv::Status WriteSeeds(const std::string& dir) {
  namespace t = glmv::test;
  const glmv::RgbImage picture = t::WebpTestPattern(48, 32, 1);
  GLMV_RETURN_IF_ERROR(WriteSeed(dir + "/lossless.webp", t::EncodeWebpLossless(picture)));
  GLMV_RETURN_IF_ERROR(WriteSeed(dir + "/lossy.webp", t::EncodeWebpLossy(picture, 75)));
  GLMV_RETURN_IF_ERROR(WriteSeed(dir + "/alpha.webp", t::EncodeWebpLosslessRgba(48, 32, Rgba(picture, true), false)));
  // Two frames whose first is transparent around a block, so the encoder crops it to an offset rectangle.
  std::vector<uint8_t> first(48 * 32 * 4, 0);
  for (int y = 8; y < 20; ++y) {
    for (int x = 10; x < 30; ++x) first[(size_t(y) * 48 + x) * 4 + 0] = 200, first[(size_t(y) * 48 + x) * 4 + 3] = 255;
  }
  GLMV_RETURN_IF_ERROR(WriteSeed(dir + "/anim.webp", t::EncodeWebpAnimation(48, 32, {first, Rgba(picture, false)})));
  return WriteSeed(dir + "/exif.webp", t::AddWebpExif(t::EncodeWebpLossless(picture), t::OrientationExif(6)));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  glmv::fuzz::WriteSeedsIfAsked(WriteSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const glmv::DecodeLimits limits = glmv::fuzz::FuzzImageLimits();
  auto image = glmv::DecodeWebp({data, size}, "fuzz.webp", limits);
  if (image.ok()) glmv::fuzz::CheckPicture(*image, limits.max_pixels, "webp: bad picture");
  return 0;
}
