#include "io/sniff_media.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "io/decode_image.h"
#include "io/decode_pdf.h"
#include "io/decode_video.h"

namespace glmv {
namespace {

bool StartsWith(std::span<const uint8_t> bytes, std::string_view magic, size_t at = 0) {
  return bytes.size() >= at + magic.size() && std::memcmp(bytes.data() + at, magic.data(), magic.size()) == 0;
}

// Printable ASCII, UTF-8 continuation/lead bytes and whitespace only: a text file (a prompt saved by mistake,
// a playlist, an HTML error page) is named as such rather than as bytes.
bool LooksLikeText(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return false;
  for (uint8_t b : bytes.first(std::min<size_t>(bytes.size(), 512))) {
    if (b < 0x20 && b != '\n' && b != '\r' && b != '\t' && b != '\f') return false;
    if (b == 0x7F) return false;
  }
  return true;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

std::string FirstBytesHex(std::span<const uint8_t> bytes) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    std::snprintf(buf, sizeof(buf), i == 0 ? "%02x" : " %02x", bytes[i]);
    out += buf;
  }
  return out;
}

std::string_view UnsupportedImageFormatName(std::span<const uint8_t> bytes) {
  if (StartsWith(bytes, "GIF87a") || StartsWith(bytes, "GIF89a")) return "GIF";
  if (StartsWith(bytes, "BM")) return "BMP";
  if (StartsWith(bytes, std::string_view("II*\0", 4)) || StartsWith(bytes, std::string_view("MM\0*", 4))) {
    return "TIFF";
  }
  if (StartsWith(bytes, "ftyp", 4)) {  // ISO base media: the brand tells a still image from a movie
    if (StartsWith(bytes, "avif", 8)) return "AVIF";
    if (StartsWith(bytes, "heic", 8) || StartsWith(bytes, "heix", 8) || StartsWith(bytes, "mif1", 8)) return "HEIF";
  }
  return {};
}

MediaSniff SniffMediaBytes(std::span<const uint8_t> head) {
  MediaSniff out;
  switch (SniffImageFormat(head)) {
    case ImageFormat::kJpeg: out.kind = MediaKind::kImage, out.format = "jpeg"; return out;
    case ImageFormat::kPng: out.kind = MediaKind::kImage, out.format = "png"; return out;
    case ImageFormat::kWebp: out.kind = MediaKind::kImage, out.format = "webp"; return out;
    case ImageFormat::kUnknown: break;
  }
  // Before the video check: AVIF and HEIF share MP4's box structure but are still images.
  if (const std::string_view other = UnsupportedImageFormatName(head); !other.empty()) {
    out.format = std::string(other) + " image";
    return out;
  }
  if (std::string container = SniffVideoContainer(head); !container.empty()) {
    out.kind = MediaKind::kVideo, out.format = std::move(container);
    return out;
  }
  // Last: "%PDF-" may sit anywhere in the first 1024 bytes, so a file of another kind could contain it.
  if (LooksLikePdf(head)) {
    out.kind = MediaKind::kPdf, out.format = "pdf";
    return out;
  }
  out.format = LooksLikeText(head) ? "text" : "data starting " + FirstBytesHex(head);
  return out;
}

Result<MediaSniff> SniffMediaFile(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) return Status::Error(path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st;
  if (fstat(fileno(file.get()), &st) != 0) return Status::Error(path + ": cannot stat (" + std::strerror(errno) + ")");
  if (!S_ISREG(st.st_mode)) return Status::Error(path + ": not a regular file");
  if (st.st_size == 0) return Status::Error(path + ": the file is empty");
  std::vector<uint8_t> head(std::min<uint64_t>(kSniffBytes, static_cast<uint64_t>(st.st_size)));
  if (std::fread(head.data(), 1, head.size(), file.get()) != head.size()) {
    return Status::Error(path + ": short read (the file changed or cannot be read)");
  }
  MediaSniff out = SniffMediaBytes(head);
  out.file_bytes = static_cast<uint64_t>(st.st_size);
  return out;
}

std::string_view MediaKindName(MediaKind kind) {
  switch (kind) {
    case MediaKind::kImage: return "image";
    case MediaKind::kVideo: return "video";
    case MediaKind::kPdf: return "PDF";
    case MediaKind::kUnknown: break;
  }
  return "unknown";
}

}  // namespace glmv
