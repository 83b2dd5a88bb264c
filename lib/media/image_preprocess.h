// GLM-V image preprocessing (spec §4.1; golden/preprocess/README.md): RGB image → target size
// (smart_resize) → PIL bicubic resize → rescale/normalise → patches, exactly as transformers'
// Glm4vImageProcessorPil does it. File decoding (EXIF, alpha, palettes) is io/'s job; this takes RGB.
#pragma once

#include <array>
#include <cstddef>  // io/image.h uses size_t without including <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/image.h"
#include "io/status.h"
#include "lib/media/patchify.h"

namespace glmv {

// The processor settings, as in a model directory's preprocessor_config.json. The defaults are the
// GLM-4.1V/4.5V values (the processor class defaults differ: longest_edge 11760000 there).
struct ImagePreprocessConfig {
  int64_t min_pixels = 12544;    // size.shortest_edge (or min_pixels): lower bound on T·h·w
  int64_t max_pixels = 9633792;  // size.longest_edge (or max_pixels): upper bound on T·h·w (2·28²·6144)
  int patch_size = 14;
  int merge_size = 2;
  int temporal_patch_size = 2;   // also the frame count T a still image counts as in smart_resize
  bool do_resize = true;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<float, 3> image_mean = {0.48145466f, 0.4578275f, 0.40821073f};  // OpenAI CLIP
  std::array<float, 3> image_std = {0.26862954f, 0.26130258f, 0.27577711f};

  int factor() const { return patch_size * merge_size; }  // 28: sizes are multiples of this
  PatchifyParams patchify_params() const;
  Status Validate() const;

  // Parses preprocessor_config.json text (keys absent from it keep their defaults); `source` names the file
  // in errors. Only resample = 3 (BICUBIC) is accepted.
  static Result<ImagePreprocessConfig> FromJson(const std::string& json_text, const std::string& source);
  // `model_dir`/preprocessor_config.json when that file exists, else the defaults.
  static Result<ImagePreprocessConfig> FromModelDir(const std::string& model_dir);
};

struct ResizeTarget {
  int height = 0;
  int width = 0;
};

// transformers' glm4v smart_resize, branch for branch: sides < factor are first scaled up (sizes only,
// truncated with int()); an aspect ratio above 200 is an error naming the ratio; sides round half to even
// to multiples of `factor`; then T·h·w is brought inside [min_pixels, max_pixels] by a common scale
// (floor when shrinking, ceil when growing). A still image uses num_frames = temporal_factor = 2; a video
// passes its sampled frame count.
Result<ResizeTarget> SmartResize(int height, int width, int factor, int64_t min_pixels, int64_t max_pixels,
                                 int num_frames = 2, int temporal_factor = 2);

struct PreprocessedImage {
  std::vector<float> pixel_values;  // [grid_t * grid_h * grid_w][1176] float32
  int64_t grid_t = 0, grid_h = 0, grid_w = 0;  // image_grid_thw: (1, resized_height/14, resized_width/14)
  int resized_width = 0, resized_height = 0;
  int64_t num_tokens = 0;  // <|image|> placeholders: t·h·w / merge²

  int64_t num_patches() const { return grid_t * grid_h * grid_w; }
};

// The whole image pipeline for one RGB image.
Result<PreprocessedImage> PreprocessImage(const RgbImage& image, const ImagePreprocessConfig& config);

}  // namespace glmv
