// EXIF orientation: the bounds-checked TIFF parser, the text forms Pillow also reads for PNG, the eight
// transforms, and end to end through JPEG APP1 and PNG eXIf / tEXt / iTXt chunks forged into small files.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "io/decode_image.h"
#include "io/encode_png.h"
#include "io/exif.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

struct Entry {
  uint16_t tag;
  uint16_t type;
  uint32_t count;
  uint32_t value;  // inline value (SHORT in the first two bytes) or an offset
};

void Put16(std::vector<uint8_t>& b, bool le, uint32_t v) {
  if (le) { b.push_back(uint8_t(v)); b.push_back(uint8_t(v >> 8)); }
  else { b.push_back(uint8_t(v >> 8)); b.push_back(uint8_t(v)); }
}
void Put32(std::vector<uint8_t>& b, bool le, uint32_t v) {
  if (le) { Put16(b, le, v & 0xFFFF); Put16(b, le, v >> 16); }
  else { Put16(b, le, v >> 16); Put16(b, le, v & 0xFFFF); }
}

// A TIFF blob with IFD0 at offset 8 holding `entries`, then `tail` bytes (for offset-stored values).
std::vector<uint8_t> Tiff(bool le, const std::vector<Entry>& entries, const std::vector<uint8_t>& tail = {}) {
  std::vector<uint8_t> b = le ? std::vector<uint8_t>{'I', 'I', 0x2A, 0} : std::vector<uint8_t>{'M', 'M', 0, 0x2A};
  Put32(b, le, 8);
  Put16(b, le, static_cast<uint32_t>(entries.size()));
  for (const Entry& e : entries) {
    Put16(b, le, e.tag);
    Put16(b, le, e.type);
    Put32(b, le, e.count);
    if (e.type == 3 && e.count == 1) {
      Put16(b, le, e.value);
      Put16(b, le, 0);
    } else if (e.type == 1 && e.count == 1) {
      b.insert(b.end(), {uint8_t(e.value), 0, 0, 0});
    } else {
      Put32(b, le, e.value);
    }
  }
  Put32(b, le, 0);  // no IFD1
  b.insert(b.end(), tail.begin(), tail.end());
  return b;
}

std::vector<uint8_t> OrientationTiff(bool le, uint32_t orientation) {
  return Tiff(le, {{0x010F, 2, 1, 0}, {0x0112, 3, 1, orientation}, {0x0131, 2, 1, 0}});
}

TEST_CASE("exif: Orientation from TIFF blobs, both byte orders") {
  for (bool le : {true, false}) {
    CAPTURE(le);
    CHECK(ExifOrientation(OrientationTiff(le, 6)) == 6u);
    std::vector<uint8_t> app1 = {'E', 'x', 'i', 'f', 0, 0};
    const auto tiff = OrientationTiff(le, 3);
    app1.insert(app1.end(), tiff.begin(), tiff.end());
    CHECK(ExifOrientation(app1) == 3u);
    CHECK(ExifOrientation(Tiff(le, {{0x0112, 4, 1, 8}})) == 8u);           // LONG
    CHECK(ExifOrientation(Tiff(le, {{0x0112, 1, 1, 5}})) == 5u);           // BYTE
    CHECK(ExifOrientation(Tiff(le, {{0x0112, 3, 1, 2}, {0x0112, 3, 1, 7}})) == 7u);  // last wins
    CHECK(ExifOrientation(Tiff(le, {{0x0110, 3, 1, 6}})) == std::nullopt);  // no Orientation tag
    CHECK(ExifOrientation(Tiff(le, {{0x0112, 5, 1, 40}})) == std::nullopt);  // RATIONAL: not used
    CHECK(ExifOrientation(Tiff(le, {{0x0112, 3, 0, 6}})) == std::nullopt);  // no values
    // Three SHORTs do not fit inline: they sit at an offset (here just past the IFD: 8 + 2 + 12 + 4 = 26).
    std::vector<uint8_t> values;
    Put16(values, le, 6); Put16(values, le, 1); Put16(values, le, 1);
    CHECK(ExifOrientation(Tiff(le, {{0x0112, 3, 3, 26}}, values)) == 6u);
    CHECK(ExifOrientation(Tiff(le, {{0x0112, 3, 3, 25}}, values)) == (le ? 0x0600u : 0u));  // misaligned: whatever bytes are there
    CHECK(ExifOrientation(Tiff(le, {{0x0112, 3, 3, 27}}, values)) == std::nullopt);  // runs past the end
    CHECK(ExifOrientation(Tiff(le, {{0x0112, 3, 3, 0xFFFFFFF0u}}, values)) == std::nullopt);  // no wrap-around
  }
}

