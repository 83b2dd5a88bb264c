#include "tests/experts/tiny_glmv.h"

#include <doctest/doctest.h>

#include "lib/model/config.h"
#include "lib/tools/convert.h"
#include "lib/tools/synth_model_file.h"

namespace glmv::test {

std::string WriteTinySynthGlmv(const TempDir& dir, uint64_t seed) {
  const auto config = DataDir() / "tiny-glm4v-moe" / "config.json";
  auto c = LoadModelConfig(config.string());
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  auto metadata = AssetMetadata([&](const std::string& name) -> std::optional<std::string> {
    if (name == "config.json") return config.string();
    return std::nullopt;
  });
  REQUIRE_MESSAGE(metadata.ok(), metadata.status().message());
  const std::string path = (dir / "tiny-synth.glmv").string();
  SynthModelFileOptions options;
  options.seed = seed;
  auto report = WriteSynthModelFile(*c, *metadata, path, options, [](const ConvertProgress&) { return Status::Ok(); });
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  return path;
}

}  // namespace glmv::test
