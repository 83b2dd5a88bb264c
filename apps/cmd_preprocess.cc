// glmv preprocess: what the model would see of an image, as .npy files to compare with the reference.
#include <fmt/core.h>

#include <filesystem>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/visual_inputs.h"
#include "io/npy.h"

namespace glmv::app {

int RunPreprocess(int argc, char** argv) {
  std::vector<OptionSpec> spec = ImageOptionSpecs();
  spec.push_back({"--model", "-m", true, "DIR  take the preprocessing settings from DIR/preprocessor_config.json"});
  spec.push_back({"--out", "-o", true, "DIR  where to write pixel_values.npy and image_grid_thw.npy"});
  spec.push_back({"--help", "-h", false, "show this help"});
  auto args = Args::Parse(spec, argc, argv, 2);
  auto fail = [](const Status& s) {
    fmt::print(stderr, "glmv preprocess: {}\n", s.message());
    return 1;
  };
  if (!args.ok()) return fail(args.status());
  if (args->Has("--help")) {
    fmt::print("usage: glmv preprocess --image FILE --out DIR [--min-pixels N] [--max-pixels N] [-m MODEL]\n\n"
               "Decodes and preprocesses an image exactly as the model's processor does and writes\n"
               "DIR/pixel_values.npy (float32 [patches, 1176]) and DIR/image_grid_thw.npy (int64 [1, 3]).\n"
               "No model weights are needed.\n\n{}",
               OptionsHelp(spec));
    return 0;
  }
  const auto images = args->GetAll("--image");
  if (images.size() != 1) return fail(Status::Error("give exactly one --image"));
  if (!args->Has("--out")) return fail(Status::Error("missing --out DIR"));
  auto cfg = ImageConfigFromArgs(*args, args->Get("--model"));
  if (!cfg.ok()) return fail(cfg.status());
  auto loaded = LoadImages(images, *cfg);
  if (!loaded.ok()) return fail(loaded.status());
  const std::filesystem::path out = args->Get("--out");
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return fail(Status::Error(out.string() + ": cannot create: " + ec.message()));
  const VisionGrid& g = loaded->visual.image_grids[0];
  const int64_t rows = g.t * g.h * g.w;
  const int64_t cols = static_cast<int64_t>(loaded->visual.image_pixels.size()) / rows;
  const int64_t grid[3] = {g.t, g.h, g.w};
  if (Status s = WriteNpyF32((out / "pixel_values.npy").string(), {rows, cols}, loaded->visual.image_pixels.data()); !s.ok()) return fail(s);
  if (Status s = WriteNpyI64((out / "image_grid_thw.npy").string(), {1, 3}, grid); !s.ok()) return fail(s);
  fmt::print("{}\n", (out / "pixel_values.npy").string());
  fmt::print("{}\n", (out / "image_grid_thw.npy").string());
  return 0;
}

}  // namespace glmv::app
