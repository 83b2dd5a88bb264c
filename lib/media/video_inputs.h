// One video of a request, from a file or from bytes in memory (an upload, a data: URL's payload): decoded,
// sampled and preprocessed (video_preprocess.h), with the time it took. The decoder (io/decode_video.h) streams
// a file, and reads bytes in memory in place. The CLI, the server and the batch pipeline call these; what to
// show the user is theirs.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "io/status.h"
#include "lib/media/video_preprocess.h"

namespace glmv {

struct LoadedVideo {
  std::string path;         // the path, or the caller's name for the bytes
  PreprocessedVideo video;  // pixel values, grid, frames used, timestamps, what the file said about itself
  double seconds = 0;       // wall time to load
};

// PreprocessVideoFile with the time it took. options.limits bounds the decoder (InputLimits::ForVideo() gives
// a request's); errors start with the path and name the limit that stopped the decoder.
Result<LoadedVideo> LoadVideoFile(const std::string& path, const VideoLoadOptions& options,
                                  const VideoPreprocessConfig& config);

// The same for a video held in memory (read in place: `bytes` must outlive the call, nothing more). `name`
// starts every error message and becomes LoadedVideo::path. The same bytes give the same frames as the file.
Result<LoadedVideo> LoadVideoBytes(std::span<const uint8_t> bytes, const std::string& name,
                                   const VideoLoadOptions& options, const VideoPreprocessConfig& config);

}  // namespace glmv
