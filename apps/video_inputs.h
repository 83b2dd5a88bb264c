// Turning a video file named on the command line into the model's visual inputs (decode → sample → resize
// → patches) and the prompt layout its placeholder expands to.
#pragma once

#include <string>
#include <vector>

#include "apps/args.h"
#include "apps/input_limits.h"
#include "lib/prompt/multimodal.h"
#include "lib/media/video_preprocess.h"
#include "lib/prompt/video_prompt.h"

namespace glmv::app {

// --video, --fps, --max-frames, --start, --end, --video-max-pixels, --video-time-limit.
std::vector<OptionSpec> VideoOptionSpecs();

struct LoadedVideo {
  std::string path;
  PreprocessedVideo video;   // frames used, timestamps, grid, file facts (pixel_values moved to `visual`)
  VideoPromptLayout layout;  // for ExpandVideoPlaceholders
  VisualInputs visual;       // video_pixels and video_grids (one grid) for GenerateRequest::visual
  double seconds = 0;        // wall time to load
};

// The video processor settings: the model directory's video_preprocessor_config.json (or GLM-4.5V's
// defaults), with --video-max-pixels applied.
Result<VideoPreprocessConfig> VideoConfigFromArgs(const Args& args, const std::string& model_dir);

// --fps, --max-frames, --start, --end; the decoder's limits from `limits` (--video-time-limit, if given,
// overrides --decode-time-limit for the video).
Result<VideoLoadOptions> VideoLoadOptionsFromArgs(const Args& args, const InputLimits& limits = {});

// Decodes, samples and preprocesses the video; prints to stderr what the file reported (frames, fps,
// duration), how many frames were sampled, the grid and the visual tokens.
Result<LoadedVideo> LoadVideo(const std::string& path, const VideoLoadOptions& options,
                              const VideoPreprocessConfig& config);

// Moves the video's pixels and grid into `visual`, after any videos already there (images are separate).
void AppendVideoInputs(LoadedVideo& video, VisualInputs& visual);

}  // namespace glmv::app
