#include "lib/vision_weights.h"

namespace glmv {

Status BindVisionWeights(const VisionConfig& c, const Checkpoint& ckpt, VisionWeights& out, WeightStorage& storage) {
  Status status;
  ForEachVisionTensor(c, out, [&](const std::string& name, const std::vector<int64_t>& shape, Weight& w) {
    if (status.ok()) status = BindWeight(ckpt, name, shape, w, storage);
  });
  GLMV_RETURN_IF_ERROR(status);
  const int64_t D = c.hidden_size, O = c.out_hidden_size, m = c.spatial_merge_size;
  // Conv3d with kernel = stride = its whole input: one row of the weight per output channel.
  out.patch_embed.shape = {D, c.in_channels * c.temporal_patch_size * c.patch_size * c.patch_size};
  // Conv2d [O, D, m, m] → [O, m·m·D] with column (dy·m + dx)·D + c, matching tokens concatenated in
  // merge-block order (token k of a block sits at dy = k / m, dx = k % m).
  auto& buf = storage.widened.emplace_back(static_cast<size_t>(O * m * m * D));
  const float* src = out.downsample.data;
  for (int64_t o = 0; o < O; ++o) {
    for (int64_t ch = 0; ch < D; ++ch) {
      for (int64_t k = 0; k < m * m; ++k) {
        buf[static_cast<size_t>(o * m * m * D + k * D + ch)] = src[((o * D + ch) * m + k / m) * m + k % m];
      }
    }
  }
  storage.widened_bytes += buf.size() * sizeof(float);
  out.downsample.data = buf.data();
  out.downsample.shape = {O, m * m * D};
  return Status::Ok();
}

}  // namespace glmv
