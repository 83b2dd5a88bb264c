// Writing RgbImage as PNG: debugging output, pictures with detection boxes drawn in, test fixtures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/image.h"
#include "io/status.h"

namespace glmv {

// An 8-bit RGB, non-interlaced PNG of `image` (zlib level 6, adaptive filters). Fails for an empty image or
// one whose pixel buffer does not match width * height * 3.
Result<std::vector<uint8_t>> EncodePng(const RgbImage& image);

// Writes EncodePng(image) to `path` atomically: the bytes go to a temporary file beside it, which is flushed
// to disk and then renamed over `path`. A crash or full disk leaves either the old file or none, never a
// half-written PNG.
Status WritePng(const std::string& path, const RgbImage& image);

}  // namespace glmv
