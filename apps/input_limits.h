// The command line's limits on untrusted media files (--max-image-pixels, --max-decoded-frames,
// --max-decoded-bytes, --max-file-bytes, --decode-time-limit) and their translation into the decoders' own
// limit structs. The decoders name a limit by its field ("(DecodeLimits::max_pixels)"); Explain() turns that
// into the flag that raises it, so a user reading the error knows what to type.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/args.h"
#include "io/decode_pdf.h"
#include "io/decode_video.h"
#include "io/image.h"

namespace glmv::app {

// --max-image-pixels, --max-decoded-frames, --max-decoded-bytes, --max-file-bytes, --decode-time-limit.
std::vector<OptionSpec> InputLimitOptionSpecs();

struct InputLimits {
  // Pixels of one decoded picture: an image, a video frame, a rendered PDF page. 0 keeps each decoder's
  // default (100 M for images and pages, 36 M for video frames, which admits 8K).
  uint64_t max_image_pixels = 0;
  // Frames one pass over a video may decode (or a header may declare): bounds a runaway stream.
  int64_t max_decoded_frames = VideoLimits{}.max_frames;
  // RGB bytes one file may hold decoded at once: an image; all rendered pages of a PDF together (and half of
  // it for MuPDF's own heap); one video frame (videos are streamed frame by frame).
  uint64_t max_decoded_bytes = uint64_t{2} << 30;
  // Size of an image or PDF file, which are read whole. Videos are streamed and not bounded by it.
  uint64_t max_file_bytes = uint64_t{512} << 20;
  // Wall-clock seconds for decoding one file (an image, every page of a PDF together, a video's passes).
  double decode_seconds = 120;

  DecodeLimits ForImage() const;
  VideoLimits ForVideo() const;
  PdfLimits ForPdf(int max_pages) const;
  // `status` with every decoder limit name replaced by the flag that raises that limit; OK stays OK.
  Status Explain(const Status& status) const;
};

Result<InputLimits> InputLimitsFromArgs(const Args& args);

}  // namespace glmv::app
