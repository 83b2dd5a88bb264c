#include "io/decode_video_frame.h"

#include <cmath>
#include <cstring>
#include <string>

extern "C" {
#include <libavutil/display.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace glmv {
namespace {

// Resizes `image` to width × height (contents undefined) without giving back its memory.
void Reshape(RgbImage& image, int width, int height) {
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
}

// `src` turned `rotation` (90, 180 or 270) degrees clockwise into `dst`.
void Rotate(const RgbImage& src, int rotation, RgbImage& dst) {
  const int w = src.width, h = src.height;
  Reshape(dst, rotation == 180 ? w : h, rotation == 180 ? h : w);
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = src.Row(y);
    for (int x = 0; x < w; ++x) {
      int dx = 0, dy = 0;
      if (rotation == 90) dx = h - 1 - y, dy = x;
      else if (rotation == 180) dx = w - 1 - x, dy = h - 1 - y;
      else dx = y, dy = w - 1 - x;  // 270
      std::memcpy(dst.Row(dy) + static_cast<size_t>(dx) * 3, row + static_cast<size_t>(x) * 3, 3);
    }
  }
}

int SwsColourspace(AVColorSpace space) {
  switch (space) {
    case AVCOL_SPC_BT709: return SWS_CS_ITU709;
    case AVCOL_SPC_FCC: return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
    default: return SWS_CS_DEFAULT;  // BT.601, FFmpeg's choice when a stream declares nothing
  }
}

}  // namespace

int RotationFromDisplayMatrix(const uint8_t* data, size_t size) {
  if (data == nullptr || size < 9 * sizeof(int32_t)) return 0;
  int32_t matrix[9];
  std::memcpy(matrix, data, sizeof(matrix));
  const double ccw = av_display_rotation_get(matrix);
  if (std::isnan(ccw)) return 0;
  double theta = -std::round(ccw);
  theta -= 360 * std::floor(theta / 360 + 0.9 / 360);
  for (int r : {90, 180, 270}) {
    if (std::fabs(theta - r) < 1.0) return r;
  }
  return 0;
}

struct VideoFrameConverter::State {
  SwsContext* sws = nullptr;
  int sws_width = 0, sws_height = 0;  // what `sws` was made for
  AVPixelFormat sws_format = AV_PIX_FMT_NONE;
  int sws_colour_key = -1;
  AVFrame* rgb = av_frame_alloc();  // swscale's output, with FFmpeg's row alignment
  RgbImage converted, rotated;

  ~State() {
    sws_freeContext(sws);
    av_frame_free(&rgb);
  }
};

VideoFrameConverter::VideoFrameConverter() : state_(std::make_unique<State>()) {}
VideoFrameConverter::~VideoFrameConverter() = default;

Result<const RgbImage*> VideoFrameConverter::Convert(const AVFrame& frame, int rotation) {
  State& s = *state_;
  if (s.rgb == nullptr) return Status::Error("out of memory");
  const int w = frame.width, h = frame.height;
  const auto src_format = static_cast<AVPixelFormat>(frame.format);
  if (s.sws == nullptr || w != s.sws_width || h != s.sws_height || src_format != s.sws_format) {
    sws_freeContext(s.sws);
    // Same size in and out: only the colour conversion (and chroma upsampling) happens.
    s.sws = sws_getContext(w, h, src_format, w, h, AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr);
    s.sws_width = w, s.sws_height = h, s.sws_format = src_format, s.sws_colour_key = -1;
  }
  if (s.sws == nullptr) {
    const char* name = av_get_pix_fmt_name(src_format);
    return Status::Error(std::string("cannot convert frames of pixel format ") + (name ? name : "unknown") + " to RGB");
  }
  // The matrix and range the frame declares. RGB sources need none (swscale would refuse the call).
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(src_format);
  const int colour_key = static_cast<int>(frame.colorspace) * 2 + (frame.color_range == AVCOL_RANGE_JPEG);
  if (desc != nullptr && !(desc->flags & AV_PIX_FMT_FLAG_RGB) && colour_key != s.sws_colour_key) {
    s.sws_colour_key = colour_key;  // setting the details rebuilds swscale's tables: only when they change
    const bool jpeg_format = std::strncmp(desc->name, "yuvj", 4) == 0;  // full range by definition
    const int full_range = (frame.color_range == AVCOL_RANGE_JPEG || jpeg_format) ? 1 : 0;
    sws_setColorspaceDetails(s.sws, sws_getCoefficients(SwsColourspace(frame.colorspace)), full_range,
                             sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
  }
  if (s.rgb->width != w || s.rgb->height != h) {
    av_frame_unref(s.rgb);
    s.rgb->format = AV_PIX_FMT_RGB24;
    s.rgb->width = w;
    s.rgb->height = h;
    if (av_frame_get_buffer(s.rgb, 0) < 0) return Status::Error("out of memory for a frame");
  }
  if (sws_scale(s.sws, frame.data, frame.linesize, 0, h, s.rgb->data, s.rgb->linesize) != h) {
    return Status::Error("converting a frame to RGB failed");
  }
  Reshape(s.converted, w, h);
  for (int y = 0; y < h; ++y) {
    std::memcpy(s.converted.Row(y), s.rgb->data[0] + static_cast<ptrdiff_t>(y) * s.rgb->linesize[0],
                static_cast<size_t>(w) * 3);
  }
  if (rotation == 0) return &s.converted;
  Rotate(s.converted, rotation, s.rotated);
  return &s.rotated;
}

}  // namespace glmv
