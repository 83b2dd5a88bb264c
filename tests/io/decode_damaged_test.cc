// Damaged and hostile inputs: truncation at many offsets, flipped bytes, empty and non-image files, forged
// huge sizes, limits. The contract: a clear error naming the input, or (for damage the format cannot
// detect) a plausible image; never a crash, hang or abort. Runs under ASan/UBSan too (build-asan). Damage built
// from a ../shared/media file is decode_damaged_shared_test.cc.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "io/decode_image.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

std::vector<uint8_t> SmallJpeg() { return test::ReadBytes(test::DataDir() / "images" / "go-video-001.q50.420.jpeg"); }
std::vector<uint8_t> SmallPng() { return test::ReadBytes(test::DataDir() / "images" / "basn6a08.png"); }

// Either an error that names the input and gives a reason, or an image of sane size.
void CheckErrorOrPlausible(const Result<RgbImage>& r, const std::string& name, int max_side) {
  if (!r.ok()) {
    const std::string message = r.status().message();
    CHECK_MESSAGE(message.rfind(name + ": ", 0) == 0, message);
    CHECK(message.size() > name.size() + 10);
    return;
  }
  CHECK(r->width > 0);
  CHECK(r->height > 0);
  CHECK(r->width <= max_side);
  CHECK(r->height <= max_side);
  CHECK(r->pixels.size() == size_t(r->width) * size_t(r->height) * 3);
}

// Big-endian CRC-32 of PNG chunks (type + data), for forging chunks in tests.
uint32_t Crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

TEST_CASE("decode: the small test files decode") {
  auto jpeg = DecodeImageBytes(SmallJpeg(), "small.jpeg");
  REQUIRE_MESSAGE(jpeg.ok(), jpeg.status().message());
  CHECK(jpeg->width == 150);
  CHECK(jpeg->height == 103);
  auto png = DecodeImageBytes(SmallPng(), "small.png");
  REQUIRE_MESSAGE(png.ok(), png.status().message());
  CHECK(png->width == 32);
  CHECK(png->height == 32);
}

TEST_CASE("decode: truncation at 20+ offsets is a clear error") {
  for (const auto& [name, bytes] : {std::pair{std::string("cut.jpeg"), SmallJpeg()},
                                    std::pair{std::string("cut.png"), SmallPng()}}) {
    REQUIRE(bytes.size() > 100);
    std::vector<size_t> cuts = {0, 1, 2, 3, 4, 8, 16, 33};
    for (int i = 1; i <= 20; ++i) cuts.push_back(bytes.size() * i / 21);
    cuts.push_back(bytes.size() - 12);
    for (size_t cut : cuts) {
      auto r = DecodeImageBytes(std::span(bytes.data(), cut), name);
      REQUIRE_MESSAGE(!r.ok(), name << " cut at " << cut << " of " << bytes.size() << " decoded");
      CheckErrorOrPlausible(r, name, 0);
    }
    // Only the last bytes missing: the JPEG's EOI marker, the PNG's IEND chunk. Still errors: libjpeg's
    // Huffman decoder reads ahead into the EOI marker, so Pillow's suspending reader hits the end of the file
    // and reports "image file is truncated" as well. (Pillow reads a PNG without IEND; we refuse it, as the
    // media manifest asks.)
    for (size_t missing = 1; missing <= 12; ++missing) {
      auto r = DecodeImageBytes(std::span(bytes.data(), bytes.size() - missing), name);
      REQUIRE_MESSAGE(!r.ok(), name << " without its last " << missing << " bytes decoded");
      CheckErrorOrPlausible(r, name, 0);
    }
  }
  // A truncated JPEG on disk: the message names the path and says "truncated".
  test::TempDir dir;
  auto jpeg = SmallJpeg();
  jpeg.resize(jpeg.size() / 2);
  test::WriteBytes(dir / "half.jpg", jpeg);
  auto r = DecodeImageFile((dir / "half.jpg").string());
  REQUIRE(!r.ok());
  CHECK(r.status().message().find((dir / "half.jpg").string()) == 0);
  CHECK(r.status().message().find("truncated") != std::string::npos);
}

