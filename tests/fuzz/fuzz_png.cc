// libFuzzer target: the PNG decoder (libpng behind io/decode_png.cc) on arbitrary bytes. An error
// status is the normal outcome; a crash, a sanitizer report, a leak, a hang or a picture whose size
// disagrees with its pixels is a bug.
#include <cstddef>
#include <cstdint>

#include "io/decode_png.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const glmv::DecodeLimits limits = glmv::fuzz::FuzzImageLimits();
  auto image = glmv::DecodePng({data, size}, "fuzz.png", limits);
  if (image.ok()) glmv::fuzz::CheckPicture(*image, limits.max_pixels, "png: bad picture");
  return 0;
}
