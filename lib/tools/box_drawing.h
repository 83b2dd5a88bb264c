// Drawing grounding boxes onto a picture so a person can check them: a coloured rectangle per box and its
// number in a filled tag at the top-left corner.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "io/image.h"

namespace glmv {

struct LabelledBox {
  std::array<double, 4> pixels{};  // x1, y1, x2, y2 in the image's pixels
  std::string label;               // digits and letters A–Z (others are drawn as blanks)
};

// Draws every box (clipped to the image; corners in any order). Line width scales with the image size.
void DrawBoxes(RgbImage& image, const std::vector<LabelledBox>& boxes);

}  // namespace glmv
