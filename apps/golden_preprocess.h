// check-golden for image-preprocessing sets (the ../shared/golden/preprocess format: cases with an
// input_file and settings, pixel_values and image_grid_thw to match).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "apps/golden_check.h"

namespace glmv::app {

// Tolerance for preprocessed pixel values: the reference's PIL resize is reproduced exactly, so values
// should be identical; 0.02 absolute allows one uint8 level (≈ 0.015 after normalisation) where a
// decoder differs, and at least 99 % of the values must be identical.
constexpr double kPixelTolerance = 0.02;
constexpr double kMinIdenticalFraction = 0.99;

// True when cases.json describes a preprocessing set.
bool IsPreprocessSet(const nlohmann::ordered_json& index);

GoldenReport CheckPreprocessSet(const std::string& dir, const nlohmann::ordered_json& index, bool verbose);

}  // namespace glmv::app
