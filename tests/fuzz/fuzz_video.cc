// libFuzzer target: the video reader (FFmpeg behind io/decode_video.cc) on arbitrary bytes, read in place
// through VideoReader::OpenBytes (our AVIOContext read and seek callbacks; Open differs only in using FFmpeg's
// file protocol instead). Each input is opened (probe, stream choice, frame count) and the first, a middle and
// the last frame are decoded, which exercises decoding in order and seeking. An error
// status is the normal outcome; a crash, a sanitizer report, a leak, a hang or a bad frame is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/decode_video.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  glmv::VideoLimits limits;
  limits.max_frame_pixels = 2'000'000;  // small limits keep each run short; the checks are the same code
  limits.max_frames = 5'000;
  limits.max_seconds = 5;
  limits.min_seek_gap_seconds = 0.5;  // seek often: seeking is where timestamps of a hostile file matter most
  auto reader = glmv::VideoReader::OpenBytes({data, size}, "fuzz-video", limits);
  if (!reader.ok()) return 0;
  const int64_t n = (*reader)->info().frame_count;
  if (n <= 0) glmv::fuzz::InvariantBroken("video: opened with no frames");
  std::vector<int64_t> wanted = {0, n / 2, n - 1};
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  int64_t last = -1;
  auto stats = (*reader)->ReadFrames(wanted, [&](const glmv::VideoFrame& frame) {
    glmv::fuzz::CheckPicture(frame.image, limits.max_frame_pixels, "video: bad frame");
    if (frame.requested_index <= last) glmv::fuzz::InvariantBroken("video: frames out of order");
    last = frame.requested_index;
    return glmv::Status::Ok();
  });
  if (stats.ok() && stats->frames_delivered > static_cast<int64_t>(wanted.size())) {
    glmv::fuzz::InvariantBroken("video: more frames delivered than asked for");
  }
  return 0;
}
