// Image preprocessing: smart_resize's branches and errors, the settings file, patch order, normalisation and
// errors. The comparison with the genuine GLM-V processor on the golden files of ../shared (sizes and full
// pixel_values) is image_preprocess_shared_test.cc.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "lib/media/image_preprocess.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

RgbImage Gradient(int width, int height) {
  RgbImage im;
  im.width = width;
  im.height = height;
  im.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      im.Row(y)[x * 3 + 0] = static_cast<uint8_t>(x);
      im.Row(y)[x * 3 + 1] = static_cast<uint8_t>(y);
      im.Row(y)[x * 3 + 2] = static_cast<uint8_t>((x * 7 + y * 13) & 255);
    }
  }
  return im;
}

// ---- smart_resize ----------------------------------------------------------------------------------

TEST_CASE("smart_resize: README examples and branches") {
  auto r = SmartResize(70, 182, 28, 12544, 9633792);  // 2.5 and 6.5 blocks: half to even
  REQUIRE(r.ok());
  CHECK(r->height == 56);
  CHECK(r->width == 168);
  r = SmartResize(3, 5, 28, 12544, 9633792);  // pre-scale to 28x46, then the ceil branch
  REQUIRE(r.ok());
  CHECK(r->height == 84);
  CHECK(r->width == 112);
  r = SmartResize(3000, 4000, 28, 12544, 9633792);  // floor branch
  REQUIRE(r.ok());
  CHECK(r->height == 1876);
  CHECK(r->width == 2520);
}

TEST_CASE("smart_resize: bad inputs are errors that say why") {
  auto r = SmartResize(4, 1000, 28, 12544, 9633792);  // pre-scaled to 28x7000
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("absolute aspect ratio must be smaller than 200, got 250.0") != std::string::npos);
  CHECK_FALSE(SmartResize(0, 10, 28, 12544, 9633792).ok());
  CHECK_FALSE(SmartResize(10, -3, 28, 12544, 9633792).ok());
  auto t = SmartResize(100, 100, 28, 12544, 9633792, /*num_frames=*/1);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().message().find("t:1 must be larger than temporal_factor:2") != std::string::npos);
  CHECK_FALSE(SmartResize(100, 100, 28, 0, 10).ok());
}

// ---- settings ----------------------------------------------------------------------------------------

TEST_CASE("preprocessor config: defaults, JSON, model directory") {
  const ImagePreprocessConfig d;
  CHECK(d.min_pixels == 12544);
  CHECK(d.max_pixels == 9633792);
  CHECK(d.factor() == 28);

  auto c = ImagePreprocessConfig::FromJson(
      R"({"size": {"shortest_edge": 3136, "longest_edge": 100352}, "patch_size": 14, "merge_size": 2,
          "temporal_patch_size": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": 0.25, "resample": 3,
          "rescale_factor": 0.00392156862745098, "do_convert_rgb": true,
          "image_processor_type": "Glm4vImageProcessor"})",
      "test.json");
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  CHECK(c->min_pixels == 3136);
  CHECK(c->max_pixels == 100352);
  CHECK(c->image_mean[2] == 0.5f);
  CHECK(c->image_std[1] == 0.25f);

  // Qwen2-VL-style top-level limits are read when `size` is absent.
  c = ImagePreprocessConfig::FromJson(R"({"min_pixels": 6272, "max_pixels": 200704})", "q.json");
  REQUIRE(c.ok());
  CHECK(c->min_pixels == 6272);
  CHECK(c->max_pixels == 200704);

  for (const char* bad : {"{", "[]", R"({"resample": 2})", R"({"patch_size": "14"})", R"({"image_std": [1, 0, 1]})",
                          R"({"size": {"shortest_edge": 100, "longest_edge": 10}})", R"({"image_mean": [1, 2]})"}) {
    auto r = ImagePreprocessConfig::FromJson(bad, "bad.json");
    CHECK_MESSAGE(!r.ok(), bad);
    if (!r.ok()) CHECK(r.status().message().find("bad.json") != std::string::npos);
  }

  test::TempDir dir;
  auto none = ImagePreprocessConfig::FromModelDir(dir.path().string());
  REQUIRE(none.ok());
  CHECK(none->max_pixels == 9633792);
  const std::string text = R"({"size": {"shortest_edge": 12544, "longest_edge": 100352}})";
  test::WriteBytes(dir / "preprocessor_config.json", std::vector<uint8_t>(text.begin(), text.end()));
  auto from_file = ImagePreprocessConfig::FromModelDir(dir.path().string());
  REQUIRE(from_file.ok());
  CHECK(from_file->max_pixels == 100352);
}

