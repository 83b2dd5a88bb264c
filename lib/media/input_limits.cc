#include "lib/media/input_limits.h"

#include <algorithm>

namespace glmv {

uint64_t InputLimits::PicturePixels(uint64_t decoder_default) const {
  const uint64_t pixels = max_image_pixels > 0 ? max_image_pixels : decoder_default;
  return std::min(pixels, max_decoded_bytes / 3);
}

bool InputLimits::PicturePixelsBoundByBytes(uint64_t decoder_default) const {
  const uint64_t pixels = max_image_pixels > 0 ? max_image_pixels : decoder_default;
  return max_decoded_bytes / 3 < pixels;
}

DecodeLimits InputLimits::ForImage() const {
  DecodeLimits d;
  d.max_pixels = PicturePixels(DecodeLimits{}.max_pixels);
  d.max_bytes = max_file_bytes;
  d.max_seconds = decode_seconds;
  return d;
}

VideoLimits InputLimits::ForVideo() const {
  VideoLimits v;
  v.max_frame_pixels = PicturePixels(VideoLimits{}.max_frame_pixels);
  v.max_frames = max_decoded_frames;
  v.max_seconds = decode_seconds;
  return v;
}

PdfLimits InputLimits::ForPdf(int max_pages) const {
  PdfLimits p;
  p.max_bytes = max_file_bytes;
  p.max_pages = max_pages;
  p.max_pixels_per_page = PicturePixels(PdfLimits{}.max_pixels_per_page);
  p.max_library_bytes = std::max<uint64_t>(max_decoded_bytes / 2, uint64_t{64} << 20);  // MuPDF needs some room
  // One limit per file, as for the other formats: a page may use what the document has left.
  p.max_total_seconds = decode_seconds;
  p.max_page_seconds = decode_seconds;
  return p;
}

}  // namespace glmv
