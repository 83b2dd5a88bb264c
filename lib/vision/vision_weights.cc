#include "lib/vision/vision_weights.h"

namespace glmv {

Status BindVisionWeights(const VisionConfig& c, const Checkpoint& ckpt, VisionWeights& out, WeightStorage& storage) {
  Status status;
  ForEachVisionTensor(c, out, [&](const std::string& name, const std::vector<int64_t>& shape, Weight& w) {
    // The matrices the linear layers multiply may stay bf16 (or packed) in the mapped file.
    const bool matrix = IsVisionMatrix(name, shape);
    if (status.ok()) status = BindWeight(ckpt, name, shape, w, storage, {.packed = matrix, .bf16 = matrix});
  });
  GLMV_RETURN_IF_ERROR(status);
  const int64_t D = c.hidden_size, O = c.out_hidden_size, m = c.spatial_merge_size;
  // Conv3d with kernel = stride = its whole input: one row of the weight per output channel.
  out.patch_embed.shape = {D, c.in_channels * c.temporal_patch_size * c.patch_size * c.patch_size};
  // Conv2d [O, D, m, m] with kernel = stride = m: one row per output channel, column (ch·m + dy)·m + dx;
  // the encoder lays each merge block's activations out in that order (VisionModel::Encode).
  out.downsample.shape = {O, D * m * m};
  return Status::Ok();
}

}  // namespace glmv
