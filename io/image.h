// A decoded picture: 8-bit RGB, row-major, no padding. Decoders (io/decode_*.cc) produce it; the model side
// (lib/) consumes it and never sees a file.
#pragma once

#include <cstdint>
#include <vector>

namespace glmv {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // [height][width][3]

  uint8_t* Row(int y) { return pixels.data() + static_cast<size_t>(y) * static_cast<size_t>(width) * 3; }
  const uint8_t* Row(int y) const { return pixels.data() + static_cast<size_t>(y) * static_cast<size_t>(width) * 3; }

  // A black image of the given size (width, height > 0; the caller checks limits first).
  static RgbImage Black(int width, int height) {
    RgbImage image;
    image.width = width;
    image.height = height;
    image.pixels.assign(static_cast<size_t>(width) * static_cast<size_t>(height) * 3, 0);
    return image;
  }
};

// What a decoder may spend on one untrusted file. Both limits are checked before the large allocation, so a
// small file that declares a huge picture (a decompression bomb) is refused without touching memory.
struct DecodeLimits {
  // Pixels of the picture as stored (width * height). 100 M lies between Pillow's warning threshold
  // (89.5 M, which the reference still decodes) and its hard refusal (179 M): everything the reference loads
  // without complaint loads here. At the limit the RGB result is 300 MB.
  uint64_t max_pixels = 100'000'000;
  // Size of the encoded file. Above the raw RGB size at max_pixels (300 MB), so even an uncompressed PNG at the
  // pixel limit is accepted; it bounds the read buffer for files that are not images at all.
  uint64_t max_bytes = uint64_t{512} << 20;
  // Wall-clock seconds for decoding one file, checked between rows (and between a progressive JPEG's
  // scans), so a file built to be slow ends in an error. A legal 100 M pixel JPEG decodes in a few seconds.
  double max_seconds = 120.0;
};

}  // namespace glmv
