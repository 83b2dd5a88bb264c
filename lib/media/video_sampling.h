// Which frames of a video the model sees (spec §4.2 step 1; golden/preprocess/video_sizing.json): the
// reference's Glm4vVideoProcessor.sample_frames, with its float arithmetic reproduced operation for operation,
// plus the pieces around it — a frame range (--start/--end), a cap on the frame count (--max-frames) and the
// per-temporal-patch timestamps the prompt carries.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "io/status.h"

namespace glmv {

// What the reference's VideoMetadata says about a video.
struct VideoSamplingInput {
  int64_t total_frames = 0;  // N (> 0)
  double video_fps = 0;      // the source's frames per second (> 0)
  // Seconds. Unset (or 0, as Python's `or` treats it) means the reference's fallback round((N-1)/fps) + 1.
  std::optional<double> duration;
};

struct VideoSamplingParams {
  double fps = 2.0;            // frames sampled per second of video
  double max_duration = 300;   // longer videos get max_duration·fps frames spread over the whole length
};

// sample_frames, exactly:
//   duration ≤ max_duration: n = floor(duration·fps), index_i = min(N-1, ceil(i·video_fps/fps)), i < n;
//   otherwise: n = int(max_duration·fps); all N frames if n ≥ N, else index = min(N-1, ceil(t·video_fps))
//   for t in numpy.linspace(0, duration, n);
// then duplicates dropped (first occurrence kept) and, for an odd count, the last index repeated. The
// result may be empty (a clip shorter than one sampling interval with an explicit duration); callers decide.
Result<std::vector<int64_t>> SampleFrameIndices(const VideoSamplingInput& input, const VideoSamplingParams& params);

// The frames of [start_seconds, end_seconds) as a half-open index range [first, last) of a video with
// `total_frames` frames at `video_fps` (frame i shows at i / video_fps). Unset end = to the end. Errors
// when the range holds no frame, and for a bad start or end, named as the VideoLoadOptions fields they come
// from (VideoLoadOptions::start_seconds, ::end_seconds).
struct FrameRange {
  int64_t first = 0;
  int64_t last = 0;  // exclusive
  int64_t size() const { return last - first; }
};
Result<FrameRange> FrameRangeForSeconds(int64_t total_frames, double video_fps, double start_seconds,
                                        std::optional<double> end_seconds);

// At most `max_frames` (rounded down to even, at least 2) of `indices`, spread evenly with the first and the
// last kept; `indices` unchanged when within the cap.
std::vector<int64_t> CapFrameCount(const std::vector<int64_t>& indices, int64_t max_frames);

// int(index / video_fps) of the first frame of each temporal patch (every `temporal_patch`-th index): the
// integer seconds the prompt writes after each frame pair, as the reference's processor does.
std::vector<int64_t> TemporalPatchTimestamps(const std::vector<int64_t>& indices, double video_fps,
                                             int temporal_patch = 2);

}  // namespace glmv
