// Which media files a command line names, and of which kind: --image, --video and --pdf say so themselves;
// --input FILE (repeatable) is routed by the file's first bytes (io/sniff_media.h), never by its name, so a
// JPEG saved as .png or a PDF named .mp4 still goes to the right decoder.
#pragma once

#include <string>
#include <vector>

#include "apps/args.h"
#include "io/sniff_media.h"

namespace glmv::app {

// --input.
std::vector<OptionSpec> MediaInputOptionSpecs();

struct MediaFiles {
  std::vector<std::string> images;  // every --image, then every --input image, in command-line order
  std::string video;                // --video or an --input video; "" for none
  std::string pdf;                  // --pdf or an --input PDF; "" for none
  bool any() const { return !images.empty() || !video.empty() || !pdf.empty(); }
};

// Sorts --image, --video, --pdf and every --input by kind. Errors name the file: one that cannot be read, one
// whose bytes are no JPEG, PNG, video container or PDF (saying what they look like), a second video or PDF.
Result<MediaFiles> CollectMediaFiles(const Args& args);

// The message for an --input file whose kind is unknown, e.g. "notes.txt: --input: the file holds text, not a
// JPEG, PNG or WebP image, a video or a PDF".
Status UnknownMediaError(const std::string& path, const MediaSniff& sniff);

}  // namespace glmv::app
