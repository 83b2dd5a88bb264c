// `glmv preprocess` and `glmv run` with --input as users run them: kinds told by content, the files written
// for an image, and each limit flag ending in an error that names the file and the flag. Videos and PDFs come
// from ../shared/media: preprocess_cli_shared_test.cc.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "io/npy.h"
#include "tests/apps/preprocess_cli_test_util.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

using Run = test::CommandResult;
using test::Contains;
using test::Glmv;
using test::Npy;

const fs::path kJpeg = test::DataDir() / "images" / "go-video-001.q50.420.jpeg";

TEST_CASE("preprocess --input: a JPEG named .png, and what is not media") {
  test::TempDir dir;
  fs::copy_file(kJpeg, dir / "photo.png");
  const Run r = Glmv("preprocess --input " + (dir / "photo.png").string() + " --out " + (dir / "out").string());
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(Contains(r.out, "image " + (dir / "photo.png").string() + ": 150x103"));
  const NpyArray grid = Npy(dir / "out" / "image_grid_thw.npy");
  const auto thw = grid.ToInt64();
  REQUIRE(thw.size() == 3);
  CHECK(Npy(dir / "out" / "pixel_values.npy").shape == std::vector<int64_t>{thw[0] * thw[1] * thw[2], 1176});
  std::ifstream summary(dir / "out" / "summary.json");
  const auto j = nlohmann::json::parse(summary);
  CHECK(j["kind"] == "image");
  CHECK(j["visual_tokens"] == thw[1] * thw[2] / 4);

  test::WriteBytes(dir / "notes.png", {'h', 'e', 'l', 'l', 'o', '\n'});
  const Run text = Glmv("preprocess --input " + (dir / "notes.png").string() + " --out " + (dir / "o2").string());
  CHECK(text.status == 1);
  CHECK(Contains(text.err, (dir / "notes.png").string() + ": --input: the file holds text"));
  CHECK(Glmv("preprocess --out " + (dir / "o3").string()).status == 1);  // no input
}

TEST_CASE("preprocess --input: limits on an image name their flags") {
  test::TempDir dir;
  const std::string in = "preprocess --input " + kJpeg.string() + " --out " + (dir / "out").string();
  const std::pair<const char*, const char*> cases[] = {
      {"--max-image-pixels 1000", "over the limit of 1000 (raise it with --max-image-pixels)"},
      {"--max-decoded-bytes 3000", "over the limit of 1000 (raise it with --max-decoded-bytes)"},
      {"--max-file-bytes 100", "over the limit of 100 (raise it with --max-file-bytes)"},
      {"--decode-time-limit 1e-9", "(raise it with --decode-time-limit)"},
  };
  for (const auto& [flags, message] : cases) {
    const Run r = Glmv(in + " " + flags);
    CHECK_MESSAGE(r.status == 1, flags);
    CHECK_MESSAGE(Contains(r.err, kJpeg.string() + ": "), r.err);
    CHECK_MESSAGE(Contains(r.err, message), r.err);
  }
}

TEST_CASE("run --input: an image by content reaches the model; text is refused before loading anything") {
  test::TempDir dir;
  fs::copy_file(kJpeg, dir / "photo.pdf");
  const std::string tiny = (test::DataDir() / "tiny-glm4v-moe").string();
  const Run r = Glmv("run -m " + tiny + " --input " + (dir / "photo.pdf").string() + " -p Hi -n 2 --seed 1 --json");
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["usage"]["prompt_tokens"].get<int>() > 20);  // the image's tokens are in the prompt
  CHECK(Contains(r.err, "image " + (dir / "photo.pdf").string()));
  test::WriteBytes(dir / "q.txt", {'h', 'i'});
  const Run text = Glmv("run -m " + tiny + " --input " + (dir / "q.txt").string() + " -p Hi -n 2");
  CHECK(text.status == 1);
  CHECK(Contains(text.err, "--input: the file holds text"));
}

}  // namespace
}  // namespace glmv
