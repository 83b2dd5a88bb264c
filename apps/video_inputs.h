// A video file named on the command line: the flags that choose how it is sampled and preprocessed, and
// loading it through lib/media (decode → sample → resize → patches) with what happened printed to stderr.
#pragma once

#include <string>
#include <vector>

#include "apps/args.h"
#include "lib/media/input_limits.h"
#include "lib/media/video_inputs.h"
#include "lib/media/video_preprocess.h"

namespace glmv::app {

// --video, --fps, --max-frames, --start, --end, --video-max-pixels, --video-time-limit.
std::vector<OptionSpec> VideoOptionSpecs();

// The video processor settings: the model directory's video_preprocessor_config.json (or GLM-4.5V's
// defaults), with --video-max-pixels applied.
Result<VideoPreprocessConfig> VideoConfigFromArgs(const Args& args, const std::string& model_dir);

// --fps, --max-frames, --start, --end; the decoder's limits from `limits` (--video-time-limit, if given,
// overrides --decode-time-limit for the video).
Result<VideoLoadOptions> VideoLoadOptionsFromArgs(const Args& args, const InputLimits& limits = {});

// LoadVideoFile; prints to stderr what the file reported (frames, fps, duration), how many frames were
// sampled, the grid and the visual tokens.
Result<LoadedVideo> LoadVideo(const std::string& path, const VideoLoadOptions& options,
                              const VideoPreprocessConfig& config);

}  // namespace glmv::app
