// Decoded pixels against the reference loader: for every case in shared/golden/preprocess/cases.json, our
// DecodeImageFile of the case's input must equal the RGB image the reference processor started from
// (transformers load_image on Pillow 9.4: open, exif_transpose, convert("RGB")), stored losslessly as
// <case>__rgb.png (or the input itself for RGB PNG inputs). Linked with test_main_shared: skips (exit 77)
// without ../shared.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "io/decode_image.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

struct Difference {
  size_t differing_values = 0;
  int max_abs = 0;
};

Difference Compare(const RgbImage& a, const RgbImage& b) {
  Difference d;
  for (size_t i = 0; i < a.pixels.size() && i < b.pixels.size(); ++i) {
    const int diff = std::abs(int{a.pixels[i]} - int{b.pixels[i]});
    if (diff != 0) ++d.differing_values;
    if (diff > d.max_abs) d.max_abs = diff;
  }
  return d;
}

TEST_CASE("decode: every golden preprocess case equals the reference loader's RGB exactly") {
  const fs::path dir = test::SharedDir() / "golden" / "preprocess";
  REQUIRE_MESSAGE(fs::exists(dir / "cases.json"), (dir / "cases.json").string() << " is missing from ../shared");
  std::ifstream in(dir / "cases.json");
  const nlohmann::json cases = nlohmann::json::parse(in);
  const fs::path root = dir / cases.at("input_file_root").get<std::string>();
  int compared = 0;
  for (const auto& [name, c] : cases.at("cases").items()) {
    const fs::path input = root / c.at("input_file").get<std::string>();
    const fs::path expected_file = dir / c.at("files").at("rgb").at("file").get<std::string>();
    auto got = DecodeImageFile(input.string());
    REQUIRE_MESSAGE(got.ok(), (name + ": " + got.status().message()));
    auto expected = DecodeImageFile(expected_file.string());
    REQUIRE_MESSAGE(expected.ok(), expected.status().message());
    // The size after EXIF transpose, as cases.json records the processor input (h, w).
    const auto hw = c.at("processor_input_size_hw");
    CHECK(got->height == hw.at(0).get<int>());
    CHECK(got->width == hw.at(1).get<int>());
    REQUIRE_MESSAGE(got->width == expected->width, name);
    REQUIRE(got->height == expected->height);
    const Difference d = Compare(*got, *expected);
    MESSAGE(name << " (" << c.at("input").at("format").get<std::string>() << " "
                 << c.at("input").at("mode").get<std::string>() << " " << got->width << "x" << got->height
                 << "): " << std::string(d.differing_values == 0 ? "EXACT" : "DIFFERS") << ", " << d.differing_values
                 << " differing values, max |diff| " << d.max_abs);
    CHECK_MESSAGE(d.differing_values == 0, name);
    ++compared;
  }
  CHECK(compared == 13);
}

}  // namespace
}  // namespace glmv
