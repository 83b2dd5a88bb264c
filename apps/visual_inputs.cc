#include "apps/visual_inputs.h"

#include <fmt/core.h>

#include <filesystem>
#include <utility>

#include "io/encode_png.h"
#include "lib/tools/box_drawing.h"

namespace glmv::app {

std::vector<OptionSpec> ImageOptionSpecs() {
  return {
      {"--image", "-i", true, "FILE  a JPEG, PNG or WebP to show the model (repeatable, in prompt order)"},
      {"--min-pixels", "", true, "N  resize small images up to at least N pixels (default: the model's, 12544)"},
      {"--max-pixels", "", true, "N  resize large images down to at most N/2 pixels (default: the model's, 9633792)"},
  };
}

Result<ImagePreprocessConfig> ImageConfigFromArgs(const Args& args, const std::string& model_dir) {
  ImagePreprocessConfig cfg;
  if (!model_dir.empty()) {
    GLMV_ASSIGN_OR_RETURN(cfg, ImagePreprocessConfig::FromModelDir(model_dir));
  }
  GLMV_ASSIGN_OR_RETURN(long long min_pixels, args.GetInt("--min-pixels", cfg.min_pixels));
  GLMV_ASSIGN_OR_RETURN(long long max_pixels, args.GetInt("--max-pixels", cfg.max_pixels));
  cfg.min_pixels = min_pixels;
  cfg.max_pixels = max_pixels;
  GLMV_RETURN_IF_ERROR(cfg.Validate());
  return cfg;
}

Result<std::vector<LoadedImage>> LoadImages(const std::vector<std::string>& paths, const ImagePreprocessConfig& config,
                                            const InputLimits& limits) {
  std::vector<LoadedImage> out;
  for (const auto& path : paths) {
    GLMV_ASSIGN_OR_RETURN(LoadedImage image, LoadImageFile(path, config, limits));
    const PreprocessedImage& pre = image.preprocessed;
    fmt::print(stderr, "image {}: {}x{} -> {}x{}, {} visual tokens\n", path, image.image.width, image.image.height,
               pre.resized_width, pre.resized_height, pre.num_tokens);
    out.push_back(std::move(image));
  }
  return out;
}

Result<std::vector<std::string>> DrawBoxesToFiles(const std::vector<RgbImage>& pictures,
                                                  const std::vector<GroundingBox>& boxes, const std::string& out_path) {
  std::vector<std::string> written;
  if (pictures.empty()) return Status::Error("--draw-boxes needs at least one --image");
  namespace fs = std::filesystem;
  for (size_t i = 0; i < pictures.size(); ++i) {
    RgbImage canvas = pictures[i];
    std::vector<LabelledBox> labelled;
    for (size_t b = 0; b < boxes.size(); ++b) {
      labelled.push_back({BoxToPixels(boxes[b], canvas.width, canvas.height), std::to_string(b + 1)});
    }
    DrawBoxes(canvas, labelled);
    std::string path = out_path;
    if (pictures.size() > 1) {
      const fs::path p(out_path);
      path = (p.parent_path() / (p.stem().string() + "-" + std::to_string(i + 1) + p.extension().string())).string();
    }
    GLMV_RETURN_IF_ERROR(WritePng(path, canvas));
    written.push_back(path);
  }
  return written;
}

}  // namespace glmv::app
