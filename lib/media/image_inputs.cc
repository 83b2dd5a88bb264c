#include "lib/media/image_inputs.h"

#include <utility>

#include "io/decode_image.h"

namespace glmv {
namespace {

Result<LoadedImage> PreprocessDecoded(RgbImage image, const std::string& name, const ImagePreprocessConfig& config) {
  auto preprocessed = PreprocessImage(image, config);
  if (!preprocessed.ok()) return preprocessed.status().Annotate(name);
  return LoadedImage{name, std::move(image), std::move(preprocessed).value()};
}

}  // namespace

Result<LoadedImage> LoadImageFile(const std::string& path, const ImagePreprocessConfig& config,
                                  const InputLimits& limits) {
  GLMV_ASSIGN_OR_RETURN(RgbImage image, DecodeImageFile(path, limits.ForImage()));
  return PreprocessDecoded(std::move(image), path, config);
}

Result<LoadedImage> LoadImageBytes(std::span<const uint8_t> bytes, const std::string& name,
                                   const ImagePreprocessConfig& config, const InputLimits& limits) {
  GLMV_ASSIGN_OR_RETURN(RgbImage image, DecodeImageBytes(bytes, name, limits.ForImage()));
  return PreprocessDecoded(std::move(image), name, config);
}

}  // namespace glmv