TEST_CASE("exif: damaged blobs give no orientation and never read out of bounds") {
  CHECK(ExifOrientation({}) == std::nullopt);
  const std::vector<uint8_t> not_tiff = {'I', 'M', 0x2A, 0, 8, 0, 0, 0, 0, 0};
  CHECK(ExifOrientation(not_tiff) == std::nullopt);
  auto far_ifd = OrientationTiff(true, 6);
  far_ifd[4] = 0xFF; far_ifd[5] = 0xFF; far_ifd[6] = 0xFF; far_ifd[7] = 0xFF;
  CHECK(ExifOrientation(far_ifd) == std::nullopt);
  auto many_entries = OrientationTiff(false, 6);
  many_entries[8] = 0xFF; many_entries[9] = 0xFF;  // 65535 entries claimed, 3 present
  CHECK(ExifOrientation(many_entries) == 6u);
  // Every prefix of a valid blob: the orientation entry counts only when it is whole.
  const auto full = OrientationTiff(true, 6);
  const size_t entry_end = 8 + 2 + 2 * 12;  // the Orientation entry is the second
  for (size_t n = 0; n <= full.size(); ++n) {
    const auto got = ExifOrientation(std::span(full.data(), n));
    CHECK(got == (n >= entry_end ? std::optional<uint32_t>(6) : std::nullopt));
  }
  // Random blobs behind a valid header (the sanitizer build checks the reads).
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> b = {'M', 'M', 0, 0x2A, 0, 0, 0, uint8_t(rng() % 16)};
    b.resize(8 + rng() % 64);
    for (size_t k = 8; k < b.size(); ++k) b[k] = uint8_t(rng());
    (void)ExifOrientation(b);
  }
}

TEST_CASE("exif: Raw profile and XMP text forms") {
  const auto tiff = OrientationTiff(false, 8);
  std::string hex;
  static const char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < tiff.size(); ++i) {
    if (i > 0 && i % 16 == 0) hex += '\n';
    hex += kDigits[tiff[i] >> 4];
    hex += kDigits[tiff[i] & 15];
  }
  const std::string profile = "\nexif\n      " + std::to_string(tiff.size()) + "\n" + hex + "\n";
  CHECK(ExifOrientationFromRawProfile(profile) == 8u);
  CHECK(ExifOrientationFromRawProfile("\nexif\n 4\n4d4d0g2a") == std::nullopt);  // not hex
  CHECK(ExifOrientationFromRawProfile("no newlines") == std::nullopt);
  CHECK(XmpOrientation("<rdf:Description tiff:Orientation=\"6\" />") == 6u);
  CHECK(XmpOrientation("<tiff:Orientation>3</tiff:Orientation>") == 3u);
  CHECK(XmpOrientation("tiff:Orientation=6 tiff:Orientation=\"2\"") == 2u);  // the first full match
  CHECK(XmpOrientation("tiff:Orientation") == std::nullopt);
  CHECK(XmpOrientation("") == std::nullopt);
}

// 3x2 image whose pixel (x, y) is (x, y, 7).
RgbImage Probe() {
  RgbImage im = RgbImage::Black(3, 2);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      im.Row(y)[3 * x] = uint8_t(x);
      im.Row(y)[3 * x + 1] = uint8_t(y);
      im.Row(y)[3 * x + 2] = 7;
    }
  }
  return im;
}

