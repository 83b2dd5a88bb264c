#include "lib/media/image_preprocess.h"

#include "lib/model/model_assets.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lib/media/pil_resize.h"

namespace glmv {
namespace {

using nlohmann::json;

// Python's round() on a float: halves go to the even neighbour (70/28 = 2.5 → 2). Written out rather than
// std::nearbyint so it does not depend on the floating-point environment's rounding mode.
int64_t RoundHalfEven(double x) {
  const double f = std::floor(x);
  const double diff = x - f;  // exact for the magnitudes here
  int64_t r = static_cast<int64_t>(f);
  if (diff > 0.5 || (diff == 0.5 && r % 2 != 0)) ++r;
  return r;
}

// repr() of a Python float in fixed notation ("250.0", "200.07142857142858"): shortest round-trip digits.
std::string PythonFloatRepr(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  std::string s(buf, res.ptr);
  if (s.find('.') == std::string::npos) s += ".0";
  return s;
}

std::string SizeText(int64_t width, int64_t height) { return std::to_string(width) + "x" + std::to_string(height); }

// Reads `key` into `out` when present; a wrong type is an error naming source and key.
template <typename T>
Status ReadKey(const json& j, const char* key, const std::string& where, T& out) {
  if (!j.contains(key) || j[key].is_null()) return Status::Ok();
  const json& v = j[key];
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) return Status::Error(where + key + " must be true or false");
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) return Status::Error(where + key + " must be an integer");
    const int64_t i = v.get<int64_t>();
    if (i < std::numeric_limits<T>::min() || i > std::numeric_limits<T>::max()) {
      return Status::Error(where + key + " is out of range");
    }
  } else {
    if (!v.is_number()) return Status::Error(where + key + " must be a number");
  }
  out = v.get<T>();
  return Status::Ok();
}

// image_mean / image_std: a list of 3 numbers, or one number for every channel (as transformers allows).
// Stored as float32 because numpy casts them to the image dtype before normalising.
Status ReadChannelTriple(const json& j, const char* key, const std::string& where, std::array<float, 3>& out) {
  if (!j.contains(key) || j[key].is_null()) return Status::Ok();
  const json& v = j[key];
  if (v.is_number()) {
    out.fill(static_cast<float>(v.get<double>()));
    return Status::Ok();
  }
  if (!v.is_array() || v.size() != 3) return Status::Error(where + key + " must be a number or a list of 3 numbers");
  for (size_t c = 0; c < 3; ++c) {
    if (!v[c].is_number()) return Status::Error(where + key + " must hold numbers");
    out[c] = static_cast<float>(v[c].get<double>());
  }
  return Status::Ok();
}

}  // namespace

PatchifyParams ImagePreprocessConfig::patchify_params() const {
  PatchifyParams p;
  p.patch_size = patch_size;
  p.merge_size = merge_size;
  p.temporal_patch_size = temporal_patch_size;
  p.do_rescale = do_rescale;
  p.rescale_factor = rescale_factor;
  p.do_normalize = do_normalize;
  p.mean = image_mean;
  p.std = image_std;
  return p;
}

Status ImagePreprocessConfig::Validate() const {
  if (patch_size <= 0 || merge_size <= 0 || temporal_patch_size <= 0) {
    return Status::Error("patch_size, merge_size and temporal_patch_size must be positive");
  }
  if (patch_size * merge_size > 4096) return Status::Error("patch_size × merge_size is implausibly large");
  if (min_pixels <= 0 || max_pixels < min_pixels) {
    return Status::Error("size must have 0 < shortest_edge (min_pixels " + std::to_string(min_pixels) +
                         ") ≤ longest_edge (max_pixels " + std::to_string(max_pixels) + ")");
  }
  if (!std::isfinite(rescale_factor)) return Status::Error("rescale_factor must be finite");
  for (int c = 0; c < 3; ++c) {
    if (!std::isfinite(image_mean[c]) || !std::isfinite(image_std[c]) || image_std[c] == 0.0f) {
      return Status::Error("image_mean and image_std must be finite and image_std non-zero");
    }
  }
  return Status::Ok();
}

