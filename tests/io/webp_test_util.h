// WebP files made in the test from known pixels with libwebp's own encoder and muxer, so decoding can be
// checked against what went in (shared/media has no WebP). Used by the decoder's tests, the server's tests
// and the fuzz target's seeds. Each function REQUIREs nothing: it returns an empty vector if libwebp fails.
#pragma once

#include <cstddef>  // io/image.h uses size_t without including <cstddef>
#include <cstdint>
#include <vector>

#include "io/image.h"

namespace glmv::test {

// A picture with edges, gradients and noise (deterministic for a seed), so that a decoder that swaps
// channels, rows or frames cannot match by accident.
RgbImage WebpTestPattern(int width, int height, uint32_t seed);

// Lossless WebP (VP8L) of `image`: decodes back bit for bit.
std::vector<uint8_t> EncodeWebpLossless(const RgbImage& image);

// Lossy WebP (VP8) of `image` at `quality` (0..100).
std::vector<uint8_t> EncodeWebpLossy(const RgbImage& image, float quality);

// Lossless WebP with alpha (VP8X + VP8L) of `rgba` ([height][width][4]); `exact` keeps the RGB under fully
// transparent pixels (else the encoder may change it).
std::vector<uint8_t> EncodeWebpLosslessRgba(int width, int height, const std::vector<uint8_t>& rgba, bool exact);

// An animated lossless WebP on a `width` × `height` canvas, one frame per entry of `frames_rgba` (each
// [height][width][4]), 100 ms apart. The encoder crops each frame to what changed (the first one to what
// is not transparent).
std::vector<uint8_t> EncodeWebpAnimation(int width, int height, const std::vector<std::vector<uint8_t>>& frames_rgba);

// `webp` with an EXIF chunk holding `exif` (a TIFF blob, optionally preceded by "Exif\0\0").
std::vector<uint8_t> AddWebpExif(const std::vector<uint8_t>& webp, const std::vector<uint8_t>& exif);

// A little-endian TIFF blob whose IFD0 holds one Orientation entry (SHORT) with `orientation`.
std::vector<uint8_t> OrientationExif(uint16_t orientation);

}  // namespace glmv::test
