#include "apps/golden_preprocess.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "io/decode_image.h"
#include "io/npy.h"
#include "lib/media/image_preprocess.h"

namespace glmv::app {
namespace {

namespace fs = std::filesystem;

// The settings a case names, as the processor's config.
Result<ImagePreprocessConfig> SettingsOf(const nlohmann::ordered_json& index, const std::string& name) {
  if (!index.contains("settings") || !index["settings"].contains(name)) {
    return Status::Error("cases.json has no settings '" + name + "'");
  }
  const auto& s = index["settings"][name];
  // processor_to_dict is the processor's own serialisation: read it as a preprocessor_config.json.
  if (s.contains("processor_to_dict")) return ImagePreprocessConfig::FromJson(s["processor_to_dict"].dump(), "settings " + name);
  return ImagePreprocessConfig::FromJson(s.dump(), "settings " + name);
}

}  // namespace

bool IsPreprocessSet(const nlohmann::ordered_json& index) {
  if (!index.contains("settings") || !index["cases"].is_object()) return false;
  for (const auto& c : index["cases"]) {
    if (!c.contains("input_file")) return false;
  }
  return true;
}

GoldenReport CheckPreprocessSet(const std::string& dir, const nlohmann::ordered_json& index, bool verbose) {
  GoldenReport report;
  const fs::path root = fs::path(dir) / index.value("input_file_root", std::string("."));
  for (auto it = index["cases"].begin(); it != index["cases"].end(); ++it) {
    GoldenCaseResult r;
    r.name = it.key();
    const auto& c = it.value();
    std::vector<std::string> problems;
    auto run = [&]() -> Status {
      GLMV_ASSIGN_OR_RETURN(ImagePreprocessConfig cfg, SettingsOf(index, c.value("settings", std::string("glm45v"))));
      const fs::path input = root / c["input_file"].get<std::string>();
      GLMV_ASSIGN_OR_RETURN(RgbImage image, DecodeImageFile(input.string()));
      GLMV_ASSIGN_OR_RETURN(PreprocessedImage ours, PreprocessImage(image, cfg));
      const auto& files = c["files"];
      GLMV_ASSIGN_OR_RETURN(NpyArray grid, ReadNpy((fs::path(dir) / files["image_grid_thw"]["file"].get<std::string>()).string()));
      const std::vector<int64_t> want_grid = grid.ToInt64();
      const std::vector<int64_t> our_grid = {ours.grid_t, ours.grid_h, ours.grid_w};
      r.ids = want_grid == our_grid ? "match" : "mismatch";
      if (want_grid != our_grid) {
        problems.push_back(fmt::format("grid ({}, {}, {}) instead of ({}, {}, {})", our_grid[0], our_grid[1], our_grid[2],
                                       want_grid[0], want_grid[1], want_grid[2]));
        return Status::Ok();
      }
      if (c.contains("num_image_tokens") && c["num_image_tokens"].get<int64_t>() != ours.num_tokens) {
        problems.push_back(fmt::format("{} image tokens instead of {}", ours.num_tokens, c["num_image_tokens"].get<int64_t>()));
      }
      GLMV_ASSIGN_OR_RETURN(NpyArray px, ReadNpy((fs::path(dir) / files["pixel_values"]["file"].get<std::string>()).string()));
      if (px.NumElements() != static_cast<int64_t>(ours.pixel_values.size())) {
        problems.push_back("pixel_values sizes differ");
        return Status::Ok();
      }
      double worst = 0;
      size_t identical = 0;
      for (size_t i = 0; i < ours.pixel_values.size(); ++i) {
        const double d = std::fabs(static_cast<double>(ours.pixel_values[i]) - px.At(static_cast<int64_t>(i)));
        worst = std::max(worst, d);
        identical += d == 0.0;
      }
      const double fraction = static_cast<double>(identical) / static_cast<double>(std::max<size_t>(1, ours.pixel_values.size()));
      r.hidden_err = worst;
      if (verbose) fmt::print(stderr, "  {} pixel_values: max abs error {:.3e}, {:.4f} % identical\n", r.name, worst, 100 * fraction);
      if (worst > kPixelTolerance) problems.push_back(fmt::format("pixel_values off by {:.3e}", worst));
      if (fraction < kMinIdenticalFraction) problems.push_back(fmt::format("only {:.2f} % of pixel_values identical", 100 * fraction));
      return Status::Ok();
    };
    const Status st = run();
    if (!st.ok()) problems.push_back(st.message());
    if (problems.empty()) {
      r.verdict = "PASS";
      ++report.passed;
    } else {
      r.verdict = "FAIL";
      ++report.failed;
      for (const auto& p : problems) r.reason += (r.reason.empty() ? "" : "; ") + p;
    }
    report.cases.push_back(std::move(r));
  }
  return report;
}

}  // namespace glmv::app
