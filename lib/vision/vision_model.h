// The GLM-4.5V vision tower (spec §3): patch embedding, RMSNorm, resampled learned positions, ViT blocks
// with 2-D RoPE and attention inside each image / frame pair, post-norm, the m×m downsample and the
// merger. Input: patches in merge-block order; output: one text-sized embedding per m×m block.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "io/status.h"
#include "lib/model/checkpoint.h"
#include "lib/model/config.h"
#include "lib/model/linear.h"
#include "lib/vision/vision_embed.h"
#include "lib/vision/vision_weights.h"

namespace glmv {

// Intermediates, concatenated over all grids in order (shapes: N patches, M = N/m² tokens).
struct VisionTrace {
  std::vector<int64_t> position_ids;          // [N, 2] (row, col)
  std::vector<float> patch_embed;             // [N, hidden]
  std::vector<float> post_conv_norm;          // [N, hidden]
  std::vector<float> with_pos_embed;          // [N, hidden]
  std::vector<std::vector<float>> block_out;  // per block [N, hidden]
  std::vector<float> post_norm;               // [N, hidden]
  std::vector<float> downsample;              // [M, out_hidden]
  std::vector<float> merged;                  // [M, out_hidden]
};

// An encode in progress, advanced one stage at a time by VisionModel::EncodeStage: the patch embedding with
// positions, then each ViT block, then the post-norm, downsample and merger. The engine runs one stage per
// scheduler turn, so a large image never stalls other sequences for its whole encode.
struct VisionEncoding {
  std::vector<float> pixels;  // [N, patch_values] (freed after the first stage)
  std::vector<VisionGrid> grids;
  std::vector<size_t> starts;  // segment starts (one segment per frame pair), N at the end
  std::vector<int64_t> rc;     // [N, 2] patch (row, col) in merge-block order, per segment
  std::vector<std::pair<int64_t, int64_t>> segment_hw;
  std::vector<float> z, cos, sin, scratch;  // hidden states [N, hidden]; 2-D rope tables [N, head_dim/2]
  std::vector<float> features;               // the result [N / m², out_hidden], once done()
  size_t next_stage = 0, stages = 0;
  bool done() const { return next_stage == stages; }
};

class VisionModel {
 public:
  // Binds the vision tensors of `ckpt` (which must outlive the model).
  static Result<std::unique_ptr<VisionModel>> Create(const ModelConfig& config, const Checkpoint& ckpt);

  const VisionConfig& config() const { return config_; }
  // Values per patch row: in_channels × temporal_patch_size × patch_size² (1176 for GLM-4.5V).
  int64_t patch_values() const;
  // How the weights are held: in place (f32, bf16, packed) or widened at load.
  const WeightStorage& storage() const { return storage_; }

  // pixels: [N, patch_values()] for `grids` in order; a grid with t > 1 (a video) is run as t separate
  // frame pairs. Returns [N / m², out_hidden_size].
  Result<std::vector<float>> Encode(std::span<const float> pixels, std::span<const VisionGrid> grids,
                                    VisionTrace* trace = nullptr) const;

  // Encode in stages (the same arithmetic): BeginEncode checks the input; each EncodeStage runs the next
  // stage (stage_count() in all: embedding, one per block, merger); e.features holds the result when done.
  Result<VisionEncoding> BeginEncode(std::vector<float> pixels, std::vector<VisionGrid> grids) const;
  void EncodeStage(VisionEncoding& e, LinearContext& cx, VisionTrace* trace = nullptr) const;
  size_t stage_count() const { return w_.blocks.size() + 2; }

 private:
  VisionModel() = default;
  void Block(LinearContext& cx, const VisionBlockWeights& b, float* z, size_t n, std::span<const size_t> segment_starts,
             const std::vector<float>& cos, const std::vector<float>& sin, std::vector<float>& scratch) const;

  VisionConfig config_;
  VisionWeights w_;
  WeightStorage storage_;  // widened tensors, if any (the checkpoint is the caller's)
};

}  // namespace glmv
