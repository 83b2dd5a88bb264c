// One image of a request, from a file or from bytes in memory (an upload, a data: URL's payload): decoded
// within the request's limits (io/decode_image.h) and preprocessed for the model (image_preprocess.h). The CLI,
// the server and the batch pipeline call these; what to show the user about the result is theirs to decide.
#pragma once

#include <cstddef>  // io/image.h uses size_t without including <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "io/image.h"
#include "io/status.h"
#include "lib/media/image_preprocess.h"
#include "lib/media/input_limits.h"

namespace glmv {

struct LoadedImage {
  std::string name;                // the path, the caller's name for the bytes, or "doc.pdf#page=3"
  RgbImage image;                  // decoded and upright: what the model's boxes refer to
  PreprocessedImage preprocessed;  // pixel values, grid, resized size, visual tokens
};

// Decodes the file at `path` within limits.ForImage() and preprocesses it. Errors start with the path and name
// the limit that stopped the decoder ("(DecodeLimits::max_pixels)").
Result<LoadedImage> LoadImageFile(const std::string& path, const ImagePreprocessConfig& config,
                                  const InputLimits& limits = {});

// The same for an encoded image held in memory; `name` starts every error message and becomes LoadedImage::name.
// max_file_bytes bounds the buffer as it bounds a file.
Result<LoadedImage> LoadImageBytes(std::span<const uint8_t> bytes, const std::string& name,
                                   const ImagePreprocessConfig& config, const InputLimits& limits = {});

}  // namespace glmv
