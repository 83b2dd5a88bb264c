#include "lib/media/pil_resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/base/parallel.h"

namespace glmv {
namespace {

// Pillow: 8 bits of result, 2 bits of headroom for the negative lobes, within a 32-bit accumulator.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr double kBicubicSupport = 2.0;
constexpr int kChannels = 3;
// Multiply-adds below which a pass stays on one thread: waking threads costs more than small images take.
constexpr size_t kMinParallelWork = size_t{1} << 20;
constexpr int64_t kMaxOutputPixels = int64_t{1} << 28;

// Keys' cubic convolution kernel with a = -0.5 (PIL's choice; many libraries use -0.75).
double BicubicKernel(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// For each output sample of one axis: the first source index, the tap count, and ksize fixed-point
// weights (taps beyond the count are 0).
struct AxisCoeffs {
  int ksize = 0;
  std::vector<int> first;     // [out_size]
  std::vector<int> count;     // [out_size]
  std::vector<int32_t> k;     // [out_size][ksize], 22 fractional bits
};

// Pillow's precompute_coeffs followed by normalize_coeffs_8bpc. `in0`/`in1` are the box edges, floats in
// Pillow; with a full-image box they are 0 and in_size.
AxisCoeffs PrecomputeCoeffs(int in_size, float in0, float in1, int out_size) {
  const double scale = static_cast<double>(in1 - in0) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = kBicubicSupport * filterscale;
  AxisCoeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    // (int) truncates toward zero, as in C; negative values are clamped to 0 right after.
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = BicubicKernel((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      // Round half away from zero, then truncate: normalize_coeffs_8bpc.
      k[x] = v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                   : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

// Pillow's clip8: drop the fraction (arithmetic shift, i.e. floor) and clamp to a byte. The accumulator
// started at 1 << (bits - 1), so this rounds to nearest.
inline uint8_t Clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Rows per parallel chunk so that a chunk holds at least kMinParallelWork multiply-adds.
size_t MinRowsPerChunk(int out_width, int ksize) {
  const size_t per_row = static_cast<size_t>(out_width) * static_cast<size_t>(ksize) * kChannels;
  return std::max<size_t>(1, kMinParallelWork / std::max<size_t>(per_row, 1));
}

// Horizontal pass: out row y (width out_w) from source row y + row_offset.
void ResampleHorizontal(const RgbImage& in, int row_offset, const AxisCoeffs& c, RgbImage& out) {
  const size_t min_rows = MinRowsPerChunk(out.width, c.ksize);
  ParallelFor(static_cast<size_t>(out.height), min_rows, [&](size_t y0, size_t y1, size_t) {
    for (size_t y = y0; y < y1; ++y) {
      const uint8_t* src = in.Row(static_cast<int>(y) + row_offset);
      uint8_t* dst = out.Row(static_cast<int>(y));
      for (int xx = 0; xx < out.width; ++xx) {
        const int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
        const uint8_t* s = src + static_cast<size_t>(c.first[xx]) * kChannels;
        int32_t acc0 = 1 << (kPrecisionBits - 1), acc1 = acc0, acc2 = acc0;
        for (int x = 0; x < c.count[xx]; ++x) {
          acc0 += s[x * 3 + 0] * k[x];
          acc1 += s[x * 3 + 1] * k[x];
          acc2 += s[x * 3 + 2] * k[x];
        }
        dst[xx * 3 + 0] = Clip8(acc0);
        dst[xx * 3 + 1] = Clip8(acc1);
        dst[xx * 3 + 2] = Clip8(acc2);
      }
    }
  });
}

// Vertical pass: out row yy from `in` rows [first[yy] - row_shift, + count[yy]). Integer sums are exact, so
// accumulating whole rows (contiguous, vectorisable) gives Pillow's per-pixel result.
void ResampleVertical(const RgbImage& in, int row_shift, const AxisCoeffs& c, RgbImage& out) {
  const size_t row_bytes = static_cast<size_t>(out.width) * kChannels;
  const size_t min_rows = MinRowsPerChunk(out.width, c.ksize);
  ParallelFor(static_cast<size_t>(out.height), min_rows, [&](size_t y0, size_t y1, size_t) {
    std::vector<int32_t> acc(row_bytes);
    for (size_t yy = y0; yy < y1; ++yy) {
      std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
      const int32_t* k = &c.k[yy * c.ksize];
      const int first = c.first[yy] - row_shift;
      for (int y = 0; y < c.count[yy]; ++y) {
        const uint8_t* src = in.Row(first + y);
        const int32_t ky = k[y];
        for (size_t i = 0; i < row_bytes; ++i) acc[i] += src[i] * ky;
      }
      uint8_t* dst = out.Row(static_cast<int>(yy));
      for (size_t i = 0; i < row_bytes; ++i) dst[i] = Clip8(acc[i]);
    }
  });
}

RgbImage NewImage(int width, int height) {
  RgbImage im;
  im.width = width;
  im.height = height;
  im.pixels.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * kChannels);
  return im;
}

}  // namespace

Result<RgbImage> PilResizeBicubic(const RgbImage& image, int width, int height) {
  const std::string what = "resize " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                           " to " + std::to_string(width) + "x" + std::to_string(height);
  if (image.width <= 0 || image.height <= 0) return Status::Error(what + ": the input image is empty");
  if (width <= 0 || height <= 0) return Status::Error(what + ": the target size must be positive");
  if (image.pixels.size() != static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * 3) {
    return Status::Error(what + ": pixel buffer holds " + std::to_string(image.pixels.size()) +
                         " bytes, not width*height*3");
  }
  // Far beyond anything smart_resize asks for (≤ 5 M pixels for GLM-4.5V); refusing it here keeps a bad
  // size from becoming a multi-gigabyte allocation.
  if (static_cast<int64_t>(width) * height > kMaxOutputPixels) return Status::Error(what + ": target size too large");
  if (width == image.width && height == image.height) return image;  // Image.resize copies

  const float box_w = static_cast<float>(image.width), box_h = static_cast<float>(image.height);
  const bool need_horizontal = width != image.width;
  const bool need_vertical = height != image.height;
  const AxisCoeffs vert = PrecomputeCoeffs(image.height, 0.0f, box_h, height);
  // Only source rows [first_row, last_row) feed the vertical pass: the horizontal pass skips the rest.
  const int first_row = vert.first[0];
  const int last_row = vert.first[height - 1] + vert.count[height - 1];

  RgbImage horizontal;
  const RgbImage* src = &image;
  int row_shift = 0;
  if (need_horizontal) {
    const AxisCoeffs horiz = PrecomputeCoeffs(image.width, 0.0f, box_w, width);
    horizontal = NewImage(width, last_row - first_row);
    ResampleHorizontal(image, first_row, horiz, horizontal);
    src = &horizontal;
    row_shift = first_row;
  }
  if (!need_vertical) return horizontal;  // need_horizontal must hold here: sizes differ
  RgbImage out = NewImage(width, height);
  ResampleVertical(*src, row_shift, vert, out);
  return out;
}

}  // namespace glmv
