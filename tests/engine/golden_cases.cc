#include "tests/engine/golden_cases.h"

#include <doctest/doctest.h>

#include "lib/base/parallel.h"
#include "tests/test_util.h"

namespace glmv::test {

std::filesystem::path TinyDir() { return DataDir() / "tiny-glm4v-moe"; }

NpyArray LoadTinyNpy(const std::string& name) {
  auto a = ReadNpy((TinyDir() / name).string());
  REQUIRE_MESSAGE(a.ok(), a.status().message());
  return std::move(a).value();
}

std::unique_ptr<Engine> NewEngine(const std::string& model, const EngineOptions& options) {
  auto e = Engine::Load(model, options);
  REQUIRE_MESSAGE(e.ok(), e.status().message());
  return std::move(e).value();
}

void Recorder::Process(std::span<float> logits, std::span<const int64_t>) {
  out_->emplace_back(logits.begin(), logits.end());
  threads_seen = NumThreads();
}

std::vector<GoldenCase> GoldenCases(size_t vocab) {
  std::vector<GoldenCase> cases;
  auto grid3 = [](const NpyArray& a, size_t row) {
    const auto v = a.ToInt64();
    return VisionGrid{v[3 * row], v[3 * row + 1], v[3 * row + 2]};
  };
  for (const std::string name : {"case1_text", "case2_image", "case3_two_images", "case4_video",
                                 "case5_generate_text", "case6_generate_image"}) {
    GoldenCase g;
    g.name = name;
    GenerateRequest& r = g.request;
    r.prompt = LoadTinyNpy(name + "__input_ids.npy").ToInt64();
    r.sampling.temperature = 0;
    r.ignore_eos = true;
    r.max_tokens = 3;
    const std::string pixels_case = name == "case6_generate_image" ? "case2_image" : name;
    if (name == "case2_image" || name == "case3_two_images" || name == "case6_generate_image") {
      r.visual.image_pixels = LoadTinyNpy(pixels_case + "__pixel_values.npy").ToFloat();
      const NpyArray grids = LoadTinyNpy(pixels_case + "__image_grid_thw.npy");
      for (size_t i = 0; i < static_cast<size_t>(grids.NumElements() / 3); ++i) r.visual.image_grids.push_back(grid3(grids, i));
    }
    if (name == "case4_video") {
      r.visual.video_pixels = LoadTinyNpy(name + "__pixel_values_videos.npy").ToFloat();
      r.visual.video_grids.push_back(grid3(LoadTinyNpy(name + "__video_grid_thw.npy"), 0));
    }
    if (name.find("generate") != std::string::npos) {
      g.reference_ids = LoadTinyNpy(name + "__generated_ids.npy").ToInt64();
      g.reference_step_logits = LoadTinyNpy(name + "__step_logits.npy").ToFloat();
      r.max_tokens = g.reference_ids.size();
    } else {
      const auto all = LoadTinyNpy(name + "__logits.npy").ToFloat();
      g.reference_last.assign(all.end() - static_cast<std::ptrdiff_t>(vocab), all.end());
    }
    cases.push_back(std::move(g));
  }
  return cases;
}

}  // namespace glmv::test
