#include "lib/media/video_preprocess.h"

#include "lib/model/model_assets.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "lib/media/pil_resize.h"

namespace glmv {
namespace {

using nlohmann::json;

constexpr int64_t kVideoMaxPixels = 47040000;  // 28·28·2·30000: Glm4vVideoProcessor's size.longest_edge

Result<double> ReadPositiveNumber(const json& j, const char* key, const std::string& source, double fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number() || !(j[key].get<double>() > 0) || !std::isfinite(j[key].get<double>())) {
    return Status::Error(source + ": " + key + " must be a positive number");
  }
  return j[key].get<double>();
}

}  // namespace

ImagePreprocessConfig VideoPreprocessConfig::DefaultPixels() {
  ImagePreprocessConfig c;
  c.max_pixels = kVideoMaxPixels;
  return c;
}

Status VideoPreprocessConfig::Validate() const {
  GLMV_RETURN_IF_ERROR(pixels.Validate());
  if (!(fps > 0) || !std::isfinite(fps)) return Status::Error("video fps must be a positive number");
  if (!(max_duration > 0) || !std::isfinite(max_duration)) return Status::Error("video max_duration must be positive");
  return Status::Ok();
}

Result<VideoPreprocessConfig> VideoPreprocessConfig::FromJson(const std::string& json_text, const std::string& source) {
  const json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Error(source + ": not a JSON object");
  VideoPreprocessConfig c;
  // The image parser reads the shared keys; where the file gives no pixel bounds the video's defaults stay
  // (the image parser's own defaults are the image budget).
  GLMV_ASSIGN_OR_RETURN(c.pixels, ImagePreprocessConfig::FromJson(json_text, source));
  const bool has_size = j.contains("size") && j["size"].is_object();
  if (!(has_size && j["size"].contains("longest_edge")) && !j.contains("max_pixels")) {
    c.pixels.max_pixels = kVideoMaxPixels;
  }
  GLMV_ASSIGN_OR_RETURN(c.fps, ReadPositiveNumber(j, "fps", source, c.fps));
  GLMV_ASSIGN_OR_RETURN(c.max_duration, ReadPositiveNumber(j, "max_duration", source, c.max_duration));
  GLMV_RETURN_IF_ERROR(c.Validate().Annotate(source));
  return c;
}

Result<VideoPreprocessConfig> VideoPreprocessConfig::FromModelDir(const std::string& model_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path video_path = fs::path(model_dir) / "video_preprocessor_config.json";
  GLMV_ASSIGN_OR_RETURN(const auto video_text, ReadModelAsset(model_dir, "video_preprocessor_config.json"));
  if (video_text) return FromJson(*video_text, video_path.string());
  VideoPreprocessConfig c;
  GLMV_ASSIGN_OR_RETURN(const ImagePreprocessConfig image, ImagePreprocessConfig::FromModelDir(model_dir));
  const int64_t min_pixels = c.pixels.min_pixels, max_pixels = c.pixels.max_pixels;
  c.pixels = image;  // patch, merge, temporal patch, rescale, mean/std: shared with the image processor
  c.pixels.min_pixels = min_pixels;
  c.pixels.max_pixels = max_pixels;
  GLMV_RETURN_IF_ERROR(c.Validate());
  return c;
}

Result<ResizeTarget> VideoResizeTarget(int height, int width, int num_frames, const VideoPreprocessConfig& config) {
  const ImagePreprocessConfig& p = config.pixels;
  return SmartResize(height, width, p.factor(), p.min_pixels, p.max_pixels, num_frames, p.temporal_patch_size);
}

Result<Patches> PatchifyVideoFrames(const std::vector<const RgbImage*>& frames, const VideoPreprocessConfig& config) {
  return PatchifyFrames(frames, config.pixels.patchify_params());
}

