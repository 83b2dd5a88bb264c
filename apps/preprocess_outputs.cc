#include "apps/preprocess_outputs.h"

#include <fmt/core.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "io/npy.h"
#include "lib/prompt/request_builder.h"

namespace glmv::app {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

Status PrepareDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Error(dir.string() + ": cannot create: " + ec.message());
  return Status::Ok();
}

// pixel_values.npy [rows, patch_dim] from the concatenated patches of `grids`.
Status WritePixels(const fs::path& dir, const std::vector<float>& pixels, const std::vector<VisionGrid>& grids) {
  int64_t rows = 0;
  for (const VisionGrid& g : grids) rows += g.t * g.h * g.w;
  if (rows <= 0 || pixels.size() % static_cast<size_t>(rows) != 0) {
    return Status::Error(dir.string() + ": pixel values do not match their grids (internal error)");
  }
  const int64_t cols = static_cast<int64_t>(pixels.size()) / rows;
  return WriteNpyF32((dir / "pixel_values.npy").string(), {rows, cols}, pixels.data());
}

Status WriteGrids(const fs::path& path, const std::vector<VisionGrid>& grids) {
  std::vector<int64_t> thw;
  for (const VisionGrid& g : grids) thw.insert(thw.end(), {g.t, g.h, g.w});
  return WriteNpyI64(path.string(), {static_cast<int64_t>(grids.size()), 3}, thw.data());
}

json GridJson(const VisionGrid& g) { return json::array({g.t, g.h, g.w}); }

Status WriteSummary(const fs::path& dir, const json& summary) {
  const fs::path path = dir / "summary.json";
  std::ofstream f(path);
  f << summary.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  if (!f) return Status::Error(path.string() + ": cannot write");
  return Status::Ok();
}

}  // namespace

Result<std::string> WriteImageOutputs(const fs::path& dir, const LoadedImage& loaded) {
  GLMV_RETURN_IF_ERROR(PrepareDir(dir));
  const PreprocessedImage& pre = loaded.preprocessed;
  const std::vector<VisionGrid> grids = {{pre.grid_t, pre.grid_h, pre.grid_w}};
  const VisionGrid& g = grids[0];
  GLMV_RETURN_IF_ERROR(WritePixels(dir, pre.pixel_values, grids));
  GLMV_RETURN_IF_ERROR(WriteGrids(dir / "image_grid_thw.npy", grids));
  const RgbImage& image = loaded.image;
  const int64_t tokens = pre.num_tokens;
  GLMV_RETURN_IF_ERROR(WriteSummary(dir, json{{"kind", "image"},
                                              {"file", loaded.name},
                                              {"width", image.width},
                                              {"height", image.height},
                                              {"image_grid_thw", GridJson(g)},
                                              {"visual_tokens", tokens}}));
  return fmt::format("image {}: {}x{}, grid {}x{}x{}, {} visual tokens -> {}", loaded.name, image.width,
                     image.height, g.t, g.h, g.w, tokens, dir.string());
}

Result<std::string> WriteVideoOutputs(const fs::path& dir, const LoadedVideo& loaded) {
  const PreprocessedVideo& v = loaded.video;
  if (v.frame_indices.size() != v.frame_seconds.size()) {
    return Status::Error("preprocess writes one video at a time");
  }
  GLMV_RETURN_IF_ERROR(PrepareDir(dir));
  const std::vector<VisionGrid> grids = {{v.grid_t, v.grid_h, v.grid_w}};
  const VisionGrid& g = grids[0];
  const auto frames = static_cast<int64_t>(v.frame_indices.size());
  const auto pairs = static_cast<int64_t>(v.timestamps.size());
  GLMV_RETURN_IF_ERROR(WritePixels(dir, v.pixel_values, grids));
  GLMV_RETURN_IF_ERROR(WriteGrids(dir / "video_grid_thw.npy", grids));
  GLMV_RETURN_IF_ERROR(WriteNpyI64((dir / "frame_indices.npy").string(), {frames}, v.frame_indices.data()));
  GLMV_RETURN_IF_ERROR(WriteNpyF64((dir / "timestamps.npy").string(), {frames}, v.frame_seconds.data()));
  GLMV_RETURN_IF_ERROR(WriteNpyI64((dir / "prompt_timestamps.npy").string(), {pairs}, v.timestamps.data()));
  const VideoInfo& in = v.info;
  GLMV_RETURN_IF_ERROR(WriteSummary(
      dir, json{{"kind", "video"},
                {"file", loaded.path},
                {"container", in.container},
                {"codec", in.codec},
                {"width", in.width},
                {"height", in.height},
                {"rotation", in.rotation},
                {"fps", in.fps},
                {"fps_source", in.fps_source},
                {"frame_count", v.frames_used},
                {"frame_count_source", v.frames_used_source},
                {"duration_seconds", in.duration},
                {"frame_indices", v.frame_indices},
                {"timestamps", v.frame_seconds},
                {"prompt_timestamps", v.timestamps},
                {"resized", json::array({v.resized_width, v.resized_height})},
                {"video_grid_thw", GridJson(g)},
                {"tokens_per_frame_pair", v.tokens_per_pair},
                {"visual_tokens", v.num_tokens}}));
  return fmt::format("video {}: {} frames ({} pairs), grid {}x{}x{}, {} visual tokens -> {}", loaded.path, frames,
                     pairs, g.t, g.h, g.w, v.num_tokens, dir.string());
}

Result<std::string> WritePdfOutputs(const fs::path& dir, const LoadedPdf& pdf, const PdfRequest& request) {
  RequestMedia media;
  for (const LoadedImage& page : request.pages) media.AddImage(page.preprocessed);
  const auto& grids = media.visual.image_grids;
  if (grids.empty() || grids.size() != request.page_numbers.size()) return Status::Error("no PDF pages to write");
  GLMV_RETURN_IF_ERROR(PrepareDir(dir));
  GLMV_RETURN_IF_ERROR(WritePixels(dir, media.visual.image_pixels, grids));
  GLMV_RETURN_IF_ERROR(WriteGrids(dir / "image_grid_thw.npy", grids));
  const std::vector<int64_t> numbers(request.page_numbers.begin(), request.page_numbers.end());
  GLMV_RETURN_IF_ERROR(
      WriteNpyI64((dir / "page_numbers.npy").string(), {static_cast<int64_t>(numbers.size())}, numbers.data()));
  json pages = json::array();
  int64_t tokens = 0;
  for (size_t i = 0; i < grids.size(); ++i) {
    const RgbImage& image = request.pages[i].image;
    pages.push_back({{"number", request.page_numbers[i]},
                     {"dpi", i < pdf.pages.size() ? pdf.pages[i].dpi : 0.0},
                     {"width", image.width},
                     {"height", image.height},
                     {"image_grid_thw", GridJson(grids[i])},
                     {"visual_tokens", media.image_tokens[i]}});
    tokens += media.image_tokens[i];
  }
  GLMV_RETURN_IF_ERROR(WriteSummary(dir, json{{"kind", "pdf"},
                                              {"file", pdf.name},
                                              {"page_count", pdf.page_count},
                                              {"max_pixels_per_page", pdf.page_config.max_pixels},
                                              {"pages", pages},
                                              {"visual_tokens", tokens}}));
  return fmt::format("pdf {}: {} page{} of {}, {} visual tokens -> {}", pdf.name, grids.size(),
                     grids.size() == 1 ? "" : "s", pdf.page_count, tokens, dir.string());
}

}  // namespace glmv::app
