#include "apps/video_inputs.h"

#include <fmt/core.h>

namespace glmv::app {
std::vector<OptionSpec> VideoOptionSpecs() {
  return {
      {"--video", "", true, "FILE  a video to show the model (MP4, WebM, MKV, OGV, MPEG, 3GP, AVI, ...)"},
      {"--fps", "", true, "F  video frames sampled per second (default: the model's, 2)"},
      {"--max-frames", "", true, "N  at most N sampled video frames, spread evenly (default 600)"},
      {"--start", "", true, "SEC  use the video from SEC seconds on"},
      {"--end", "", true, "SEC  use the video up to SEC seconds"},
      {"--video-max-pixels", "", true,
       "N  frames × height × width budget of the resized video (default: the model's, 47040000 = 30000 tokens)"},
      {"--video-time-limit", "", true, "SEC  --decode-time-limit for the video alone (default: that, 120)"},
  };
}

Result<VideoPreprocessConfig> VideoConfigFromArgs(const Args& args, const std::string& model_dir) {
  VideoPreprocessConfig cfg;
  if (!model_dir.empty()) {
    GLMV_ASSIGN_OR_RETURN(cfg, VideoPreprocessConfig::FromModelDir(model_dir));
  }
  GLMV_ASSIGN_OR_RETURN(long long max_pixels, args.GetInt("--video-max-pixels", cfg.pixels.max_pixels));
  cfg.pixels.max_pixels = max_pixels;
  GLMV_RETURN_IF_ERROR(cfg.Validate().Annotate("--video-max-pixels"));
  return cfg;
}

Result<VideoLoadOptions> VideoLoadOptionsFromArgs(const Args& args, const InputLimits& limits) {
  VideoLoadOptions o;
  o.limits = limits.ForVideo();
  if (args.Has("--fps")) {
    GLMV_ASSIGN_OR_RETURN(const double fps, args.GetDouble("--fps", 0));
    if (!(fps > 0) || fps > 1000) return Status::Error("--fps must be between 0 and 1000");
    o.fps = fps;
  }
  GLMV_ASSIGN_OR_RETURN(const long long max_frames, args.GetInt("--max-frames", o.max_frames));
  if (max_frames < 2) return Status::Error("--max-frames must be at least 2 (frames go in pairs)");
  o.max_frames = max_frames;
  GLMV_ASSIGN_OR_RETURN(o.start_seconds, args.GetDouble("--start", 0));
  if (o.start_seconds < 0) return Status::Error("--start must not be negative");
  if (args.Has("--end")) {
    GLMV_ASSIGN_OR_RETURN(const double end, args.GetDouble("--end", 0));
    if (end <= o.start_seconds) return Status::Error("--end must be after --start");
    o.end_seconds = end;
  }
  GLMV_ASSIGN_OR_RETURN(o.limits.max_seconds, args.GetDouble("--video-time-limit", o.limits.max_seconds));
  if (!(o.limits.max_seconds > 0)) return Status::Error("--video-time-limit must be positive");
  return o;
}

Result<LoadedVideo> LoadVideo(const std::string& path, const VideoLoadOptions& options,
                              const VideoPreprocessConfig& config) {
  GLMV_ASSIGN_OR_RETURN(LoadedVideo out, LoadVideoFile(path, options, config));
  const PreprocessedVideo& v = out.video;
  const VideoInfo& in = v.info;
  fmt::print(stderr, "video {}: {} {} {}x{}{}, {:.3f} fps, {} frames ({}), {:.2f} s\n", path, in.container, in.codec,
             in.width, in.height, in.rotation ? fmt::format(" (rotated {}°)", in.rotation) : "", in.fps, v.frames_used,
             v.frames_used_source, in.duration);
  fmt::print(stderr, "video {}: {} frames sampled ({} to {}) -> {}x{}, grid {}x{}x{}, {} visual tokens, {:.2f} s\n",
             path, v.frame_indices.size(), v.frame_indices.front(), v.frame_indices.back(), v.resized_width,
             v.resized_height, v.grid_t, v.grid_h, v.grid_w, v.num_tokens, out.seconds);
  return out;
}

}  // namespace glmv::app
