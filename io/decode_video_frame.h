// Internal to io/decode_video.cc: FFmpeg's decoded pictures → upright 8-bit RGB. Only a forward declaration
// of FFmpeg's frame type appears here; libswscale stays inside io/decode_video_frame.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "io/image.h"
#include "io/status.h"

struct AVFrame;

namespace glmv {

// Degrees clockwise a display matrix (FFmpeg's 3×3 int32 side data) turns the stored picture, snapped to
// 0/90/180/270 as ffmpeg 5.1's own autorotation does (it ignores mirroring too). 0 without a matrix.
int RotationFromDisplayMatrix(const uint8_t* data, size_t size);

// Converts frames to RGB24 with swscale in the colour matrix and range each frame declares, then turns them
// upright. Keeps its buffers between frames: a video's frames all have the same size, and reusing memory
// spares a fresh multi-megabyte allocation (and its page faults) per frame.
class VideoFrameConverter {
 public:
  VideoFrameConverter();
  ~VideoFrameConverter();
  VideoFrameConverter(const VideoFrameConverter&) = delete;
  VideoFrameConverter& operator=(const VideoFrameConverter&) = delete;

  // `frame` as RGB turned `rotation` (0, 90, 180, 270) degrees clockwise; valid until the next call. The
  // caller has checked the frame's size. Errors say why, without a file name.
  Result<const RgbImage*> Convert(const AVFrame& frame, int rotation);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace glmv
