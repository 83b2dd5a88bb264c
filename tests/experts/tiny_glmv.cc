#include "tests/experts/tiny_glmv.h"

#include <doctest/doctest.h>

#include "lib/model/config.h"
#include "lib/tools/convert.h"
#include "lib/tools/synth_model_file.h"

namespace glmv::test {

std::string WriteTinySynthGlmv(const TempDir& dir, uint64_t seed) {
  return WriteSynthGlmv(dir, DataDir() / "tiny-glm4v-moe" / "config.json", "tiny-synth.glmv", seed);
}

std::string WriteSynthGlmv(const TempDir& dir, const std::filesystem::path& config, const std::string& name, uint64_t seed) {
  auto c = LoadModelConfig(config.string());
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  auto metadata = AssetMetadata([&](const std::string& side_file) -> std::optional<std::string> {
    if (side_file == "config.json") return config.string();
    return std::nullopt;
  });
  REQUIRE_MESSAGE(metadata.ok(), metadata.status().message());
  const std::string path = (dir / name).string();
  SynthModelFileOptions options;
  options.seed = seed;
  auto report = WriteSynthModelFile(*c, *metadata, path, options, [](const ConvertProgress&) { return Status::Ok(); });
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  return path;
}

}  // namespace glmv::test
