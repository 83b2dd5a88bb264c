// The one entry point for image files: sniffs the format from the bytes (never from the file name) and hands
// back upright 8-bit RGB exactly as the reference loader makes it (transformers `load_image`: Pillow 9.4
// `Image.open`, `ImageOps.exif_transpose`, `convert("RGB")`). Formats: JPEG (libjpeg-turbo), PNG
// (libpng) and WebP (libwebp; an animation's first frame); see io/decode_jpeg.h, io/decode_png.h and
// io/decode_webp.h for what each accepts and refuses.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "io/image.h"
#include "io/status.h"

namespace glmv {

enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp };

// The format of an encoded image from its first bytes (JPEG: FF D8 FF; PNG: its 8-byte signature; WebP:
// "RIFF", a 4-byte size, "WEBP").
ImageFormat SniffImageFormat(std::span<const uint8_t> bytes);

// Reads and decodes the file at `path`. Every error message starts with the path and says why; the decoders
// never abort, exit or print, whatever the input.
Result<RgbImage> DecodeImageFile(const std::string& path, const DecodeLimits& limits = {});

// Decodes an image held in memory (an upload, a data URL payload). `name_for_messages` labels errors.
Result<RgbImage> DecodeImageBytes(std::span<const uint8_t> bytes, const std::string& name_for_messages,
                                  const DecodeLimits& limits = {});

}  // namespace glmv
