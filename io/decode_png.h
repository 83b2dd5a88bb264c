// PNG files to upright RGB through libpng, with the reference loader's conversions (Pillow 9.4 `open`,
// `exif_transpose`, `convert("RGB")`).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "io/image.h"
#include "io/status.h"

namespace glmv {

// Decodes one PNG held in memory. `name` only labels error messages. Conversions, all as Pillow 9.4 does them:
//  * alpha (RGBA, grey+alpha) is dropped without compositing; tRNS transparency is ignored;
//  * palette indices are looked up in PLTE; grey of 1, 2 and 4 bits is scaled to 0..255 and replicated;
//  * 16-bit RGB(A) and grey+alpha keep the high byte of each sample;
//  * 16-bit grey (no alpha) is CLIPPED to 0..255, not scaled: Pillow opens it as mode "I" and convert("RGB")
//    clips, so a 16-bit gradient comes out almost white. Chosen to equal the reference bit for bit;
//  * gAMA, iCCP, sRGB, sBIT are ignored; EXIF orientation is applied from an eXIf chunk, else from a
//    "Raw profile type exif" text chunk, else from XMP tiff:Orientation in an "XML:com.adobe.xmp" chunk.
// Refused with an error: more pixels than limits.max_pixels (checked after IHDR, before any pixel memory),
// truncation, a bad CRC in any chunk, broken zlib data, a missing IEND, and a palette index beyond PLTE. The
// last two are stricter than Pillow (which reads such files) so that damaged files fail loudly.
Result<RgbImage> DecodePng(std::span<const uint8_t> bytes, const std::string& name, const DecodeLimits& limits);

}  // namespace glmv
