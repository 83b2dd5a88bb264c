// What one request may make the decoders spend on untrusted media, in one struct for every kind of file, and
// its translation into each decoder's own limit struct (io/image.h, io/decode_video.h, io/decode_pdf.h). The
// CLI fills it from flags, a server from its configuration. A limit that stops a file is named in the error by
// the decoder's field ("(DecodeLimits::max_pixels)"), so the caller can say which of its own settings raises it.
#pragma once

#include <cstddef>  // io/image.h uses size_t without including <cstddef>
#include <cstdint>

#include "io/decode_pdf.h"
#include "io/decode_video.h"
#include "io/image.h"

namespace glmv {

struct InputLimits {
  // Pixels of one decoded picture: an image, a video frame, a rendered PDF page. 0 keeps each decoder's
  // default (100 M for images and pages, 36 M for video frames, which admits 8K).
  uint64_t max_image_pixels = 0;
  // Frames one pass over a video may decode (or a header may declare): bounds a runaway stream.
  int64_t max_decoded_frames = VideoLimits{}.max_frames;
  // RGB bytes one file may hold decoded at once: an image; all rendered pages of a PDF together (and half of
  // it for MuPDF's own heap); one video frame (videos are streamed frame by frame).
  uint64_t max_decoded_bytes = uint64_t{2} << 30;
  // Size of an image or PDF file (or buffer), which are read whole. Videos are streamed and not bounded by it.
  uint64_t max_file_bytes = uint64_t{512} << 20;
  // Wall-clock seconds for decoding one file (an image, every page of a PDF together, a video's passes).
  double decode_seconds = 120;

  DecodeLimits ForImage() const;
  VideoLimits ForVideo() const;
  PdfLimits ForPdf(int max_pages) const;

  // The pixels one picture may have when the decoder's own default is `decoder_default`: max_image_pixels (or
  // that default), lowered to what max_decoded_bytes admits at 3 bytes a pixel.
  uint64_t PicturePixels(uint64_t decoder_default) const;
  // True when max_decoded_bytes, not max_image_pixels, is what PicturePixels(decoder_default) comes from.
  bool PicturePixelsBoundByBytes(uint64_t decoder_default) const;
};

}  // namespace glmv
