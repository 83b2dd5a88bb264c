#include "lib/media/video_inputs.h"

#include <chrono>
#include <utility>

namespace glmv {

Result<LoadedVideo> LoadVideoFile(const std::string& path, const VideoLoadOptions& options,
                                  const VideoPreprocessConfig& config) {
  const auto t0 = std::chrono::steady_clock::now();
  LoadedVideo out;
  out.path = path;
  GLMV_ASSIGN_OR_RETURN(out.video, PreprocessVideoFile(path, options, config));
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace glmv
