// glmv preprocess: what the model would see of one image, video or PDF, as .npy files to compare with the
// reference (apps/preprocess_outputs.h lists them). No model weights are needed.
#include <fmt/core.h>

#include <algorithm>
#include <filesystem>

#include "apps/args.h"
#include "apps/cli_util.h"
#include "apps/commands.h"
#include "apps/input_limits.h"
#include "apps/media_inputs.h"
#include "apps/pdf_inputs.h"
#include "apps/preprocess_outputs.h"
#include "apps/video_inputs.h"
#include "apps/visual_inputs.h"

namespace glmv::app {
namespace {

std::vector<OptionSpec> PreprocessOptions() {
  std::vector<OptionSpec> spec = MediaInputOptionSpecs();
  for (auto* more : {ImageOptionSpecs, VideoOptionSpecs, PdfOptionSpecs, InputLimitOptionSpecs}) {
    for (auto& o : more()) {
      // Prompt-only PDF options mean nothing here.
      if (o.name != "--per-page" && o.name != "--with-text") spec.push_back(o);
    }
  }
  spec.push_back({"--model", "-m", true, "DIR  take the preprocessing settings from DIR's preprocessor configs"});
  spec.push_back({"--out", "-o", true, "DIR  where to write the .npy files and summary.json"});
  spec.push_back({"--help", "-h", false, "show this help"});
  return spec;
}

constexpr const char* kPreprocessHelp =
    "usage: glmv preprocess --input FILE --out DIR [options]\n"
    "       glmv preprocess --image F | --video F | --pdf F --out DIR [options]\n\n"
    "Decodes and preprocesses one image, video or PDF exactly as the model's processors do and writes what\n"
    "the model would receive. --input tells the kind by the file's content (JPEG, PNG, a video container,\n"
    "PDF), not its name. No model weights are needed; -m only supplies the processor settings.\n\n"
    "  image: pixel_values.npy (float32 [patches, 1176]), image_grid_thw.npy (int64 [1, 3])\n"
    "  video: pixel_values.npy, video_grid_thw.npy (int64 [1, 3]), frame_indices.npy (int64 [frames]: the\n"
    "         sampled frames), timestamps.npy (float64 [frames]: their stream times in seconds),\n"
    "         prompt_timestamps.npy (int64 [frames/2]: the integer second the prompt shows per frame pair)\n"
    "  pdf:   the pages chosen with --pages (rendered at --dpi, opened with --password) as one concatenated\n"
    "         pixel_values.npy, image_grid_thw.npy (int64 [pages, 3], one row per page in page order) and\n"
    "         page_numbers.npy (int64 [pages]); all pages share --pdf-max-tokens\n"
    "  all:   summary.json (sizes, grids, tokens, and for videos the frames and timestamps)\n\n"
    "Prints one line: frames or pages, the grid and the visual tokens. Limits on hostile files: see the\n"
    "--max-* flags and --decode-time-limit below; a file over a limit is an error naming the flag.\n\n{}";

Result<std::string> Preprocess(const Args& args, const MediaFiles& media, const InputLimits& limits,
                               const std::filesystem::path& out) {
  const std::string model = args.Get("--model");
  if (!media.video.empty()) {
    GLMV_ASSIGN_OR_RETURN(const VideoPreprocessConfig cfg, VideoConfigFromArgs(args, model));
    GLMV_ASSIGN_OR_RETURN(const VideoLoadOptions options, VideoLoadOptionsFromArgs(args, limits));
    GLMV_ASSIGN_OR_RETURN(const LoadedVideo video, LoadVideo(media.video, options, cfg));
    return WriteVideoOutputs(out, video);
  }
  GLMV_ASSIGN_OR_RETURN(const ImagePreprocessConfig cfg, ImageConfigFromArgs(args, model));
  if (!media.pdf.empty()) {
    GLMV_ASSIGN_OR_RETURN(const PdfOptions options, PdfOptionsFromArgs(args));
    GLMV_ASSIGN_OR_RETURN(LoadedPdf pdf, LoadPdf(media.pdf, options, cfg, limits));
    GLMV_ASSIGN_OR_RETURN(const PdfRequest pages, MakePdfRequest(pdf, 0, pdf.page_numbers.size(), ""));
    PrintPdfRequest(pdf, pages);
    return WritePdfOutputs(out, pdf, pages);
  }
  GLMV_ASSIGN_OR_RETURN(const std::vector<LoadedImage> images, LoadImages(media.images, cfg, limits));
  return WriteImageOutputs(out, images.at(0));
}

}  // namespace

int RunPreprocess(int argc, char** argv) {
  const auto spec = PreprocessOptions();
  auto args = Args::Parse(spec, argc, argv, 2);
  if (!args.ok()) return CommandFailed("preprocess", args.status());
  if (args->Has("--help")) {
    fmt::print(fmt::runtime(kPreprocessHelp), OptionsHelp(spec));
    return 0;
  }
  auto limits = InputLimitsFromArgs(*args);
  if (!limits.ok()) return CommandFailed("preprocess", limits.status());
  auto media = CollectMediaFiles(*args);
  if (!media.ok()) return CommandFailed("preprocess", media.status());
  const size_t inputs = media->images.size() + !media->video.empty() + !media->pdf.empty();
  if (inputs != 1) {
    return CommandFailed("preprocess", Status::Error("give exactly one input: --input, --image, --video or --pdf"));
  }
  if (!args->Has("--out")) return CommandFailed("preprocess", Status::Error("missing --out DIR"));
  auto line = Preprocess(*args, *media, *limits, args->Get("--out"));
  if (!line.ok()) return CommandFailed("preprocess", Explain(*limits, line.status()));
  fmt::print("{}\n", *line);
  return 0;
}

}  // namespace glmv::app