TEST_CASE("decode: flipped bytes never crash") {
  std::mt19937 rng(1234);
  for (const auto& [name, original] : {std::pair{std::string("flip.jpeg"), SmallJpeg()},
                                       std::pair{std::string("flip.png"), SmallPng()}}) {
    int errors = 0;
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> bytes = original;
      const int flips = 1 + trial % 4;
      for (int f = 0; f < flips; ++f) {
        const size_t at = rng() % bytes.size();
        bytes[at] ^= static_cast<uint8_t>(1 + rng() % 255);
      }
      auto r = DecodeImageBytes(bytes, name);
      if (!r.ok()) ++errors;
      // A damaged header can claim other dimensions; JPEG sizes are 16-bit.
      CheckErrorOrPlausible(r, name, 65535);
    }
    MESSAGE(name << ": " << errors << " of 300 damaged copies refused, the rest decoded to a plausible size");
    CHECK(errors > 0);
  }
  // PNG chunks carry CRCs and zlib an Adler-32, so damage is caught. JPEG has no checksum: damage inside the
  // entropy data can decode to wrong pixels without any sign, which is the format's limit, not ours.
}

TEST_CASE("decode: empty, text, other formats, missing paths") {
  test::TempDir dir;
  test::WriteBytes(dir / "empty.jpg", {});
  auto empty = DecodeImageFile((dir / "empty.jpg").string());
  REQUIRE(!empty.ok());
  CHECK(empty.status().message() == (dir / "empty.jpg").string() + ": empty file, not an image");

  const std::string text = "Hello, this is a text file named like a PNG.\n";
  test::WriteBytes(dir / "notes.png", std::vector<uint8_t>(text.begin(), text.end()));
  auto t = DecodeImageFile((dir / "notes.png").string());
  REQUIRE(!t.ok());
  CHECK(t.status().message().find("not a JPEG, PNG or WebP image") != std::string::npos);

  // Content decides, not the extension: a PNG named .jpg decodes as PNG.
  test::WriteBytes(dir / "really_png.jpg", SmallPng());
  auto renamed = DecodeImageFile((dir / "really_png.jpg").string());
  REQUIRE_MESSAGE(renamed.ok(), renamed.status().message());
  CHECK(renamed->width == 32);

  const std::string gif = "GIF89a\x01\x00\x01\x00";
  auto g = DecodeImageBytes(std::span(reinterpret_cast<const uint8_t*>(gif.data()), gif.size()), "x.gif");
  REQUIRE(!g.ok());
  CHECK(g.status().message() == "x.gif: unsupported image format GIF (JPEG, PNG and WebP are decoded)");

  auto missing = DecodeImageFile((dir / "nope.png").string());
  REQUIRE(!missing.ok());
  CHECK(missing.status().message().find("cannot open") != std::string::npos);
  auto directory = DecodeImageFile(dir.path().string());
  REQUIRE(!directory.ok());
  CHECK(directory.status().message().find(dir.path().string()) == 0);

  for (const auto& magic : {std::vector<uint8_t>{0xFF, 0xD8}, std::vector<uint8_t>{0xFF, 0xD8, 0xFF},
                            std::vector<uint8_t>{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}}) {
    auto r = DecodeImageBytes(magic, "magic-only");
    REQUIRE(!r.ok());
    CheckErrorOrPlausible(r, "magic-only", 0);
  }
}

