// `glmv preprocess --input` as users run it on the media of ../shared (the executable skips, exit 77, without
// it): a video and a PDF under lying names, the files written for them (checked against the sampling functions
// and against each other), and each limit flag ending in an error that names the file and the flag.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "io/decode_pdf.h"
#include "io/decode_video.h"
#include "io/npy.h"
#include "lib/media/video_sampling.h"
#include "tests/apps/preprocess_cli_test_util.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

using Run = test::CommandResult;
using test::Contains;
using test::Glmv;
using test::Npy;

const fs::path kMedia = test::SharedDir() / "media";

TEST_CASE("preprocess --input: a video's frames and timestamps are the sampling functions'") {
  const fs::path clip = kMedia / "video" / "techslides-small.mp4";
  REQUIRE_MESSAGE(fs::exists(clip), clip.string() << " is missing from ../shared");
  test::TempDir dir;
  fs::copy_file(clip, dir / "clip.pdf");  // the name lies; the bytes do not
  const std::string in = "preprocess --input " + (dir / "clip.pdf").string() + " --out " + (dir / "out").string();
  const Run r = Glmv(in + " --fps 1 --video-max-pixels 200000");
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(Contains(r.out, "video " + (dir / "clip.pdf").string() + ": "));

  auto reader = VideoReader::Open(clip.string());
  REQUIRE(reader.ok());
  const VideoInfo& info = (*reader)->info();
  const VideoSamplingInput input{info.frame_count, info.fps, static_cast<double>(info.frame_count) / info.fps};
  auto expected = SampleFrameIndices(input, VideoSamplingParams{1.0, 300});
  REQUIRE(expected.ok());
  const auto indices = Npy(dir / "out" / "frame_indices.npy").ToInt64();
  CHECK(indices == *expected);
  const NpyArray seconds = Npy(dir / "out" / "timestamps.npy");
  CHECK(seconds.kind == 'f');
  CHECK(seconds.item_size == 8);
  REQUIRE(seconds.NumElements() == static_cast<int64_t>(indices.size()));
  for (size_t i = 0; i < indices.size(); ++i) {
    CHECK(std::fabs(seconds.At(int64_t(i)) - double(indices[i]) / info.fps) < 0.01);  // constant-rate clip
  }
  CHECK(Npy(dir / "out" / "prompt_timestamps.npy").ToInt64() == TemporalPatchTimestamps(indices, info.fps));
  const auto thw = Npy(dir / "out" / "video_grid_thw.npy").ToInt64();
  REQUIRE(thw.size() == 3);
  CHECK(thw[0] * 2 == static_cast<int64_t>(indices.size()));
  CHECK(thw[0] * 2 * thw[1] * 14 * thw[2] * 14 <= 200000);  // frames × height × width within --video-max-pixels
  CHECK(Npy(dir / "out" / "pixel_values.npy").shape == std::vector<int64_t>{thw[0] * thw[1] * thw[2], 1176});

  const std::pair<const char*, const char*> limits[] = {
      {"--max-decoded-frames 5", "(raise it with --max-decoded-frames)"},
      {"--max-image-pixels 1000", "pixels per frame (raise it with --max-image-pixels)"},
      {"--decode-time-limit 1e-6", "(raise it with --decode-time-limit)"},
  };
  for (const auto& [flags, message] : limits) {
    const Run bad = Glmv(in + " " + flags);
    CHECK_MESSAGE(bad.status == 1, flags);
    CHECK_MESSAGE(Contains(bad.err, (dir / "clip.pdf").string() + ": "), bad.err);
    CHECK_MESSAGE(Contains(bad.err, message), bad.err);
  }
}

TEST_CASE("preprocess --input: a PDF named .mp4, its pages and their limits") {
  if (!PdfSupportBuiltIn()) {
    MESSAGE("not run: " << PdfSupportNote());
    return;
  }
  const fs::path pdf = kMedia / "pdf" / "forensics-a-text.pdf";  // 2 pages
  REQUIRE_MESSAGE(fs::exists(pdf), pdf.string() << " is missing from ../shared");
  test::TempDir dir;
  fs::copy_file(pdf, dir / "doc.mp4");
  const std::string in = "preprocess --input " + (dir / "doc.mp4").string() + " --out " + (dir / "out").string();
  const Run r = Glmv(in + " --pages 2,1 --dpi 40");
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(Contains(r.out, "pdf " + (dir / "doc.mp4").string() + ": 2 pages of 2"));
  const auto thw = Npy(dir / "out" / "image_grid_thw.npy");
  CHECK(thw.shape == std::vector<int64_t>{2, 3});
  const auto g = thw.ToInt64();
  CHECK(Npy(dir / "out" / "page_numbers.npy").ToInt64() == std::vector<int64_t>{2, 1});
  CHECK(Npy(dir / "out" / "pixel_values.npy").shape ==
        std::vector<int64_t>{g[0] * g[1] * g[2] + g[3] * g[4] * g[5], 1176});

  // The token budget lowers each page's resolution to its share.
  const Run budget = Glmv(in + " --pdf-max-tokens 100");
  REQUIRE_MESSAGE(budget.status == 0, budget.err);
  const auto small = Npy(dir / "out" / "image_grid_thw.npy").ToInt64();
  CHECK(small[1] * small[2] / 4 + small[4] * small[5] / 4 <= 100);
  CHECK(Contains(budget.err, "each page is resized to at most 50 visual tokens"));

  const std::pair<const char*, const char*> limits[] = {
      {"--max-pages 1", "more than --max-pages 1"},
      {"--pdf-max-tokens 10", "raise --pdf-max-tokens"},
      {"--dpi 300 --max-image-pixels 10000", "(raise it with --max-image-pixels)"},
      {"--dpi 100 --max-decoded-bytes 1000000", "raise it with --max-decoded-bytes"},
      {"--max-file-bytes 1000", "(raise it with --max-file-bytes)"},
      {"--decode-time-limit 1e-9", "(raise it with --decode-time-limit)"},
  };
  for (const auto& [flags, message] : limits) {
    const Run bad = Glmv(in + " " + flags);
    CHECK_MESSAGE(bad.status == 1, flags);
    CHECK_MESSAGE(Contains(bad.err, (dir / "doc.mp4").string()), bad.err);
    CHECK_MESSAGE(Contains(bad.err, message), bad.err);
  }
}

}  // namespace
}  // namespace glmv
