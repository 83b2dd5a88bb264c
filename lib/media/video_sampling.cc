#include "lib/media/video_sampling.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <unordered_set>

namespace glmv {
namespace {

// Python's round() on a float: halves to even. Written out so it does not depend on the rounding mode.
int64_t RoundHalfEven(double x) {
  const double f = std::floor(x);
  const double diff = x - f;
  int64_t r = static_cast<int64_t>(f);
  if (diff > 0.5 || (diff == 0.5 && r % 2 != 0)) ++r;
  return r;
}

// Seconds for messages: "2.5", "100", "5.53333".
std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", s);
  return buf;
}

// min(max_index, int(math.ceil(x))), with the minimum taken before the conversion so that no value is out of
// int64's range when converted.
int64_t ClampedCeil(double x, int64_t max_index) {
  const double c = std::ceil(x);
  return c >= static_cast<double>(max_index) ? max_index : static_cast<int64_t>(c);
}

// Every index the reference computes is clamped to N-1, so sizes and values stay within N; this bounds the
// sample count before a vector of it is made (a bogus fps or duration cannot ask for billions).
constexpr int64_t kMaxSamples = int64_t{1} << 24;

}  // namespace

Result<std::vector<int64_t>> SampleFrameIndices(const VideoSamplingInput& input, const VideoSamplingParams& params) {
  const int64_t total = input.total_frames;
  const double vf = input.video_fps;
  if (total <= 0) return Status::Error("frame sampling: the video has no frames");
  if (!(vf > 0) || !std::isfinite(vf)) return Status::Error("frame sampling: the video's frame rate must be positive");
  if (!(params.fps > 0) || !std::isfinite(params.fps)) return Status::Error("frame sampling: fps must be positive");
  if (!(params.max_duration > 0) || !std::isfinite(params.max_duration)) {
    return Status::Error("frame sampling: max_duration must be positive");
  }
  const int64_t max_index = total - 1;
  // `metadata.duration or round(max_frame_idx / video_fps) + 1`
  const double duration = (input.duration.has_value() && *input.duration != 0)
                              ? *input.duration
                              : static_cast<double>(RoundHalfEven(static_cast<double>(max_index) / vf) + 1);
  if (!std::isfinite(duration) || duration < 0) return Status::Error("frame sampling: the duration must be finite");

  std::vector<int64_t> indices;
  if (duration <= params.max_duration) {
    const double n_real = std::floor(duration * params.fps);
    if (n_real > static_cast<double>(kMaxSamples)) return Status::Error("frame sampling: too many frames requested");
    const auto n = static_cast<int64_t>(n_real);
    indices.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      // i * video_fps / self.fps, left to right, as Python evaluates it.
      indices.push_back(ClampedCeil(static_cast<double>(i) * vf / params.fps, max_index));
    }
  } else {
    const double n_real = std::trunc(params.max_duration * params.fps);  // int()
    if (n_real > static_cast<double>(kMaxSamples)) return Status::Error("frame sampling: too many frames requested");
    const auto n = static_cast<int64_t>(n_real);
    if (n >= total) {
      for (int64_t i = 0; i < total; ++i) indices.push_back(i);
    } else if (n == 1) {
      indices.push_back(0);  // numpy.linspace(0, d, 1) is [0.0]
    } else if (n > 1) {
      // numpy.linspace(0, duration, n, endpoint=True): i * (duration / (n-1)), the last value exactly duration.
      const double step = duration / static_cast<double>(n - 1);
      for (int64_t i = 0; i < n; ++i) {
        const double t = i == n - 1 ? duration : static_cast<double>(i) * step;
        indices.push_back(ClampedCeil(t * vf, max_index));
      }
    }
  }

  std::vector<int64_t> unique;
  std::unordered_set<int64_t> seen;
  for (int64_t idx : indices) {
    if (seen.insert(idx).second) unique.push_back(idx);
  }
  if (unique.size() % 2 == 1) unique.push_back(unique.back());
  return unique;
}

Result<FrameRange> FrameRangeForSeconds(int64_t total_frames, double video_fps, double start_seconds,
                                        std::optional<double> end_seconds) {
  if (total_frames <= 0 || !(video_fps > 0)) return Status::Error("frame range: the video has no frames");
  if (!std::isfinite(start_seconds) || start_seconds < 0) {
    return Status::Error("VideoLoadOptions::start_seconds must be a non-negative number of seconds");
  }
  if (end_seconds && (!std::isfinite(*end_seconds) || *end_seconds <= start_seconds)) {
    return Status::Error("VideoLoadOptions::end_seconds must come after VideoLoadOptions::start_seconds");
  }
  // Frame i shows at i / fps: the range holds i with start ≤ i/fps < end. The small epsilon keeps a time
  // that is an exact frame boundary on that frame despite rounding in the product.
  auto first_at_or_after = [&](double seconds) {
    const double x = std::ceil(seconds * video_fps - 1e-9);
    return x >= static_cast<double>(total_frames) ? total_frames : static_cast<int64_t>(std::max(0.0, x));
  };
  FrameRange range{first_at_or_after(start_seconds), end_seconds ? first_at_or_after(*end_seconds) : total_frames};
  if (range.size() <= 0) {
    const double length = static_cast<double>(total_frames) / video_fps;
    return Status::Error("the range from " + Seconds(start_seconds) + " s" +
                         (end_seconds ? " to " + Seconds(*end_seconds) + " s" : std::string()) +
                         " holds no frame (the video has " + std::to_string(total_frames) + " frames, " +
                         Seconds(length) + " s)");
  }
  return range;
}

std::vector<int64_t> CapFrameCount(const std::vector<int64_t>& indices, int64_t max_frames) {
  const int64_t size = static_cast<int64_t>(indices.size());
  const int64_t keep = std::max<int64_t>(2, max_frames - max_frames % 2);
  if (size <= keep) return indices;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(keep));
  for (int64_t j = 0; j < keep; ++j) {
    // Position round(j·(size-1)/(keep-1)) in integers: first and last kept, the rest evenly between.
    const int64_t pos = (2 * j * (size - 1) + (keep - 1)) / (2 * (keep - 1));
    out.push_back(indices[static_cast<size_t>(pos)]);
  }
  return out;
}

std::vector<int64_t> TemporalPatchTimestamps(const std::vector<int64_t>& indices, double video_fps,
                                             int temporal_patch) {
  std::vector<int64_t> out;
  if (temporal_patch <= 0 || !(video_fps > 0)) return out;
  for (size_t i = 0; i < indices.size(); i += static_cast<size_t>(temporal_patch)) {
    // int(idx / fps): truncation toward zero of a non-negative value.
    out.push_back(static_cast<int64_t>(static_cast<double>(indices[i]) / video_fps));
  }
  return out;
}

}  // namespace glmv
