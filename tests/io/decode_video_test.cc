// The FFmpeg video reader on files made here: missing, empty and non-video files end in an error that names the
// file, never a crash (build-asan runs this too); containers are told by content. The real videos of
// ../shared/media/video and damaged copies of them are decode_video_shared_test.cc.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/decode_video.h"
#include "tests/io/decode_video_test_util.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

using test::CheckNamedError;

TEST_CASE("video: missing, empty and non-video files") {
  test::TempDir dir;
  auto missing = VideoReader::Open((dir / "nope.mp4").string());
  REQUIRE(!missing.ok());
  CheckNamedError(missing.status(), (dir / "nope.mp4").string());
  test::WriteBytes(dir / "empty.mp4", {});
  auto empty = VideoReader::Open((dir / "empty.mp4").string());
  REQUIRE(!empty.ok());
  CheckNamedError(empty.status(), (dir / "empty.mp4").string());
  CHECK(empty.status().message().find("empty") != std::string::npos);
  test::WriteBytes(dir / "text.mp4", std::vector<uint8_t>(4000, 'a'));
  auto text = VideoReader::Open((dir / "text.mp4").string());
  REQUIRE(!text.ok());
  CheckNamedError(text.status(), (dir / "text.mp4").string());
  // A playlist would make FFmpeg open the files it names: refused as a format.
  const std::string m3u = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n/etc/passwd\n#EXT-X-ENDLIST\n";
  test::WriteBytes(dir / "list.m3u8", std::vector<uint8_t>(m3u.begin(), m3u.end()));
  auto list = VideoReader::Open((dir / "list.m3u8").string());
  REQUIRE(!list.ok());
  CheckNamedError(list.status(), (dir / "list.m3u8").string());
  // Images are not videos here (the image2 demuxers are not on the list).
  const fs::path jpeg = test::DataDir() / "images" / "go-video-001.q50.420.jpeg";
  auto image = VideoReader::Open(jpeg.string());
  REQUIRE(!image.ok());
  CheckNamedError(image.status(), jpeg.string());
}

TEST_CASE("video: empty, text, playlist and image bytes in memory") {
  auto empty = VideoReader::OpenBytes({}, "upload");
  REQUIRE(!empty.ok());
  CHECK(empty.status().message() == "upload: the video data is empty");
  const std::vector<uint8_t> text(4000, 'a');
  auto t = VideoReader::OpenBytes(text, "upload");
  REQUIRE(!t.ok());
  CheckNamedError(t.status(), "upload");
  const std::string m3u = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n/etc/passwd\n#EXT-X-ENDLIST\n";
  auto list = VideoReader::OpenBytes(std::vector<uint8_t>(m3u.begin(), m3u.end()), "upload");
  REQUIRE(!list.ok());
  CheckNamedError(list.status(), "upload");
  auto image = VideoReader::OpenBytes(test::ReadBytes(test::DataDir() / "images" / "go-video-001.q50.420.jpeg"),
                                      "upload");
  REQUIRE(!image.ok());
  CheckNamedError(image.status(), "upload");
}

TEST_CASE("video: container sniffing by content") {
  const uint8_t ftyp[] = {0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'};
  CHECK(SniffVideoContainer(ftyp) == "mp4");
  const uint8_t ebml[] = {0x1A, 0x45, 0xDF, 0xA3, 0x01};
  CHECK(SniffVideoContainer(ebml) == "matroska");
  const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0};
  CHECK(SniffVideoContainer(jpeg).empty());
  CHECK(SniffVideoContainer({}).empty());
}

}  // namespace
}  // namespace glmv
