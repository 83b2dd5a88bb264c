// One video of a request, from a file: decoded, sampled and preprocessed (video_preprocess.h), with the time
// it took. Videos are streamed from their file by the decoder (io/decode_video.h), so there is no entry for
// bytes in memory. The CLI, the server and the batch pipeline call this; what to show the user is theirs.
#pragma once

#include <string>

#include "io/status.h"
#include "lib/media/video_preprocess.h"

namespace glmv {

struct LoadedVideo {
  std::string path;
  PreprocessedVideo video;  // pixel values, grid, frames used, timestamps, what the file said about itself
  double seconds = 0;       // wall time to load
};

// PreprocessVideoFile with the time it took. options.limits bounds the decoder (InputLimits::ForVideo() gives
// a request's); errors start with the path and name the limit that stopped the decoder.
Result<LoadedVideo> LoadVideoFile(const std::string& path, const VideoLoadOptions& options,
                                  const VideoPreprocessConfig& config);

}  // namespace glmv
