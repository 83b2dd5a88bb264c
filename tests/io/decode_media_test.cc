// Real files from shared/media (Debian packages' test images): every valid JPEG/PNG decodes at the size the
// reference loader reports; every file under malformed/ is refused with a message naming it; the edge/ files
// behave as shared/media/MANIFEST.md allows. These also run under ASan/UBSan (build-asan). Linked with
// test_main_shared: skips (exit 77) without ../shared.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/decode_image.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

bool IsImageName(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<fs::path> ImagesUnder(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && IsImageName(e.path())) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> FilesIn(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

int MaxAbsDiff(const RgbImage& a, const RgbImage& b) {
  int m = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) m = std::max(m, std::abs(int{a.pixels[i]} - int{b.pixels[i]}));
  return m;
}

// ../shared is there (else the executable skipped); its media part must be too.
void RequireMedia() {
  const fs::path manifest = test::SharedDir() / "media" / "MANIFEST.md";
  REQUIRE_MESSAGE(fs::exists(manifest), manifest.string() << " is missing from ../shared");
}

TEST_CASE("decode: every JPEG and PNG in shared/media decodes at the reference loader's size") {
  RequireMedia();
  const fs::path media = test::SharedDir() / "media";
  // sizing.json gives the size after EXIF transpose for each media file, as the reference loader saw it.
  nlohmann::json sizing;
  const fs::path sizing_file = test::SharedDir() / "golden" / "preprocess" / "sizing.json";
  if (fs::exists(sizing_file)) sizing = nlohmann::json::parse(std::ifstream(sizing_file)).at("media_files");
  int decoded = 0, size_checked = 0;
  for (const fs::path& dir : {media / "jpeg", media / "png"}) {
    for (const fs::path& file : ImagesUnder(dir)) {
      const std::string rel = fs::relative(file, media).generic_string();
      auto image = DecodeImageFile(file.string());
      REQUIRE_MESSAGE(image.ok(), image.status().message());
      CHECK(image->width > 0);
      CHECK(image->height > 0);
      CHECK(image->pixels.size() == size_t(image->width) * size_t(image->height) * 3);
      std::string note = "(no sizing entry)";
      if (sizing.contains(rel)) {
        const auto hw = sizing.at(rel).at("input_size_hw");
        CHECK_MESSAGE(image->height == hw.at(0).get<int>(), rel);
        CHECK_MESSAGE(image->width == hw.at(1).get<int>(), rel);
        note = "size matches sizing.json";
        ++size_checked;
      }
      MESSAGE("decoded " << rel << ": " << image->width << "x" << image->height << ", " << note);
      ++decoded;
    }
  }
  CHECK(decoded >= 60);
  if (!sizing.is_null()) CHECK(size_checked == decoded);
}

TEST_CASE("decode: media pairs that must agree") {
  RequireMedia();
  const fs::path media = test::SharedDir() / "media";
  auto decode = [&](const std::string& rel) {
    auto r = DecodeImageFile((media / rel).string());
    REQUIRE_MESSAGE(r.ok(), r.status().message());
    return std::move(r).value();
  };
  struct Pair {
    const char* a;
    const char* b;
    int max_diff;  // 0: must be identical
  };
  const Pair pairs[] = {
      // Verified identical to libjpeg-turbo (+ EXIF auto-orient) by the manifest.
      {"jpeg/gdkpixbuf-testrotate-exif6.jpg", "jpeg/reference/gdkpixbuf-testrotate.png", 0},
      {"jpeg/gdkpixbuf-cat-gray.jpg", "jpeg/reference/gdkpixbuf-cat.jpg.ref.png", 0},
      // The COM marker must not change anything.
      {"jpeg/gdkpixbuf-comment-exif6.jpg", "jpeg/gdkpixbuf-testrotate-exif6.jpg", 0},
      // Adam7 and plain encodings of the same pixels.
      {"png/go-benchRGB-interlace.png", "png/go-benchRGB.png", 0},
      {"png/go-gray-gradient.interlaced.png", "png/go-gray-gradient.png", 0},
      // Go's decodes: a different IDCT, so only close (measured: up to 4 levels, 7 for grey; CMYK within 1).
      {"jpeg/go-video-001.jpeg", "jpeg/reference/go-video-001.png", 4},
      {"jpeg/go-video-001.progressive.jpeg", "jpeg/reference/go-video-001.png", 4},
      {"jpeg/go-video-001.cmyk.jpeg", "jpeg/reference/go-video-001.cmyk.png", 4},
      {"jpeg/go-video-005.gray.jpeg", "jpeg/reference/go-video-005.gray.png", 8},
  };
  for (const Pair& p : pairs) {
    const RgbImage a = decode(p.a);
    const RgbImage b = decode(p.b);
    REQUIRE_MESSAGE(a.width == b.width, p.a);
    REQUIRE(a.height == b.height);
    const int diff = MaxAbsDiff(a, b);
    MESSAGE((std::string(p.a) + " vs " + p.b + ": max |diff| " + std::to_string(diff)));
    CHECK(diff <= p.max_diff);
  }
}

TEST_CASE("decode: every file in shared/media/malformed/{jpeg,png} is refused with a clear message") {
  RequireMedia();
  const fs::path malformed = test::SharedDir() / "media" / "malformed";
  int refused = 0;
  for (const char* kind : {"jpeg", "png"}) {
    for (const fs::path& file : FilesIn(malformed / kind)) {
      auto image = DecodeImageFile(file.string());
      REQUIRE_MESSAGE(!image.ok(), file.string());
      const std::string message = image.status().message();
      CHECK(message.rfind(file.string() + ": ", 0) == 0);  // names the file first
      CHECK(message.size() > file.string().size() + 10);   // and says why
      MESSAGE("refused: " << message);
      ++refused;
    }
  }
  CHECK(refused == 13);
  // The decompression bombs are stopped by the pixel limit, from the header, not by running out of data.
  auto bomb = DecodeImageFile((malformed / "jpeg" / "gdkpixbuf-issue205-64250x64250.jpg").string());
  CHECK(bomb.status().message().find("max_pixels") != std::string::npos);
  auto png_bomb = DecodeImageFile((malformed / "png" / "gdkpixbuf-bug793470-crasher.png").string());
  CHECK(png_bomb.status().message().find("max_pixels") != std::string::npos);
}

TEST_CASE("decode: shared/media/edge files") {
  RequireMedia();
  const fs::path edge = test::SharedDir() / "media" / "edge";
  // Progressive JPEG cut after 4 of 10 scans but closed with EOI: valid syntax, libjpeg decodes it without a
  // warning and so does Pillow. Accepted; Go's partial decode is shown for comparison only.
  auto partial = DecodeImageFile((edge / "go-video-001.progressive.truncated.jpeg").string());
  REQUIRE_MESSAGE(partial.ok(), partial.status().message());
  CHECK(partial->width == 150);
  CHECK(partial->height == 103);
  auto go = DecodeImageFile((edge / "go-video-001.progressive.truncated.png").string());
  REQUIRE_MESSAGE(go.ok(), go.status().message());
  REQUIRE(go->width == 150);
  MESSAGE("edge truncated progressive JPEG: accepted, 150x103; max |diff| to Go's partial decode "
          << MaxAbsDiff(*partial, *go));
  // Not an image format we decode: a clear refusal.
  for (const char* name : {"afl-small.pdf", "afl-small_movie.mp4"}) {
    auto r = DecodeImageFile((edge / name).string());
    REQUIRE_FALSE(r.ok());
    MESSAGE("edge " << std::string(name) << ": " << r.status().message());
  }
}

}  // namespace
}  // namespace glmv