std::pair<int, int> At(const RgbImage& im, int x, int y) { return {im.Row(y)[3 * x], im.Row(y)[3 * x + 1]}; }

TEST_CASE("exif: the eight orientations put the stored corners where EXIF says") {
  // Stored corners: TL (0,0), TR (2,0), BL (0,1), BR (2,1). For each orientation, which stored corner shows
  // at the displayed top-left and top-right (EXIF 2.3, table of Orientation values).
  struct Want { uint32_t orientation; int w, h; std::pair<int, int> top_left, top_right; };
  const Want wants[] = {
      {1, 3, 2, {0, 0}, {2, 0}}, {2, 3, 2, {2, 0}, {0, 0}}, {3, 3, 2, {2, 1}, {0, 1}},
      {4, 3, 2, {0, 1}, {2, 1}}, {5, 2, 3, {0, 0}, {0, 1}}, {6, 2, 3, {0, 1}, {0, 0}},
      {7, 2, 3, {2, 1}, {2, 0}}, {8, 2, 3, {2, 0}, {2, 1}}, {0, 3, 2, {0, 0}, {2, 0}},
      {9, 3, 2, {0, 0}, {2, 0}}};
  for (const Want& want : wants) {
    CAPTURE(want.orientation);
    const RgbImage out = ApplyExifOrientation(Probe(), want.orientation);
    REQUIRE(out.width == want.w);
    REQUIRE(out.height == want.h);
    CHECK(At(out, 0, 0) == want.top_left);
    CHECK(At(out, out.width - 1, 0) == want.top_right);
    // Every stored pixel appears exactly once.
    std::vector<int> seen(6, 0);
    for (int y = 0; y < out.height; ++y) {
      for (int x = 0; x < out.width; ++x) ++seen[At(out, x, y).second * 3 + At(out, x, y).first];
    }
    CHECK(seen == std::vector<int>(6, 1));
  }
}

