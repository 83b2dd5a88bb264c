// Turning image files named on the command line into the model's visual inputs (decode → preprocess),
// and boxes in the answer back into each image's pixels.
#pragma once

#include <string>
#include <vector>

#include "apps/args.h"
#include "apps/input_limits.h"
#include "io/image.h"
#include "lib/media/image_preprocess.h"
#include "lib/prompt/multimodal.h"
#include "lib/sampling/output_parser.h"

namespace glmv::app {

// --image, --min-pixels, --max-pixels.
std::vector<OptionSpec> ImageOptionSpecs();

struct LoadedImages {
  std::vector<std::string> paths;
  std::vector<RgbImage> images;        // decoded, orientation applied (what boxes refer to)
  std::vector<int64_t> tokens_per_image;
  VisualInputs visual;
};

// The preprocessing settings: the model directory's preprocessor_config.json (or GLM-4.5V's defaults), with
// --min-pixels / --max-pixels applied.
Result<ImagePreprocessConfig> ImageConfigFromArgs(const Args& args, const std::string& model_dir);

// Decodes (within limits.ForImage()) and preprocesses every image; prints one line per image to stderr (size,
// resized size, tokens).
Result<LoadedImages> LoadImages(const std::vector<std::string>& paths, const ImagePreprocessConfig& config,
                                const InputLimits& limits = {});

// Writes the images with the answer's boxes drawn on them: OUT itself for one image, OUT with -1, -2, ...
// before the extension for several. Returns the paths written.
Result<std::vector<std::string>> DrawBoxesToFiles(const LoadedImages& images, const std::vector<GroundingBox>& boxes,
                                                  const std::string& out_path);

}  // namespace glmv::app
