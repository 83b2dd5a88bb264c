// The engine tests' tiny golden model: its directory, its golden id arrays, an engine on it, and case 6's
// image request (one image, then the reference's greedy continuation).
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "io/npy.h"
#include "lib/engine/engine.h"
#include "tests/test_util.h"

namespace glmv::test {

inline std::filesystem::path TinyDir() { return DataDir() / "tiny-glm4v-moe"; }

inline std::vector<int64_t> TinyIds(const std::string& name) {
  auto a = ReadNpy((TinyDir() / name).string());
  REQUIRE(a.ok());
  return a->ToInt64();
}

inline std::unique_ptr<Engine> TinyEngine(EngineOptions options = {}) {
  auto e = Engine::Load(TinyDir().string(), options);
  REQUIRE_MESSAGE(e.ok(), e.status().message());
  return std::move(e).value();
}

// Case 6: case 2's image, then the reference's greedy continuation (ignore_eos, greedy).
inline GenerateRequest TinyImageRequest() {
  GenerateRequest r;
  r.prompt = TinyIds("case6_generate_image__input_ids.npy");
  auto px = ReadNpy((TinyDir() / "case2_image__pixel_values.npy").string());
  REQUIRE(px.ok());
  r.visual.image_pixels = px->ToFloat();
  const auto grid = TinyIds("case2_image__image_grid_thw.npy");
  r.visual.image_grids = {{grid[0], grid[1], grid[2]}};
  r.max_tokens = TinyIds("case6_generate_image__generated_ids.npy").size();
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  return r;
}

}  // namespace glmv::test
