// EXIF orientation: finding the Orientation tag (0x0112) in untrusted metadata and turning the stored picture
// upright, exactly as the reference loader does (Pillow 9.4 `Image.getexif` + `ImageOps.exif_transpose`).
// Every parser here is bounds-checked: the bytes come straight from user files.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "io/image.h"

namespace glmv {

// The Orientation value in an EXIF blob: a TIFF structure ("II*\0" or "MM\0*" header, then IFD0), optionally
// preceded by the "Exif\0\0" of a JPEG APP1 segment. nullopt when the blob is not TIFF or IFD0 has no usable
// Orientation entry (types BYTE, SHORT, LONG and their signed forms; the first value counts; a later duplicate
// entry wins, as in Pillow's tag dictionary). Damaged blobs give nullopt instead of an error: Pillow would
// raise on some of them, but refusing a photo over broken metadata helps nobody.
std::optional<uint32_t> ExifOrientation(std::span<const uint8_t> blob);

// The Orientation in ImageMagick's "Raw profile type exif" PNG text chunk: a three-line header ("\nexif\n
// <length>") followed by hex digits of an EXIF blob. Pillow 9.4 reads it when a PNG has no eXIf chunk.
std::optional<uint32_t> ExifOrientationFromRawProfile(std::string_view text);

// The Orientation in an XMP packet (`tiff:Orientation="6"` or `<tiff:Orientation>6<`), read as Pillow 9.4 does
// for a PNG's "XML:com.adobe.xmp" text chunk when the EXIF data has none: one digit after the match.
std::optional<uint32_t> XmpOrientation(std::string_view xmp);

// Returns `image` turned upright for an EXIF Orientation value: 2 mirror, 3 rotate 180, 4 flip, 5 transpose,
// 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise (Pillow's FLIP_LEFT_RIGHT, ROTATE_180,
// FLIP_TOP_BOTTOM, TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90). Any other value leaves it unchanged.
RgbImage ApplyExifOrientation(RgbImage image, uint32_t orientation);

}  // namespace glmv
