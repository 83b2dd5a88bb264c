// PilResizeBicubic against Pillow 9.4: the golden `__resized.png` files of ../shared/golden/preprocess (what
// PIL made of each `__rgb.png`; the executable skips, exit 77, without ../shared).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/decode_image.h"
#include "lib/media/pil_resize.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

TEST_CASE("pil resize: every golden case matches Pillow byte for byte") {
  const fs::path dir = test::SharedDir() / "golden" / "preprocess";
  REQUIRE_MESSAGE(fs::exists(dir / "cases.json"), (dir / "cases.json").string() << " is missing from ../shared");
  std::ifstream f(dir / "cases.json");
  const auto idx = nlohmann::json::parse(f);
  int cases = 0;
  for (const auto& [name, c] : idx["cases"].items()) {
    auto rgb = DecodeImageFile((dir / c["files"]["rgb"]["file"].get<std::string>()).string());
    auto want = DecodeImageFile((dir / c["files"]["resized"]["file"].get<std::string>()).string());
    REQUIRE_MESSAGE(rgb.ok(), name << ": " << rgb.status().message());
    REQUIRE_MESSAGE(want.ok(), name << ": " << want.status().message());
    const auto t0 = std::chrono::steady_clock::now();
    auto got = PilResizeBicubic(*rgb, want->width, want->height);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    REQUIRE_MESSAGE(got.ok(), name << ": " << got.status().message());
    REQUIRE(got->pixels.size() == want->pixels.size());
    size_t differing = 0;
    int worst = 0;
    for (size_t i = 0; i < want->pixels.size(); ++i) {
      const int d = std::abs(int(got->pixels[i]) - int(want->pixels[i]));
      differing += d != 0;
      worst = std::max(worst, d);
    }
    MESSAGE(name << ": " << rgb->width << "x" << rgb->height << " -> " << want->width << "x" << want->height
                 << ", differing bytes " << differing << " (max " << worst << "), " << ms << " ms");
    CHECK_MESSAGE(differing == 0, name);
    ++cases;
  }
  CHECK(cases == 13);
}

}  // namespace
}  // namespace glmv
