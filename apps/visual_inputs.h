// Image files named on the command line: the flags that choose the preprocessing, loading each file through
// lib/media (decode → preprocess) with a line per image on stderr, and boxes in the answer drawn back onto the
// pictures.
#pragma once

#include <string>
#include <vector>

#include "apps/args.h"
#include "io/image.h"
#include "lib/media/image_inputs.h"
#include "lib/media/image_preprocess.h"
#include "lib/media/input_limits.h"
#include "lib/sampling/output_parser.h"

namespace glmv::app {

// --image, --min-pixels, --max-pixels.
std::vector<OptionSpec> ImageOptionSpecs();

// The preprocessing settings: the model directory's preprocessor_config.json (or GLM-4.5V's defaults), with
// --min-pixels / --max-pixels applied.
Result<ImagePreprocessConfig> ImageConfigFromArgs(const Args& args, const std::string& model_dir);

// LoadImageFile for every path, in order; prints one line per image to stderr (size, resized size, tokens).
Result<std::vector<LoadedImage>> LoadImages(const std::vector<std::string>& paths, const ImagePreprocessConfig& config,
                                            const InputLimits& limits = {});

// Writes the pictures with the answer's boxes drawn on them: OUT itself for one picture, OUT with -1, -2, ...
// before the extension for several. Returns the paths written.
Result<std::vector<std::string>> DrawBoxesToFiles(const std::vector<RgbImage>& pictures,
                                                  const std::vector<GroundingBox>& boxes, const std::string& out_path);

}  // namespace glmv::app