Result<ImagePreprocessConfig> ImagePreprocessConfig::FromJson(const std::string& json_text,
                                                              const std::string& source) {
  const json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Error(source + ": not valid JSON");
  if (!j.is_object()) return Status::Error(source + ": expected a JSON object");
  const std::string where = source + ": ";
  ImagePreprocessConfig c;
  // transformers 5 and the GLM-4.1V file use size{shortest_edge, longest_edge}; Qwen2-VL-style files put
  // min_pixels / max_pixels at the top level. The Glm4v processor reads only `size`, so it wins.
  GLMV_RETURN_IF_ERROR(ReadKey(j, "min_pixels", where, c.min_pixels));
  GLMV_RETURN_IF_ERROR(ReadKey(j, "max_pixels", where, c.max_pixels));
  if (j.contains("size") && !j["size"].is_null()) {
    if (!j["size"].is_object()) return Status::Error(where + "size must be an object");
    GLMV_RETURN_IF_ERROR(ReadKey(j["size"], "shortest_edge", where + "size.", c.min_pixels));
    GLMV_RETURN_IF_ERROR(ReadKey(j["size"], "longest_edge", where + "size.", c.max_pixels));
  }
  GLMV_RETURN_IF_ERROR(ReadKey(j, "patch_size", where, c.patch_size));
  GLMV_RETURN_IF_ERROR(ReadKey(j, "merge_size", where, c.merge_size));
  GLMV_RETURN_IF_ERROR(ReadKey(j, "temporal_patch_size", where, c.temporal_patch_size));
  GLMV_RETURN_IF_ERROR(ReadKey(j, "do_resize", where, c.do_resize));
  GLMV_RETURN_IF_ERROR(ReadKey(j, "do_rescale", where, c.do_rescale));
  GLMV_RETURN_IF_ERROR(ReadKey(j, "rescale_factor", where, c.rescale_factor));
  GLMV_RETURN_IF_ERROR(ReadKey(j, "do_normalize", where, c.do_normalize));
  GLMV_RETURN_IF_ERROR(ReadChannelTriple(j, "image_mean", where, c.image_mean));
  GLMV_RETURN_IF_ERROR(ReadChannelTriple(j, "image_std", where, c.image_std));
  int resample = 3;
  GLMV_RETURN_IF_ERROR(ReadKey(j, "resample", where, resample));
  if (resample != 3) {
    return Status::Error(where + "resample = " + std::to_string(resample) + " is not supported (only 3, BICUBIC)");
  }
  GLMV_RETURN_IF_ERROR(c.Validate().Annotate(source));
  return c;
}

Result<ImagePreprocessConfig> ImagePreprocessConfig::FromModelDir(const std::string& model_dir) {
  GLMV_ASSIGN_OR_RETURN(const auto text, ReadModelAsset(model_dir, "preprocessor_config.json"));
  if (!text) return ImagePreprocessConfig();
  return FromJson(*text, (std::filesystem::path(model_dir) / "preprocessor_config.json").string());
}

