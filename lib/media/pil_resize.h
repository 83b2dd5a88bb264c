// Pillow's antialiased BICUBIC resize of an 8-bit RGB image, bit for bit as Pillow 9.4's
// libImaging/Resample.c computes it. The GLM-V image processor resizes with PIL, so matching its uint8
// output exactly is what makes our pixel_values equal to the reference's (README of golden/preprocess).
//
// The arithmetic that has to be reproduced:
//   * separable: a horizontal pass (only over the source rows the vertical pass will read), then a
//     vertical pass; a pass whose size does not change is skipped, and equal sizes copy the image;
//   * the kernel is Keys' cubic with a = -0.5, support 2 scaled by max(in/out, 1) (antialiasing when
//     downscaling); per output sample the weights are normalised to sum 1 in double precision;
//   * weights become fixed point with 22 fractional bits (round half away from zero); each pass adds
//     1 << 21, shifts right by 22 and clips to 0..255, so the intermediate image is uint8.
#pragma once

#include <cstddef>  // io/image.h uses size_t without including <cstddef>

#include "io/image.h"
#include "io/status.h"

namespace glmv {

// Returns `image` resized to width × height as PIL.Image.resize((width, height), Image.BICUBIC) does
// (reducing_gap=None, full-image box). Errors on an empty input or a non-positive target size.
Result<RgbImage> PilResizeBicubic(const RgbImage& image, int width, int height);

}  // namespace glmv
