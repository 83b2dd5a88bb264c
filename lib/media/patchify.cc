#include "lib/media/patchify.h"

#include <string>

namespace glmv {

float NormalizeSample(uint8_t value, int channel, const PatchifyParams& params) {
  // transformers: rescale multiplies in float64 and casts to float32; normalise casts mean/std to the
  // image dtype (float32) and computes (x - mean) / std in float32.
  float x = params.do_rescale ? static_cast<float>(static_cast<double>(value) * params.rescale_factor)
                              : static_cast<float>(value);
  if (params.do_normalize) x = (x - params.mean[channel]) / params.std[channel];
  return x;
}

Result<Patches> PatchifyFrames(const std::vector<const RgbImage*>& frames, const PatchifyParams& params) {
  const int ps = params.patch_size, m = params.merge_size, tp = params.temporal_patch_size;
  if (ps <= 0 || m <= 0 || tp <= 0) return Status::Error("patchify: patch, merge and temporal sizes must be positive");
  if (frames.empty() || frames.size() % static_cast<size_t>(tp) != 0) {
    return Status::Error("patchify: got " + std::to_string(frames.size()) +
                         " frames, need a positive multiple of temporal_patch_size " + std::to_string(tp));
  }
  const int width = frames[0] ? frames[0]->width : 0, height = frames[0] ? frames[0]->height : 0;
  const int unit = ps * m;
  if (width <= 0 || height <= 0 || width % unit != 0 || height % unit != 0) {
    return Status::Error("patchify: frame size " + std::to_string(width) + "x" + std::to_string(height) +
                         " is not a positive multiple of " + std::to_string(unit));
  }
  for (const RgbImage* f : frames) {
    if (f == nullptr || f->width != width || f->height != height ||
        f->pixels.size() != static_cast<size_t>(width) * static_cast<size_t>(height) * 3) {
      return Status::Error("patchify: all frames must be " + std::to_string(width) + "x" + std::to_string(height) +
                           " RGB images");
    }
  }

  // Every uint8 sample maps to one float per channel: a table gives the same bits as computing each.
  float lut[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) lut[c][v] = NormalizeSample(static_cast<uint8_t>(v), c, params);
  }

  Patches out;
  out.grid_t = static_cast<int64_t>(frames.size()) / tp;
  out.grid_h = height / ps;
  out.grid_w = width / ps;
  const int64_t dim = params.patch_dim();
  out.values.resize(static_cast<size_t>(out.grid_t * out.grid_h * out.grid_w * dim));
  float* row = out.values.data();
  // Row order (transformers' transpose (grid_t, gh/m, gw/m, m, m, C, T, ps, ps)): temporal patch, block
  // row, block column, row in block, column in block. Each row is [C][T][ps][ps].
  for (int64_t t = 0; t < out.grid_t; ++t) {
    for (int64_t bh = 0; bh < out.grid_h / m; ++bh) {
      for (int64_t bw = 0; bw < out.grid_w / m; ++bw) {
        for (int i = 0; i < m; ++i) {
          for (int j = 0; j < m; ++j, row += dim) {
            const int y0 = static_cast<int>((bh * m + i) * ps), x0 = static_cast<int>((bw * m + j) * ps);
            float* dst = row;
            for (int c = 0; c < 3; ++c) {
              for (int k = 0; k < tp; ++k) {
                const RgbImage& f = *frames[static_cast<size_t>(t * tp + k)];
                for (int py = 0; py < ps; ++py) {
                  const uint8_t* src = f.Row(y0 + py) + static_cast<size_t>(x0) * 3 + c;
                  for (int px = 0; px < ps; ++px) *dst++ = lut[c][src[px * 3]];
                }
              }
            }
          }
        }
      }
    }
  }
  return out;
}

}  // namespace glmv