// ---- patch layout ------------------------------------------------------------------------------------

TEST_CASE("patchify: merge-block row order, [C][T][14][14] columns, frames in time order") {
  const RgbImage a = Gradient(84, 56);  // patch grid 4 × 6
  RgbImage b = a;
  for (auto& p : b.pixels) p = static_cast<uint8_t>(255 - p);
  const PatchifyParams params;
  auto patches = PatchifyFrames({&a, &b}, params);
  REQUIRE(patches.ok());
  CHECK(patches->grid_t == 1);
  CHECK(patches->grid_h == 4);
  CHECK(patches->grid_w == 6);
  REQUIRE(patches->values.size() == size_t{24} * 1176);
  int bad = 0;
  for (int r = 0; r < 4; ++r) {
    for (int col = 0; col < 6; ++col) {
      const int row = ((r / 2) * 3 + col / 2) * 4 + (r % 2) * 2 + col % 2;
      for (int c = 0; c < 3; ++c) {
        for (int t = 0; t < 2; ++t) {
          const RgbImage& f = t == 0 ? a : b;
          for (int py = 0; py < 14; ++py) {
            for (int px = 0; px < 14; ++px) {
              const float want = NormalizeSample(f.Row(r * 14 + py)[(col * 14 + px) * 3 + c], c, params);
              bad += patches->values[static_cast<size_t>(row) * 1176 + ((c * 2 + t) * 14 + py) * 14 + px] != want;
            }
          }
        }
      }
    }
  }
  CHECK(bad == 0);
  CHECK_FALSE(PatchifyFrames({&a}, params).ok());          // not a multiple of temporal_patch_size
  const RgbImage odd = Gradient(70, 56);
  CHECK_FALSE(PatchifyFrames({&odd, &odd}, params).ok());  // width not a multiple of 28
  CHECK_FALSE(PatchifyFrames({&a, &odd}, params).ok());    // sizes differ
}

TEST_CASE("normalisation: float64 rescale, float32 (x - mean) / std") {
  const PatchifyParams p;
  CHECK(NormalizeSample(0, 0, p) == (0.0f - 0.48145466f) / 0.26862954f);
  CHECK(NormalizeSample(255, 2, p) == (1.0f - 0.40821073f) / 0.27577711f);
  const float x = static_cast<float>(100.0 * (1.0 / 255.0));
  CHECK(NormalizeSample(100, 1, p) == (x - 0.4578275f) / 0.26130258f);
}

TEST_CASE("preprocess: bad images are errors") {
  RgbImage empty;
  auto r = PreprocessImage(empty, {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("empty") != std::string::npos);
  auto wide = PreprocessImage(Gradient(1000, 4), {});
  REQUIRE_FALSE(wide.ok());
  CHECK(wide.status().message().find("got 250.0") != std::string::npos);
  ImagePreprocessConfig no_resize;
  no_resize.do_resize = false;
  CHECK_FALSE(PreprocessImage(Gradient(30, 28), no_resize).ok());
  auto kept = PreprocessImage(Gradient(56, 28), no_resize);
  REQUIRE(kept.ok());
  CHECK(kept->num_tokens == 2);
}

}  // namespace
}  // namespace glmv
