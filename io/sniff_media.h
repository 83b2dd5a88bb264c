// What kind of media a file holds, judged from its first bytes and never from its name: `--input FILE` asks
// here, then hands the file to the image, video or PDF decoder. Each decoder checks the bytes again itself;
// this only routes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "io/status.h"

namespace glmv {

enum class MediaKind { kUnknown, kImage, kVideo, kPdf };

struct MediaSniff {
  MediaKind kind = MediaKind::kUnknown;
  // kImage: "jpeg", "png" or "webp"; kVideo: SniffVideoContainer's name ("mp4", "matroska", ...); kPdf: "pdf";
  // kUnknown: what the bytes look like, for the message ("GIF image", "text", "data starting 00 01 ...").
  std::string format;
  uint64_t file_bytes = 0;  // size of the file (SniffMediaFile only)
};

// How many leading bytes the sniffers look at (the PDF header may sit anywhere in the first 1024 bytes; an
// MPEG transport stream shows its sync bytes at 0, 188 and 376).
inline constexpr size_t kSniffBytes = 4096;

MediaSniff SniffMediaBytes(std::span<const uint8_t> head);

// Reads the first kSniffBytes of `path`. Errors (naming the path): missing, not a regular file, empty,
// unreadable. A file of an unknown kind is not an error here: the caller says what it wanted.
Result<MediaSniff> SniffMediaFile(const std::string& path);

// "image", "video", "PDF", "unknown".
std::string_view MediaKindName(MediaKind kind);

// The name of an image or document format glmv recognises but does not decode (GIF, BMP, TIFF, AVIF, HEIF),
// or "" — so that a message can say "this is a GIF" rather than show bytes.
std::string_view UnsupportedImageFormatName(std::span<const uint8_t> bytes);

// "ff d8 ff e0 00 10 4a 46": the first (up to) 8 bytes in hex, for messages about unknown data.
std::string FirstBytesHex(std::span<const uint8_t> bytes);

}  // namespace glmv
