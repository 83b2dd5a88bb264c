#include "io/decode_image.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "io/decode_jpeg.h"
#include "io/decode_png.h"
#include "io/decode_webp.h"
#include "io/sniff_media.h"

namespace glmv {
namespace {

bool StartsWith(std::span<const uint8_t> bytes, std::string_view magic, size_t at = 0) {
  return bytes.size() >= at + magic.size() && std::memcmp(bytes.data() + at, magic.data(), magic.size()) == 0;
}

// Names formats we do not decode, so the message says "this is a GIF" rather than "unknown bytes".
std::string_view OtherFormatName(std::span<const uint8_t> bytes) {
  if (const std::string_view image = UnsupportedImageFormatName(bytes); !image.empty()) return image;
  if (StartsWith(bytes, "ftyp", 4)) return "MP4/QuickTime (a video container)";
  if (StartsWith(bytes, "%PDF")) return "PDF";
  return {};
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

ImageFormat SniffImageFormat(std::span<const uint8_t> bytes) {
  if (StartsWith(bytes, "\xFF\xD8\xFF")) return ImageFormat::kJpeg;
  if (StartsWith(bytes, "\x89PNG\r\n\x1A\n")) return ImageFormat::kPng;
  if (StartsWith(bytes, "RIFF") && StartsWith(bytes, "WEBP", 8)) return ImageFormat::kWebp;
  return ImageFormat::kUnknown;
}

Result<RgbImage> DecodeImageBytes(std::span<const uint8_t> bytes, const std::string& name_for_messages,
                                  const DecodeLimits& limits) {
  const std::string& name = name_for_messages;
  if (bytes.empty()) return Status::Error(name + ": empty file, not an image");
  if (bytes.size() > limits.max_bytes) {
    return Status::Error(name + ": " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                         std::to_string(limits.max_bytes) + " (DecodeLimits::max_bytes)");
  }
  switch (SniffImageFormat(bytes)) {
    case ImageFormat::kJpeg: return DecodeJpeg(bytes, name, limits);
    case ImageFormat::kPng: return DecodePng(bytes, name, limits);
    case ImageFormat::kWebp: return DecodeWebp(bytes, name, limits);
    case ImageFormat::kUnknown: break;
  }
  // Pillow also requires FF D8 FF; a bare SOI followed by something else is a damaged JPEG, not another format.
  if (bytes.size() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8) {
    return Status::Error(name + ": invalid JPEG (no marker after the start-of-image marker)");
  }
  const std::string_view other = OtherFormatName(bytes);
  if (!other.empty()) {
    return Status::Error(name + ": unsupported image format " + std::string(other) + " (JPEG, PNG and WebP are decoded)");
  }
  return Status::Error(name + ": not a JPEG, PNG or WebP image (starts with " + FirstBytesHex(bytes) + ")");
}

Result<RgbImage> DecodeImageFile(const std::string& path, const DecodeLimits& limits) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) return Status::Error(path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st;
  if (fstat(fileno(file.get()), &st) != 0) return Status::Error(path + ": cannot stat (" + std::strerror(errno) + ")");
  if (!S_ISREG(st.st_mode)) return Status::Error(path + ": not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  // Checked before reading so a huge file is refused without allocating its size.
  if (size > limits.max_bytes) {
    return Status::Error(path + ": " + std::to_string(size) + " bytes, over the limit of " +
                         std::to_string(limits.max_bytes) + " (DecodeLimits::max_bytes)");
  }
  std::vector<uint8_t> bytes(size);
  if (size > 0 && std::fread(bytes.data(), 1, size, file.get()) != size) {
    return Status::Error(path + ": short read (the file changed or cannot be read)");
  }
  return DecodeImageBytes(bytes, path, limits);
}

}  // namespace glmv
