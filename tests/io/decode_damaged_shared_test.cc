// Damaged inputs built from a ../shared/media file (the executable skips, exit 77, without it): a progressive
// JPEG given hundreds of extra scans is refused, never decoded for ever. Runs under ASan/UBSan too (build-asan).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "io/decode_image.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

TEST_CASE("decode: a progressive JPEG with hundreds of scans is stopped") {
  const fs::path file = test::SharedDir() / "media" / "jpeg" / "go-video-001.q50.420.progressive.jpeg";
  REQUIRE_MESSAGE(fs::exists(file), file.string() << " is missing from ../shared");
  const auto jpeg = test::ReadBytes(file);
  // Segments in order: (offset, marker). Scan data after SOS is skipped up to the next real marker.
  std::vector<std::pair<size_t, uint8_t>> segments;
  for (size_t i = 2; i + 1 < jpeg.size();) {
    REQUIRE(jpeg[i] == 0xFF);
    const uint8_t marker = jpeg[i + 1];
    segments.push_back({i, marker});
    if (marker == 0xD9) break;
    REQUIRE(i + 3 < jpeg.size());
    i += 2 + (size_t(jpeg[i + 2]) << 8 | jpeg[i + 3]);
    if (marker == 0xDA) {
      while (i + 1 < jpeg.size() && !(jpeg[i] == 0xFF && jpeg[i + 1] != 0 && (jpeg[i + 1] & 0xF8) != 0xD0)) ++i;
    }
  }
  // The first AC scan of a first pass (Ss > 0, Ah = 0), with the DHT before it. Repeated before EOI, each
  // copy decodes cleanly and libjpeg only warns ("inconsistent progression"), so without a scan limit it
  // would run them all.
  size_t copy_begin = 0, copy_end = 0;
  for (size_t k = 1; k + 1 < segments.size(); ++k) {
    const size_t at = segments[k].first;
    const size_t ns = jpeg[at + 4];
    if (segments[k].second == 0xDA && segments[k - 1].second == 0xC4 && jpeg[at + 5 + 2 * ns] > 0 &&
        (jpeg[at + 7 + 2 * ns] >> 4) == 0) {
      copy_begin = segments[k - 1].first;
      copy_end = segments[k + 1].first;
      break;
    }
  }
  REQUIRE(copy_end > copy_begin);
  const size_t eoi = segments.back().first;
  REQUIRE(segments.back().second == 0xD9);
  auto with_scans = [&](int copies) {
    std::vector<uint8_t> out(jpeg.begin(), jpeg.begin() + eoi);
    for (int c = 0; c < copies; ++c) out.insert(out.end(), jpeg.begin() + copy_begin, jpeg.begin() + copy_end);
    out.insert(out.end(), jpeg.begin() + eoi, jpeg.end());
    return out;
  };
  auto fine = DecodeImageBytes(with_scans(100), "many_scans.jpeg");
  CHECK_MESSAGE(fine.ok(), fine.status().message());
  auto refused = DecodeImageBytes(with_scans(600), "too_many_scans.jpeg");
  REQUIRE(!refused.ok());
  CHECK(refused.status().message() == "too_many_scans.jpeg: JPEG refused (more than 500 progressive scans)");
}

}  // namespace
}  // namespace glmv
