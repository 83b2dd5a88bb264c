// GLM-V video preprocessing (spec §4.2): a video file → sampled frames → one common target size
// (smart_resize with T = the number of sampled frames, under the video pixel budget) → PIL bicubic resize →
// normalise → patches, frames (2k, 2k+1) forming temporal patch k. Also what the prompt needs: the tokens per
// frame pair and each pair's integer-second timestamp. Decoding is io/decode_video.h's job.
#pragma once

#include <cstddef>  // io/image.h uses size_t without including <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/decode_video.h"
#include "io/status.h"
#include "lib/media/image_preprocess.h"
#include "lib/media/video_sampling.h"

namespace glmv {

// The video processor's settings (video_preprocessor_config.json). The GLM-4.5V file was not found; the
// defaults are Glm4vVideoProcessor's: fps 2, max_duration 300, size {shortest_edge 12544, longest_edge
// 47040000 = 28·28·2·30000}, so a whole video holds at most 30000 visual tokens.
struct VideoPreprocessConfig {
  // min_pixels / max_pixels bound T·h·w over all sampled frames; patch, merge, temporal patch, rescale and
  // mean/std as for images.
  ImagePreprocessConfig pixels = DefaultPixels();
  double fps = 2.0;
  double max_duration = 300.0;

  Status Validate() const;
  // Keys absent from the text keep their defaults; `source` names the file in errors.
  static Result<VideoPreprocessConfig> FromJson(const std::string& json_text, const std::string& source);
  // `model_dir`/video_preprocessor_config.json if present; else the defaults, with patch/merge/mean/std
  // taken from the model's preprocessor_config.json when that exists (the two processors share them).
  static Result<VideoPreprocessConfig> FromModelDir(const std::string& model_dir);

 private:
  static ImagePreprocessConfig DefaultPixels();
};

// How to read one video.
struct VideoLoadOptions {
  std::optional<double> fps;          // frames sampled per second (default: the config's)
  int64_t max_frames = 600;           // cap on sampled frames (600 = what fps 2 gives a 300 s video)
  double start_seconds = 0;           // only frames in [start, end)
  std::optional<double> end_seconds;
  VideoLimits limits;                 // hostile-file limits for the decoder
};

struct PreprocessedVideo {
  std::vector<float> pixel_values;  // [grid_t · grid_h · grid_w][patch_dim] float32, pair-major
  int64_t grid_t = 0, grid_h = 0, grid_w = 0;  // video_grid_thw: (frames / 2, height / 14, width / 14)
  int resized_width = 0, resized_height = 0;
  int64_t tokens_per_pair = 0;  // <|image|> placeholders per temporal patch: grid_h · grid_w / merge²
  int64_t num_tokens = 0;       // over all pairs

  std::vector<int64_t> frame_indices;  // sampled frames, in the file's numbering (last repeated if odd)
  std::vector<double> frame_seconds;   // their stream timestamps
  std::vector<int64_t> timestamps;     // per temporal patch: int(frame_indices[2k] / fps), seconds

  VideoInfo info;                  // what the file says about itself
  int64_t frames_used = 0;         // the frame count sampling used (info.frame_count unless corrected)
  std::string frames_used_source;  // info.frame_count_source, or "decoded frames" when the header was wrong
  VideoReadStats read_stats;
};

// The target size every frame is resized to: smart_resize(h, w) with T = num_frames and the video budget.
Result<ResizeTarget> VideoResizeTarget(int height, int width, int num_frames, const VideoPreprocessConfig& config);

// Frames already resized to one size (a multiple of patch·merge), in sampled order, an even number → patches.
Result<Patches> PatchifyVideoFrames(const std::vector<const RgbImage*>& frames, const VideoPreprocessConfig& config);

// The whole pipeline for one file. When the container's frame count proves wrong (the stream ends before a
// sampled frame), sampling is redone once with the frame count the decoder found. Errors start with the path;
// a bad option is named by its field ("VideoLoadOptions::max_frames must be at least 2").
Result<PreprocessedVideo> PreprocessVideoFile(const std::string& path, const VideoLoadOptions& options,
                                              const VideoPreprocessConfig& config);

// The same for a video held in memory (VideoReader::OpenBytes; `bytes` is read in place, not copied). `name`
// starts every error message. The same bytes give the same result as the same file.
Result<PreprocessedVideo> PreprocessVideoBytes(std::span<const uint8_t> bytes, const std::string& name,
                                               const VideoLoadOptions& options, const VideoPreprocessConfig& config);

}  // namespace glmv