TEST_CASE("decode: limits are enforced before decoding") {
  const auto jpeg = SmallJpeg();
  const auto png = SmallPng();
  DecodeLimits small;
  small.max_pixels = 150 * 103 - 1;
  auto j = DecodeImageBytes(jpeg, "a.jpeg", small);
  REQUIRE(!j.ok());
  CHECK(j.status().message() ==
        "a.jpeg: JPEG is 150x103 = 15450 pixels, over the limit of 15449 (DecodeLimits::max_pixels)");
  small.max_pixels = 150 * 103;
  CHECK(DecodeImageBytes(jpeg, "a.jpeg", small).ok());
  small.max_pixels = 32 * 32 - 1;
  auto p = DecodeImageBytes(png, "a.png", small);
  REQUIRE(!p.ok());
  CHECK(p.status().message().find("max_pixels") != std::string::npos);

  DecodeLimits tiny_bytes;
  tiny_bytes.max_bytes = 100;
  auto b = DecodeImageBytes(png, "a.png", tiny_bytes);
  REQUIRE(!b.ok());
  CHECK(b.status().message() == "a.png: 184 bytes, over the limit of 100 (DecodeLimits::max_bytes)");
  test::TempDir dir;
  test::WriteBytes(dir / "a.png", png);
  auto f = DecodeImageFile((dir / "a.png").string(), tiny_bytes);
  REQUIRE(!f.ok());
  CHECK(f.status().message().find("max_bytes") != std::string::npos);
}

TEST_CASE("decode: forged huge sizes are refused from the header") {
  // JPEG: rewrite the SOF0 frame size of the small file to 65000x65000 (4.2 G pixels).
  auto jpeg = SmallJpeg();
  bool patched = false;
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {
      jpeg[i + 5] = 0xFD; jpeg[i + 6] = 0xE8;  // height 65000
      jpeg[i + 7] = 0xFD; jpeg[i + 8] = 0xE8;  // width 65000
      patched = true;
      break;
    }
  }
  REQUIRE(patched);
  auto j = DecodeImageBytes(jpeg, "bomb.jpeg");
  REQUIRE(!j.ok());
  CHECK(j.status().message().find("65000x65000") != std::string::npos);

  // PNG: IHDR claiming 100000x100000 with a valid CRC.
  auto png = SmallPng();
  PutBe32(&png[16], 100000);
  PutBe32(&png[20], 100000);
  PutBe32(&png[29], Crc32(&png[12], 17));
  auto p = DecodeImageBytes(png, "bomb.png");
  REQUIRE(!p.ok());
  CHECK(p.status().message() ==
        "bomb.png: PNG is 100000x100000 = 10000000000 pixels, over the limit of 100000000 (DecodeLimits::max_pixels)");
}

TEST_CASE("decode: a PNG chunk declaring gigabytes is refused before it is allocated") {
  // Found by tests/fuzz (fuzz_png): one byte turned a tEXt chunk's length into 0x7C000019, and libpng
  // allocated and cleared 2 GB before finding the file too short. Same shape on the small test file: a tEXt
  // chunk after IHDR whose length says 2 GB, followed by a few bytes.
  auto png = SmallPng();
  const std::vector<uint8_t> text = {0x7C, 0x00, 0x00, 0x19, 't', 'E', 'X', 't', 'a', 'b', 'c', 0, 'd', 'e', 'f'};
  png.insert(png.begin() + 33, text.begin(), text.end());  // 8 signature + 25 IHDR
  auto r = DecodeImageBytes(png, "long-chunk.png");
  REQUIRE(!r.ok());
  CHECK(r.status().message() == "long-chunk.png: invalid PNG (tEXt: chunk data is too large)");
  // A text chunk of ordinary size still decodes.
  auto fine = SmallPng();
  const std::vector<uint8_t> comment = {0, 0, 0, 3, 't', 'E', 'X', 't', 'a', 0, 'b'};
  fine.insert(fine.begin() + 33, comment.begin(), comment.end());
  const uint32_t crc = Crc32(&fine[37], 7);
  const uint8_t crc_bytes[4] = {uint8_t(crc >> 24), uint8_t(crc >> 16), uint8_t(crc >> 8), uint8_t(crc)};
  fine.insert(fine.begin() + 44, crc_bytes, crc_bytes + 4);
  auto ok = DecodeImageBytes(fine, "comment.png");
  CHECK_MESSAGE(ok.ok(), ok.status().message());
}

}  // namespace
}  // namespace glmv
