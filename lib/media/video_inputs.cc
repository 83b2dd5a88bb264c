#include "lib/media/video_inputs.h"

#include <chrono>
#include <utility>

namespace glmv {
namespace {

// `preprocess()` timed, as a LoadedVideo named `name`.
template <typename Preprocess>
Result<LoadedVideo> Timed(const std::string& name, const Preprocess& preprocess) {
  const auto t0 = std::chrono::steady_clock::now();
  LoadedVideo out;
  out.path = name;
  GLMV_ASSIGN_OR_RETURN(out.video, preprocess());
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace

Result<LoadedVideo> LoadVideoFile(const std::string& path, const VideoLoadOptions& options,
                                  const VideoPreprocessConfig& config) {
  return Timed(path, [&] { return PreprocessVideoFile(path, options, config); });
}

Result<LoadedVideo> LoadVideoBytes(std::span<const uint8_t> bytes, const std::string& name,
                                   const VideoLoadOptions& options, const VideoPreprocessConfig& config) {
  return Timed(name, [&] { return PreprocessVideoBytes(bytes, name, options, config); });
}

}  // namespace glmv