namespace {

// Opens one reader of the video (a file or bytes) with the given limits; PreprocessVideo may open several.
using OpenVideo = std::function<Result<std::unique_ptr<VideoReader>>(const VideoLimits& limits)>;

// PreprocessVideoFile's and PreprocessVideoBytes' pipeline; `path` names the video in errors.
Result<PreprocessedVideo> PreprocessVideo(const OpenVideo& open, const std::string& path, const VideoLoadOptions& options,
                                          const VideoPreprocessConfig& config) {
  GLMV_RETURN_IF_ERROR(config.Validate().Annotate("video preprocessing settings"));
  if (options.max_frames < 2) {
    return Status::Error("VideoLoadOptions::max_frames must be at least 2, got " + std::to_string(options.max_frames));
  }
  const VideoSamplingParams params{options.fps.value_or(config.fps), config.max_duration};
  if (!(params.fps > 0) || !std::isfinite(params.fps)) {
    return Status::Error("VideoLoadOptions::fps must be a positive number");
  }
  const int temporal = config.pixels.temporal_patch_size;

  int64_t corrected_count = -1;  // the decoder's frame count, once the container's proved wrong
  VideoLimits limits = options.limits;
  // At most three reads: the sampled frames; if the stream ended early after a seek (so its length is
  // unknown), the same frames without seeking; then the frames sampled from the length found.
  for (int attempt = 0; attempt < 3; ++attempt) {
    GLMV_ASSIGN_OR_RETURN(std::unique_ptr<VideoReader> reader, open(limits));
    const VideoInfo& info = reader->info();
    const int64_t total = corrected_count > 0 ? corrected_count : info.frame_count;
    auto range = FrameRangeForSeconds(total, info.fps, options.start_seconds, options.end_seconds);
    if (!range.ok()) return range.status().Annotate(path);

    // The duration the reference's loaders hand the sampler (PyAV, decord, torchvision, vLLM): frames / fps.
    VideoSamplingInput input{range->size(), info.fps, static_cast<double>(range->size()) / info.fps};
    auto sampled = SampleFrameIndices(input, params);
    if (sampled.ok() && sampled->empty()) {
      // Shorter than one sampling interval: the reference would produce no frame at all. Its fallback
      // duration (whole seconds from the frame count) always yields at least one pair.
      input.duration.reset();
      sampled = SampleFrameIndices(input, params);
    }
    if (!sampled.ok()) return sampled.status().Annotate(path);
    std::vector<int64_t> indices = CapFrameCount(*sampled, options.max_frames);
    while (indices.size() % static_cast<size_t>(temporal) != 0) indices.push_back(indices.back());
    for (int64_t& i : indices) i += range->first;

    auto target = VideoResizeTarget(info.height, info.width, static_cast<int>(indices.size()), config);
    if (!target.ok()) return target.status().Annotate(path);

    // Decode each distinct frame once, resizing it straight away: only frames at the target size are kept.
    std::vector<int64_t> wanted = indices;
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    std::vector<RgbImage> resized(wanted.size());
    std::vector<double> seconds(wanted.size());
    size_t delivered = 0;
    auto stats = reader->ReadFrames(wanted, [&](const VideoFrame& frame) -> Status {
      auto r = PilResizeBicubic(frame.image, target->width, target->height);
      if (!r.ok()) return r.status().Annotate(path + ": frame " + std::to_string(frame.requested_index));
      resized[delivered] = std::move(r).value();
      seconds[delivered] = frame.seconds;
      ++delivered;
      return Status::Ok();
    });
    if (!stats.ok()) return stats.status();
    if (delivered < wanted.size() && corrected_count < 0) {
      if (stats->frames_in_stream > 0 && stats->frames_in_stream < total) {
        corrected_count = stats->frames_in_stream;  // the header over-counted: sample again from what is there
        continue;
      }
      if (stats->frames_in_stream < 0 && limits.min_seek_gap_seconds >= 0) {
        limits.min_seek_gap_seconds = -1;  // count the frames by decoding them all in order
        continue;
      }
    }
    if (delivered < wanted.size()) {
      return Status::Error(path + ": the video stream ended before frame " + std::to_string(wanted[delivered]) +
                           " (it declares " + std::to_string(total) + " frames)");
    }

    PreprocessedVideo out;
    std::vector<const RgbImage*> frames;
    for (int64_t idx : indices) {
      const size_t k = static_cast<size_t>(std::lower_bound(wanted.begin(), wanted.end(), idx) - wanted.begin());
      frames.push_back(&resized[k]);
      out.frame_seconds.push_back(seconds[k]);
    }
    GLMV_ASSIGN_OR_RETURN(Patches patches, PatchifyVideoFrames(frames, config));
    const int64_t merge = config.pixels.merge_size;
    out.pixel_values = std::move(patches.values);
    out.grid_t = patches.grid_t;
    out.grid_h = patches.grid_h;
    out.grid_w = patches.grid_w;
    out.resized_width = target->width;
    out.resized_height = target->height;
    out.tokens_per_pair = out.grid_h * out.grid_w / (merge * merge);
    out.num_tokens = out.tokens_per_pair * out.grid_t;
    out.timestamps = TemporalPatchTimestamps(indices, info.fps, temporal);
    out.frame_indices = std::move(indices);
    out.info = info;
    out.frames_used = total;
    out.frames_used_source = corrected_count > 0 ? "decoded frames" : info.frame_count_source;
    out.read_stats = *stats;
    return out;
  }
  return Status::Error(path + ": the frame count changed between reads of the file");
}

}  // namespace

Result<PreprocessedVideo> PreprocessVideoFile(const std::string& path, const VideoLoadOptions& options,
                                              const VideoPreprocessConfig& config) {
  const OpenVideo open = [&](const VideoLimits& limits) { return VideoReader::Open(path, limits); };
  return PreprocessVideo(open, path, options, config);
}

Result<PreprocessedVideo> PreprocessVideoBytes(std::span<const uint8_t> bytes, const std::string& name,
                                               const VideoLoadOptions& options, const VideoPreprocessConfig& config) {
  const OpenVideo open = [&](const VideoLimits& limits) { return VideoReader::OpenBytes(bytes, name, limits); };
  return PreprocessVideo(open, name, options, config);
}

}  // namespace glmv
