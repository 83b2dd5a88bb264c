// JPEG files to upright RGB through libjpeg-turbo, pixel-identical to the reference loader (Pillow 9.4 on
// libjpeg-turbo: ISLOW IDCT, fancy upsampling, Pillow's own CMYK conversion, EXIF orientation applied).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "io/image.h"
#include "io/status.h"

namespace glmv {

// Decodes one JPEG held in memory. `name` only labels error messages. Grey is replicated into R, G and B;
// CMYK and YCCK go through Pillow's naive inverted-CMYK formula (no ICC). Refused with an error: more pixels
// than limits.max_pixels (checked from the header, before any pixel memory), data that ends before the
// picture is complete (Pillow: "image file is truncated"), and entropy data libjpeg can only patch over with
// invented pixels (bad Huffman/arithmetic codes, a segment ending early, lost restart markers). Harmless
// oddities libjpeg merely warns about (junk bytes between segments, an unknown JFIF version, a missing EOI
// after the last row) are accepted, as the reference accepts them.
Result<RgbImage> DecodeJpeg(std::span<const uint8_t> bytes, const std::string& name, const DecodeLimits& limits);

}  // namespace glmv
