#include "io/decode_webp.h"

#include <optional>
#include <utility>

#include <webp/decode.h>
#include <webp/demux.h>

#include "io/exif.h"

namespace glmv {
namespace {

// libwebp's status codes in words.
const char* StatusText(VP8StatusCode code) {
  switch (code) {
    case VP8_STATUS_OK: return "ok";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "not enough data";
  }
  return "unknown error";
}

// Owns the demuxer and its iterators so that every return path releases them (in the order libwebp asks:
// iterators before the demuxer).
class Demuxed {
 public:
  Demuxed(const WebPData& data, WebPDemuxState* state) : demux_(WebPDemuxPartial(&data, state)) {}
  ~Demuxed() {
    if (have_frame_) WebPDemuxReleaseIterator(&frame_);
    if (have_exif_) WebPDemuxReleaseChunkIterator(&exif_);
    WebPDemuxDelete(demux_);
  }
  Demuxed(const Demuxed&) = delete;
  Demuxed& operator=(const Demuxed&) = delete;

  WebPDemuxer* get() const { return demux_; }
  // The first frame (the whole picture of a still image), or null.
  const WebPIterator* FirstFrame() {
    if (!have_frame_) have_frame_ = WebPDemuxGetFrame(demux_, 1, &frame_) != 0;
    return have_frame_ ? &frame_ : nullptr;
  }
  // Pillow 9.4 reads the first EXIF chunk (WebPAnimDecoder's get_chunk("EXIF")).
  std::optional<uint32_t> ExifOrientationValue() {
    if ((WebPDemuxGetI(demux_, WEBP_FF_FORMAT_FLAGS) & EXIF_FLAG) == 0) return std::nullopt;
    if (!have_exif_) have_exif_ = WebPDemuxGetChunk(demux_, "EXIF", 1, &exif_) != 0;
    if (!have_exif_) return std::nullopt;
    return ExifOrientation({exif_.chunk.bytes, exif_.chunk.size});
  }

 private:
  WebPDemuxer* demux_;
  WebPIterator frame_{};
  bool have_frame_ = false;
  WebPChunkIterator exif_{};
  bool have_exif_ = false;
};

}  // namespace

Result<RgbImage> DecodeWebp(std::span<const uint8_t> bytes, const std::string& name, const DecodeLimits& limits) {
  // The demuxer reads the container (RIFF, VP8X, the frames' rectangles, metadata chunks) without decoding
  // pixels; in partial mode it also says how far a cut-off file got.
  const WebPData data{bytes.data(), bytes.size()};
  WebPDemuxState state = WEBP_DEMUX_PARSE_ERROR;
  Demuxed demux(data, &state);
  if (demux.get() == nullptr || state == WEBP_DEMUX_PARSE_ERROR) {
    // Why, from the bitstream header (the demuxer gives no reason).
    WebPBitstreamFeatures features;
    const VP8StatusCode code = WebPGetFeatures(bytes.data(), bytes.size(), &features);
    if (code == VP8_STATUS_NOT_ENOUGH_DATA) {
      return Status::Error(name + ": truncated WebP: the data ends inside its header");
    }
    return Status::Error(name + ": invalid WebP (the container does not parse" +
                         (code != VP8_STATUS_OK ? std::string(": ") + StatusText(code) : std::string()) + ")");
  }
  if (state != WEBP_DEMUX_DONE) {
    return Status::Error(name + ": truncated WebP: the data ends before the file's declared end");
  }
  const uint64_t width = WebPDemuxGetI(demux.get(), WEBP_FF_CANVAS_WIDTH);
  const uint64_t height = WebPDemuxGetI(demux.get(), WEBP_FF_CANVAS_HEIGHT);
  if (width == 0 || height == 0) return Status::Error(name + ": invalid WebP (empty canvas)");
  if (width * height > limits.max_pixels) {
    return Status::Error(name + ": WebP is " + std::to_string(width) + "x" + std::to_string(height) + " = " +
                         std::to_string(width * height) + " pixels, over the limit of " +
                         std::to_string(limits.max_pixels) + " (DecodeLimits::max_pixels)");
  }
  const WebPIterator* frame = demux.FirstFrame();
  if (frame == nullptr || !frame->complete) return Status::Error(name + ": invalid WebP (no complete first frame)");
  // The demuxer checks this already; the decoder writes into our buffer, so it is checked again here.
  if (frame->x_offset < 0 || frame->y_offset < 0 || frame->width <= 0 || frame->height <= 0 ||
      static_cast<uint64_t>(frame->x_offset) + static_cast<uint64_t>(frame->width) > width ||
      static_cast<uint64_t>(frame->y_offset) + static_cast<uint64_t>(frame->height) > height) {
    return Status::Error(name + ": invalid WebP (the first frame lies outside the canvas)");
  }

  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) return Status::Error(name + ": cannot start the WebP decoder (version mismatch)");
  const VP8StatusCode header = WebPGetFeatures(frame->fragment.bytes, frame->fragment.size, &config.input);
  if (header != VP8_STATUS_OK) {
    return Status::Error(name + ": invalid WebP (first frame: " + StatusText(header) + ")");
  }
  if (config.input.width != frame->width || config.input.height != frame->height) {
    return Status::Error(name + ": invalid WebP (the frame's bitstream is " + std::to_string(config.input.width) + "x" +
                         std::to_string(config.input.height) + " but its header says " + std::to_string(frame->width) +
                         "x" + std::to_string(frame->height) + ")");
  }

  // Decoded straight into the canvas at the frame's offset: no RGBA canvas, no copy. The rest stays black.
  RgbImage image = RgbImage::Black(static_cast<int>(width), static_cast<int>(height));
  const size_t stride = static_cast<size_t>(width) * 3;
  const size_t offset = static_cast<size_t>(frame->y_offset) * stride + static_cast<size_t>(frame->x_offset) * 3;
  config.output.colorspace = MODE_RGB;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = image.pixels.data() + offset;
  config.output.u.RGBA.stride = static_cast<int>(stride);
  config.output.u.RGBA.size = image.pixels.size() - offset;
  const VP8StatusCode code = WebPDecode(frame->fragment.bytes, frame->fragment.size, &config);
  WebPFreeDecBuffer(&config.output);  // external memory: frees nothing of ours, but is the documented pairing
  if (code == VP8_STATUS_NOT_ENOUGH_DATA) {
    return Status::Error(name + ": truncated WebP: the data ends before the image is complete");
  }
  if (code != VP8_STATUS_OK) return Status::Error(name + ": invalid WebP (" + StatusText(code) + ")");
  return ApplyExifOrientation(std::move(image), demux.ExifOrientationValue().value_or(1));
}

}  // namespace glmv