Result<ResizeTarget> SmartResize(int height, int width, int factor, int64_t min_pixels, int64_t max_pixels,
                                 int num_frames, int temporal_factor) {
  const std::string what = "smart_resize of a " + SizeText(width, height) + " image (w×h)";
  if (height <= 0 || width <= 0) return Status::Error(what + ": width and height must be positive");
  if (factor <= 0 || temporal_factor <= 0) return Status::Error(what + ": factor and temporal_factor must be positive");
  if (min_pixels <= 0 || max_pixels < min_pixels) return Status::Error(what + ": need 0 < min_pixels ≤ max_pixels");
  if (num_frames < temporal_factor) {
    return Status::Error(what + ": t:" + std::to_string(num_frames) + " must be larger than temporal_factor:" +
                         std::to_string(temporal_factor));
  }
  int64_t h = height, w = width;
  if (h < factor || w < factor) {
    // Sizes only: the pixels are later resized straight from the original. int() truncates.
    const double scale = std::max(static_cast<double>(factor) / h, static_cast<double>(factor) / w);
    h = static_cast<int64_t>(static_cast<double>(h) * scale);
    w = static_cast<int64_t>(static_cast<double>(w) * scale);
  }
  const double ratio = static_cast<double>(std::max(h, w)) / static_cast<double>(std::min(h, w));
  if (ratio > 200) {
    return Status::Error(what + ": absolute aspect ratio must be smaller than 200, got " + PythonFloatRepr(ratio));
  }
  // T·h·w goes through a double below; past 2^53 Python's exact integer division would differ.
  if (static_cast<double>(num_frames) * static_cast<double>(h) * static_cast<double>(w) > 0x1p53) {
    return Status::Error(what + ": too large");
  }
  int64_t h_bar = RoundHalfEven(static_cast<double>(h) / factor) * factor;
  int64_t w_bar = RoundHalfEven(static_cast<double>(w) / factor) * factor;
  const int64_t t_bar = RoundHalfEven(static_cast<double>(num_frames) / temporal_factor) * temporal_factor;
  const int64_t thw = num_frames * h * w;
  if (t_bar * h_bar * w_bar > max_pixels) {
    const double beta = std::sqrt(static_cast<double>(thw) / static_cast<double>(max_pixels));
    auto shrink = [&](int64_t side) {
      const auto blocks = static_cast<int64_t>(std::floor(static_cast<double>(side) / beta / factor));
      return std::max<int64_t>(factor, blocks * factor);
    };
    h_bar = shrink(h);
    w_bar = shrink(w);
  } else if (t_bar * h_bar * w_bar < min_pixels) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / static_cast<double>(thw));
    auto grow = [&](int64_t side) {
      return static_cast<int64_t>(std::ceil(static_cast<double>(side) * beta / factor)) * factor;
    };
    h_bar = grow(h);
    w_bar = grow(w);
  }
  if (h_bar > INT_MAX / 4 || w_bar > INT_MAX / 4 || h_bar * w_bar > (int64_t{1} << 32)) {
    return Status::Error(what + ": target size " + SizeText(w_bar, h_bar) + " is too large");
  }
  return ResizeTarget{static_cast<int>(h_bar), static_cast<int>(w_bar)};
}

Result<PreprocessedImage> PreprocessImage(const RgbImage& image, const ImagePreprocessConfig& config) {
  GLMV_RETURN_IF_ERROR(config.Validate().Annotate("image preprocessing settings"));
  if (image.width <= 0 || image.height <= 0) {
    return Status::Error("preprocess image: the image is empty (" + SizeText(image.width, image.height) + ")");
  }
  if (image.pixels.size() != static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * 3) {
    return Status::Error("preprocess image: pixel buffer size does not match " +
                         SizeText(image.width, image.height) + " RGB");
  }
  ResizeTarget target{image.height, image.width};
  if (config.do_resize) {
    GLMV_ASSIGN_OR_RETURN(target, SmartResize(image.height, image.width, config.factor(), config.min_pixels,
                                              config.max_pixels, config.temporal_patch_size,
                                              config.temporal_patch_size));
  }
  const RgbImage* frame = &image;
  RgbImage resized;
  if (target.width != image.width || target.height != image.height) {
    GLMV_ASSIGN_OR_RETURN(resized, PilResizeBicubic(image, target.width, target.height));
    frame = &resized;
  }
  // A still image fills every temporal slice with itself.
  const std::vector<const RgbImage*> frames(static_cast<size_t>(config.temporal_patch_size), frame);
  GLMV_ASSIGN_OR_RETURN(Patches patches, PatchifyFrames(frames, config.patchify_params()));

  PreprocessedImage out;
  out.pixel_values = std::move(patches.values);
  out.grid_t = patches.grid_t;
  out.grid_h = patches.grid_h;
  out.grid_w = patches.grid_w;
  out.resized_width = frame->width;
  out.resized_height = frame->height;
  out.num_tokens = out.num_patches() / (static_cast<int64_t>(config.merge_size) * config.merge_size);
  return out;
}

}  // namespace glmv