// The small JPEG with an APP1 Exif segment (carrying `tiff`) inserted right after SOI.
std::vector<uint8_t> JpegWithExif(const std::vector<uint8_t>& jpeg, const std::vector<std::vector<uint8_t>>& tiffs) {
  std::vector<uint8_t> out(jpeg.begin(), jpeg.begin() + 2);
  for (const auto& tiff : tiffs) {
    const size_t length = 2 + 6 + tiff.size();
    out.insert(out.end(), {0xFF, 0xE1, uint8_t(length >> 8), uint8_t(length), 'E', 'x', 'i', 'f', 0, 0});
    out.insert(out.end(), tiff.begin(), tiff.end());
  }
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

TEST_CASE("exif: JPEG APP1 orientation is applied, first Exif segment wins") {
  const auto jpeg = test::ReadBytes(test::DataDir() / "images" / "go-video-001.q50.420.jpeg");
  auto base = DecodeImageBytes(jpeg, "base.jpeg");
  REQUIRE_MESSAGE(base.ok(), base.status().message());
  for (bool le : {true, false}) {
    for (uint32_t o = 1; o <= 8; ++o) {
      CAPTURE(o);
      auto got = DecodeImageBytes(JpegWithExif(jpeg, {OrientationTiff(le, o)}), "oriented.jpeg");
      REQUIRE_MESSAGE(got.ok(), got.status().message());
      const RgbImage want = ApplyExifOrientation(*base, o);
      CHECK(got->width == want.width);
      CHECK(got->pixels == want.pixels);
    }
  }
  auto two = DecodeImageBytes(JpegWithExif(jpeg, {OrientationTiff(true, 3), OrientationTiff(true, 6)}), "two.jpeg");
  REQUIRE(two.ok());
  CHECK(two->pixels == ApplyExifOrientation(*base, 3).pixels);
  // Broken EXIF does not cost the picture.
  auto broken = DecodeImageBytes(JpegWithExif(jpeg, {{'M', 'M', 0, 0x2A, 0xFF, 0xFF}}), "broken.jpeg");
  REQUIRE_MESSAGE(broken.ok(), broken.status().message());
  CHECK(broken->pixels == base->pixels);
}

std::vector<uint8_t> Chunk(const std::string& type, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> c;
  Put32(c, false, static_cast<uint32_t>(data.size()));
  c.insert(c.end(), type.begin(), type.end());
  c.insert(c.end(), data.begin(), data.end());
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 4; i < c.size(); ++i) {
    crc ^= c[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  Put32(c, false, ~crc);
  return c;
}

// `png` with `chunk` inserted before the first chunk of type `before`.
std::vector<uint8_t> InsertChunk(const std::vector<uint8_t>& png, const std::string& before,
                                 const std::vector<uint8_t>& chunk) {
  size_t at = 8;
  while (at + 8 <= png.size() && std::string(png.begin() + at + 4, png.begin() + at + 8) != before) {
    at += 12 + (size_t(png[at]) << 24 | size_t(png[at + 1]) << 16 | size_t(png[at + 2]) << 8 | png[at + 3]);
  }
  std::vector<uint8_t> out(png.begin(), png.begin() + at);
  out.insert(out.end(), chunk.begin(), chunk.end());
  out.insert(out.end(), png.begin() + at, png.end());
  return out;
}

std::vector<uint8_t> Text(const std::string& s) { return {s.begin(), s.end()}; }

TEST_CASE("exif: PNG orientation from eXIf, Raw profile text and XMP, as Pillow 9.4 reads them") {
  RgbImage image = RgbImage::Black(5, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = uint8_t(i * 7);
  auto png = EncodePng(image);
  REQUIRE(png.ok());
  auto decode = [](const std::vector<uint8_t>& bytes) {
    auto r = DecodeImageBytes(bytes, "forged.png");
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    return std::move(r).value();
  };
  const auto rotated6 = ApplyExifOrientation(image, 6).pixels;
  CHECK(decode(InsertChunk(*png, "IDAT", Chunk("eXIf", OrientationTiff(false, 6)))).pixels == rotated6);
  CHECK(decode(InsertChunk(*png, "IEND", Chunk("eXIf", OrientationTiff(true, 6)))).pixels == rotated6);
  std::string hex;
  for (uint8_t b : OrientationTiff(true, 8)) {
    static const char kDigits[] = "0123456789abcdef";
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  const auto raw = Chunk("tEXt", Text(std::string("Raw profile type exif") + '\0' + "\nexif\n  34\n" + hex + "\n"));
  CHECK(decode(InsertChunk(*png, "IDAT", raw)).pixels == ApplyExifOrientation(image, 8).pixels);
  // eXIf takes precedence over the text form.
  CHECK(decode(InsertChunk(InsertChunk(*png, "IDAT", raw), "IDAT", Chunk("eXIf", OrientationTiff(true, 6))))
            .pixels == rotated6);
  const std::string xmp = std::string("XML:com.adobe.xmp") + '\0' + '\0' + '\0' + '\0' + '\0' +
                          "<x:xmpmeta><rdf:Description tiff:Orientation=\"3\"/></x:xmpmeta>";
  CHECK(decode(InsertChunk(*png, "IDAT", Chunk("iTXt", Text(xmp)))).pixels == ApplyExifOrientation(image, 3).pixels);
  // An eXIf without Orientation lets XMP decide; one with Orientation 1 does not.
  const auto no_tag = Chunk("eXIf", Tiff(true, {{0x0110, 3, 1, 1}}));
  CHECK(decode(InsertChunk(InsertChunk(*png, "IDAT", no_tag), "IDAT", Chunk("iTXt", Text(xmp)))).pixels ==
        ApplyExifOrientation(image, 3).pixels);
  const auto upright = Chunk("eXIf", OrientationTiff(true, 1));
  CHECK(decode(InsertChunk(InsertChunk(*png, "IDAT", upright), "IDAT", Chunk("iTXt", Text(xmp)))).pixels ==
        image.pixels);
}

}  // namespace
}  // namespace glmv
