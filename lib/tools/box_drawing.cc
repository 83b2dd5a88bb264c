#include "lib/tools/box_drawing.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace glmv {
namespace {

// 3×5 bitmap glyphs, one row per 3 bits (MSB = left).
const uint8_t* Glyph(char c) {
  static const uint8_t kDigits[10][5] = {{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7},
                                         {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1},
                                         {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};
  static const uint8_t kLetters[26][5] = {
      {2, 5, 7, 5, 5}, {6, 5, 6, 5, 6}, {3, 4, 4, 4, 3}, {6, 5, 5, 5, 6}, {7, 4, 6, 4, 7}, {7, 4, 6, 4, 4},
      {3, 4, 5, 5, 3}, {5, 5, 7, 5, 5}, {7, 2, 2, 2, 7}, {1, 1, 1, 5, 2}, {5, 5, 6, 5, 5}, {4, 4, 4, 4, 7},
      {5, 7, 7, 5, 5}, {6, 5, 5, 5, 5}, {2, 5, 5, 5, 2}, {6, 5, 6, 4, 4}, {2, 5, 5, 6, 3}, {6, 5, 6, 5, 5},
      {3, 4, 2, 1, 6}, {7, 2, 2, 2, 2}, {5, 5, 5, 5, 7}, {5, 5, 5, 5, 2}, {5, 5, 7, 7, 5}, {5, 5, 2, 5, 5},
      {5, 5, 2, 2, 2}, {7, 1, 2, 4, 7}};
  static const uint8_t kBlank[5] = {0, 0, 0, 0, 0};
  if (c >= '0' && c <= '9') return kDigits[c - '0'];
  const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (u >= 'A' && u <= 'Z') return kLetters[u - 'A'];
  return kBlank;
}

void FillRect(RgbImage& img, int x0, int y0, int x1, int y1, const uint8_t rgb[3]) {
  x0 = std::max(x0, 0), y0 = std::max(y0, 0);
  x1 = std::min(x1, img.width), y1 = std::min(y1, img.height);
  for (int y = y0; y < y1; ++y) {
    uint8_t* row = img.Row(y);
    for (int x = x0; x < x1; ++x) std::copy(rgb, rgb + 3, row + 3 * x);
  }
}

}  // namespace

void DrawBoxes(RgbImage& image, const std::vector<LabelledBox>& boxes) {
  static const uint8_t kColors[6][3] = {{230, 25, 75}, {60, 180, 75}, {0, 130, 200}, {245, 130, 48}, {145, 30, 180}, {255, 225, 25}};
  static const uint8_t kWhite[3] = {255, 255, 255};
  const int thick = std::max(2, std::min(image.width, image.height) / 200);
  const int scale = std::max(2, std::min(image.width, image.height) / 120);  // glyph pixel size
  for (size_t i = 0; i < boxes.size(); ++i) {
    const uint8_t* color = kColors[i % 6];
    const auto& p = boxes[i].pixels;
    const int x0 = static_cast<int>(std::lround(std::min(p[0], p[2]))), x1 = static_cast<int>(std::lround(std::max(p[0], p[2])));
    const int y0 = static_cast<int>(std::lround(std::min(p[1], p[3]))), y1 = static_cast<int>(std::lround(std::max(p[1], p[3])));
    FillRect(image, x0, y0, x1 + 1, y0 + thick, color);
    FillRect(image, x0, y1 - thick + 1, x1 + 1, y1 + 1, color);
    FillRect(image, x0, y0, x0 + thick, y1 + 1, color);
    FillRect(image, x1 - thick + 1, y0, x1 + 1, y1 + 1, color);
    // Label tag: above the box when there is room, else inside it.
    const std::string& label = boxes[i].label;
    const int tag_w = static_cast<int>(label.size()) * 4 * scale + scale, tag_h = 7 * scale;
    const int tx = std::clamp(x0, 0, std::max(0, image.width - tag_w));
    const int ty = y0 - tag_h >= 0 ? y0 - tag_h : std::clamp(y0, 0, std::max(0, image.height - tag_h));
    FillRect(image, tx, ty, tx + tag_w, ty + tag_h, color);
    for (size_t k = 0; k < label.size(); ++k) {
      const uint8_t* g = Glyph(label[k]);
      for (int gy = 0; gy < 5; ++gy) {
        for (int gx = 0; gx < 3; ++gx) {
          if (!(g[gy] & (4 >> gx))) continue;
          const int px = tx + scale + static_cast<int>(k) * 4 * scale + gx * scale, py = ty + scale + gy * scale;
          FillRect(image, px, py, px + scale, py + scale, kWhite);
        }
      }
    }
  }
}

}  // namespace glmv
