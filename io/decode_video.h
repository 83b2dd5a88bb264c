// Video files through FFmpeg (libavformat/libavcodec/libswscale): any container and codec Debian's FFmpeg
// 5.1 decodes. A VideoReader opens one file, reports what the stream says about itself (size, frame rate,
// frame count, duration, rotation), and decodes the frames a caller asks for by index, upright, as 8-bit RGB.
// Which frames to take and what to do with them is lib/'s business (lib/video_preprocess.h); this layer knows
// nothing of the model. FFmpeg's headers stay inside io/decode_video.cc.
//
// Frame index k is the k-th frame in presentation order. Decoding from the start counts frames exactly;
// when a wanted frame lies far ahead and the container has a keyframe index (MP4, Matroska/WebM), the reader
// seeks instead and, from then on, derives indices from the stream's timestamps: round((pts - start) · fps).
// For constant-rate video the two agree (the tests check it frame by frame).
//
// A video held in memory (an upload, a data: URL's payload) is read the same way through FFmpeg's custom I/O
// (an AVIOContext whose read and seek work on the buffer); nothing touches the disk.
//
// Untrusted files: every limit below has a default, and every error message starts with the path (or the
// caller's name for the bytes) and says why. FFmpeg prints nothing (its log is captured and its last error
// line joins our message).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "io/image.h"
#include "io/status.h"

namespace glmv {

struct VideoLimits {
  // Pixels of one decoded picture (coded width × height). 36 M admits 8K UHD (33.2 M); a file declaring more
  // is refused before its first frame is allocated (FFmpeg checks the same bound in its buffer allocator).
  uint64_t max_frame_pixels = 36'000'000;
  // Frames (or, when counting, packets) one pass may go through: bounds the work a file with a bogus
  // frame count or a runaway stream can cause. 2 M frames is 18.5 h at 30 fps.
  int64_t max_frames = 2'000'000;
  // Wall-clock budget for everything done with one file (open, count, decode). FFmpeg's I/O checks it too,
  // so a stalled read or a decoder stuck on a hostile stream ends with an error instead of hanging.
  double max_seconds = 120.0;
  // Seek when the keyframe before a wanted frame lies at least this far ahead of the decoder (seconds of
  // video); nearer frames are reached by decoding on, which is cheaper and exact. Negative disables seeking.
  double min_seek_gap_seconds = 4.0;
  // A damaged file is refused by default: a packet the demuxer marks corrupt, one the decoder rejects, or a
  // frame it could only conceal is an error naming the time. True decodes on past such damage instead.
  bool accept_damaged_frames = false;
};

struct VideoInfo {
  std::string container;     // demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  std::string codec;         // decoder name, e.g. "h264"
  std::string pixel_format;  // as stored, e.g. "yuv420p"
  int coded_width = 0, coded_height = 0;  // as stored
  int width = 0, height = 0;              // as displayed (rotation applied); frames come out this size
  int rotation = 0;                       // degrees clockwise applied to the stored picture: 0, 90, 180, 270

  double fps = 0;          // frames per second (> 0)
  std::string fps_source;  // "avg_frame_rate", "r_frame_rate", "guessed", or "assumed" (no timing: 2.0)
  int64_t frame_count = 0;         // frames in the stream (> 0)
  std::string frame_count_source;  // "header" (the container's count) or "counted packets"
  double duration = 0;             // seconds: the stream's (else the container's) duration; 0 if unknown
  double start_time = 0;           // seconds: timestamp of the first frame
  bool has_keyframe_index = false;  // the container indexes keyframes (seeking is cheap and reliable)
};

// One decoded frame handed to ReadFrames' callback; valid during the call only (the reader reuses the
// image buffer for the next frame, which spares a fresh multi-megabyte allocation per frame).
struct VideoFrame {
  int64_t requested_index = 0;  // the wanted index this frame answers
  int64_t index = 0;            // the frame's own index (equal unless timestamps after a seek skip frames)
  double seconds = 0;           // from the frame's timestamp, relative to the stream start
  const RgbImage& image;        // upright; normally info().width × info().height (a stream may change size)
};

struct VideoReadStats {
  int64_t frames_decoded = 0;  // frames the decoder produced (converted to RGB or not)
  int64_t frames_delivered = 0;
  int seeks = 0;
  int64_t damaged_frames = 0;  // frames the decoder flagged as concealed or corrupt
  // The stream ended before the last wanted index; if the reader never sought, `frames_in_stream` is then
  // the exact number of frames the file holds (the header's count was wrong).
  bool ended_early = false;
  int64_t frames_in_stream = -1;
};

// The container family from the first bytes (magic numbers, not the file name): "mp4" (ISO BMFF/QuickTime,
// incl. 3GP), "matroska" (incl. WebM), "ogg", "mpeg-ps", "mpeg-ts", "avi", "flv", "asf"; "" if none.
std::string SniffVideoContainer(std::span<const uint8_t> bytes);

class VideoReader {
 public:
  // Opens and probes `path`. Errors: missing/empty file, not a video container FFmpeg accepts (playlists
  // and other formats that would open further files are refused), no decodable video stream, picture
  // larger than the limit, time limit.
  static Result<std::unique_ptr<VideoReader>> Open(const std::string& path, const VideoLimits& limits = {});
  // The same for a video held in memory. `bytes` must stay valid and unchanged for the reader's whole life
  // (the container is read again after counting frames, and after a seek that went wrong); nothing is
  // copied. `name` starts every error message and is what path() returns. The container and its demuxers
  // are those of Open; a demuxer that would open a further file or URL gets a refusal.
  static Result<std::unique_ptr<VideoReader>> OpenBytes(std::span<const uint8_t> bytes, const std::string& name,
                                                        const VideoLimits& limits = {});
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  const VideoInfo& info() const;
  const std::string& path() const;  // the path, or the name given to OpenBytes

  using FrameCallback = std::function<Status(const VideoFrame& frame)>;
  // Decodes the frames at `indices` (ascending, no repeats) and calls `on_frame` once per index, in order;
  // a callback error stops the read and is returned. Only wanted frames are converted to RGB. Frames past
  // the end of the stream are not delivered: `stats.ended_early` says so (a track that ends well before its
  // declared length is an error: the file is truncated). Damaged data (see VideoLimits), a demuxing error,
  // a picture over the limit or the time limit is an error naming the file. Call once per reader.
  Result<VideoReadStats> ReadFrames(std::span<const int64_t> indices, const FrameCallback& on_frame);

 private:
  struct Impl;
  explicit VideoReader(std::unique_ptr<Impl> impl);
  // Open's and OpenBytes' common part: probe, frame count, and the reader.
  static Result<std::unique_ptr<VideoReader>> OpenImpl(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace glmv
