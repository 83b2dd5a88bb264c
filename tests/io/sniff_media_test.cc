// Telling media apart by content (io/sniff_media.h), and the image decoders' time limit
// (DecodeLimits::max_seconds), the one limit the other decoder tests do not reach.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "io/decode_image.h"
#include "io/sniff_media.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

MediaSniff Sniff(const std::string& s) { return SniffMediaBytes(Bytes(s)); }

TEST_CASE("sniff: each kind from its first bytes") {
  const auto jpeg = test::ReadBytes(test::DataDir() / "images" / "go-video-001.q50.420.jpeg");
  const auto png = test::ReadBytes(test::DataDir() / "images" / "basn6a08.png");
  CHECK(SniffMediaBytes(jpeg).kind == MediaKind::kImage);
  CHECK(SniffMediaBytes(jpeg).format == "jpeg");
  CHECK(SniffMediaBytes(png).format == "png");

  const MediaSniff mp4 = Sniff(std::string("\0\0\0\x18" "ftypisom\0\0\0\0", 16));
  CHECK(mp4.kind == MediaKind::kVideo);
  CHECK(mp4.format == "mp4");
  CHECK(Sniff("\x1A\x45\xDF\xA3 webm").format == "matroska");
  CHECK(Sniff("OggS\0\x02").kind == MediaKind::kVideo);
  // AVIF shares MP4's boxes but is a still image, which glmv does not decode.
  const MediaSniff avif = Sniff(std::string("\0\0\0\x1C" "ftypavif\0\0\0\0", 16));
  CHECK(avif.kind == MediaKind::kUnknown);
  CHECK(avif.format == "AVIF image");
  CHECK(Sniff("GIF89a....").format == "GIF image");

  CHECK(Sniff("%PDF-1.7\n%...").kind == MediaKind::kPdf);
  CHECK(Sniff("junk before the header\n%PDF-1.4\n").kind == MediaKind::kPdf);  // readers accept this
  const MediaSniff text = Sniff("Describe this picture, please.\n");
  CHECK(text.kind == MediaKind::kUnknown);
  CHECK(text.format == "text");
  const MediaSniff data = Sniff(std::string("\x01\x02\x03\x00\xFF", 5));
  CHECK(data.kind == MediaKind::kUnknown);
  CHECK(data.format == "data starting 01 02 03 00 ff");
  CHECK(SniffMediaBytes({}).kind == MediaKind::kUnknown);
}

TEST_CASE("sniff: files, whatever their names") {
  test::TempDir dir;
  // A JPEG named .png and a PNG named .jpg: the bytes decide.
  fs::copy_file(test::DataDir() / "images" / "go-video-001.q50.420.jpeg", dir / "photo.png");
  fs::copy_file(test::DataDir() / "images" / "basn6a08.png", dir / "photo.jpg");
  auto jpeg = SniffMediaFile((dir / "photo.png").string());
  REQUIRE(jpeg.ok());
  CHECK(jpeg->format == "jpeg");
  CHECK(jpeg->file_bytes == 3407);
  CHECK(SniffMediaFile((dir / "photo.jpg").string())->format == "png");

  test::WriteBytes(dir / "empty.mp4", {});
  CHECK(SniffMediaFile((dir / "empty.mp4").string()).status().message() == (dir / "empty.mp4").string() + ": the file is empty");
  CHECK(SniffMediaFile((dir / "missing.pdf").string()).status().message().find("cannot open") != std::string::npos);
  CHECK(SniffMediaFile(dir.path().string()).status().message() == dir.path().string() + ": not a regular file");
}

TEST_CASE("decode: the time limit stops JPEG and PNG decoding with an error naming it") {
  DecodeLimits no_time;
  no_time.max_seconds = 0;  // the deadline has passed by the first row
  const auto jpeg = DecodeImageBytes(test::ReadBytes(test::DataDir() / "images" / "go-video-001.q50.420.jpeg"),
                                     "slow.jpeg", no_time);
  REQUIRE(!jpeg.ok());
  CHECK(jpeg.status().message() ==
        "slow.jpeg: JPEG refused: decoding took longer than 0 s (DecodeLimits::max_seconds)");
  const auto png = DecodeImageBytes(test::ReadBytes(test::DataDir() / "images" / "basn6a08.png"), "slow.png", no_time);
  REQUIRE(!png.ok());
  CHECK(png.status().message() == "slow.png: PNG refused: decoding took longer than 0 s (DecodeLimits::max_seconds)");
  // The default leaves ordinary files alone.
  CHECK(DecodeImageBytes(test::ReadBytes(test::DataDir() / "images" / "basn6a08.png"), "ok.png").ok());
}

}  // namespace
}  // namespace glmv
