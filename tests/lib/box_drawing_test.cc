#include <doctest/doctest.h>

#include <cstdlib>

#include "io/decode_image.h"
#include "io/encode_png.h"
#include "lib/tools/box_drawing.h"
#include "lib/sampling/output_parser.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

TEST_CASE("boxes are drawn on their outline with a label, inside untouched, clipped at the edges") {
  RgbImage img;
  img.width = 400, img.height = 300;
  img.pixels.assign(400 * 300 * 3, 0);
  // The answer's box, 0–1000 normalised, mapped to this image: (100, 90)–(300, 240).
  const auto boxes = ParseBoxes("<|begin_of_box|>[250, 300, 750, 800]<|end_of_box|>");
  REQUIRE(boxes.size() == 1);
  DrawBoxes(img, {{BoxToPixels(boxes[0], 400, 300), "1"}, {{-50, -50, 1000, 1000}, "B2"}});
  auto px = [&](int x, int y) { return img.Row(y) + 3 * x; };
  CHECK(px(200, 90)[0] > 0);    // top edge of box 1
  CHECK(px(100, 150)[0] > 0);   // left edge
  CHECK(px(300, 150)[0] > 0);   // right edge
  CHECK(px(200, 240)[0] > 0);   // bottom edge
  CHECK(px(200, 150)[0] == 0);  // inside untouched
  CHECK(px(200, 150)[1] == 0);
  int label_white = 0;  // the tag holds white glyph pixels just above the box
  for (int y = 70; y < 90; ++y) {
    for (int x = 100; x < 130; ++x) label_white += px(x, y)[0] == 255 && px(x, y)[1] == 255 && px(x, y)[2] == 255;
  }
  CHECK(label_white > 0);

  // For a person to look at: GLMV_KEEP_DRAWING=1 writes the picture to the temp dir.
  if (std::getenv("GLMV_KEEP_DRAWING")) {
    const auto photo = test::SharedDir() / "media" / "jpeg" / "skimage-rocket.jpg";
    auto real = DecodeImageFile(photo.string());
    if (real.ok()) {
      DrawBoxes(*real, {{BoxToPixels({{420, 80, 560, 640}, 0}, real->width, real->height), "1"},
                        {BoxToPixels({{0, 700, 1000, 1000}, 0}, real->width, real->height), "2"}});
      CHECK(WritePng((std::filesystem::temp_directory_path() / "glmv_boxes.png").string(), *real).ok());
    }
  }
}

}  // namespace
}  // namespace glmv
