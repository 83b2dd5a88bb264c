#include "apps/media_inputs.h"

#include <fmt/core.h>

namespace glmv::app {

std::vector<OptionSpec> MediaInputOptionSpecs() {
  return {{"--input", "", true,
           "FILE  an image (JPEG, PNG), a video or a PDF, told apart by the file's content, not its name "
           "(repeatable; images keep their order; at most one video and one PDF)"}};
}

Status UnknownMediaError(const std::string& path, const MediaSniff& sniff) {
  if (sniff.format.ends_with(" image")) {
    return Status::Error(fmt::format("{}: --input: unsupported {} (JPEG, PNG and WebP images are decoded)", path,
                                     sniff.format));
  }
  const std::string what = sniff.format == "text" ? "holds text" : "is " + sniff.format;
  return Status::Error(fmt::format(
      "{}: --input: the file {}, not a JPEG, PNG or WebP image, a video or a PDF (a video in a container glmv "
      "does not recognise by its bytes can still be given with --video)",
      path, what));
}

Result<MediaFiles> CollectMediaFiles(const Args& args) {
  MediaFiles out;
  out.images = args.GetAll("--image");
  if (args.GetAll("--video").size() > 1) return Status::Error("give at most one --video");
  if (args.GetAll("--pdf").size() > 1) return Status::Error("give at most one --pdf");
  out.video = args.Get("--video");
  out.pdf = args.Get("--pdf");
  for (const std::string& path : args.GetAll("--input")) {
    GLMV_ASSIGN_OR_RETURN(const MediaSniff sniff, SniffMediaFile(path));
    std::string* slot = nullptr;
    switch (sniff.kind) {
      case MediaKind::kImage: out.images.push_back(path); continue;
      case MediaKind::kVideo: slot = &out.video; break;
      case MediaKind::kPdf: slot = &out.pdf; break;
      case MediaKind::kUnknown: return UnknownMediaError(path, sniff);
    }
    if (!slot->empty()) {
      return Status::Error(fmt::format("{}: --input: a second {} ({} is one already); one request takes at most "
                                       "one video and one PDF",
                                       path, MediaKindName(sniff.kind), *slot));
    }
    *slot = path;
  }
  return out;
}

}  // namespace glmv::app
