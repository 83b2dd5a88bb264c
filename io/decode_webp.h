// WebP files to upright RGB through libwebp (Debian's libwebp 1.2: the decoder and its demuxer), with the
// reference loader's conversions (Pillow 9.4 `open`, `exif_transpose`, `convert("RGB")`).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "io/image.h"
#include "io/status.h"

namespace glmv {

// Decodes one WebP held in memory (RIFF "WEBP": lossy VP8, lossless VP8L, or the extended VP8X layout with
// alpha, metadata or animation). `name` only labels error messages. Conversions, as Pillow 9.4 does them:
//  * alpha is dropped without compositing (the stored RGB under transparent pixels is kept);
//  * lossy data is decoded with libwebp's defaults (fancy upsampling), which is what Pillow calls;
//  * an ICC profile is ignored; EXIF orientation is applied from the EXIF chunk ("Exif\0\0" prefix or not).
// Animated WebP: the FIRST frame is returned, drawn at its offset on the canvas, the rest of the canvas black
// (Pillow opens an animation at its first frame, which its animation decoder draws on a transparent-black
// canvas; dropping alpha leaves black). Later frames are never decoded.
// Refused with an error: a canvas of more pixels than limits.max_pixels (checked from the header, before any
// pixel memory: the only large allocation is the RGB result, 3 bytes a pixel), data that ends before the
// file's declared end (truncated), a damaged bitstream, and a frame that does not fit its canvas.
// limits.max_seconds is not checked inside libwebp, which has no progress hook: its decoding time is linear
// in the pixels (no progressive scans, no chunk loops; only the first frame of an animation), so the pixel
// limit bounds it.
Result<RgbImage> DecodeWebp(std::span<const uint8_t> bytes, const std::string& name, const DecodeLimits& limits);

}  // namespace glmv
