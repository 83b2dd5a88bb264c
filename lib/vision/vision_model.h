// The GLM-4.5V vision tower (spec §3): patch embedding, RMSNorm, resampled learned positions, ViT blocks
// with 2-D RoPE and attention inside each image / frame pair, post-norm, the m×m downsample and the
// merger. Input: patches in merge-block order; output: one text-sized embedding per m×m block.
#pragma once

#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "io/status.h"
#include "lib/model/checkpoint.h"
#include "lib/model/config.h"
#include "lib/model/linear.h"
#include "lib/vision/vision_attention.h"
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

// The arithmetic of the tower's linear layers and attention. kAuto: bf16 (BF16Math::kBF16: bf16 products summed
// in f32) when every matrix of the tower is stored bf16 and the CPU multiplies bf16 in hardware, else f32.
// kF32: f32 whatever the storage (bf16 weights widened). kBF16: bf16 on a tower stored bf16 even without the
// hardware (oneDNN then emulates it, slowly); a tower not stored bf16 is refused.
enum class VisionMath : uint8_t { kAuto, kF32, kBF16 };
Result<VisionMath> ParseVisionMath(std::string_view name);  // "auto" / "f32" / "bf16"

// Where an encode's time went, summed over its stages (seconds, wall clock): the linear layers (GEMMs,
// with the rounding of their inputs to bf16), attention, and everything else (norms, rope, residuals, the
// downsample's transpose, positions).
struct VisionTimes {
  double linear = 0, attention = 0, other = 0;
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
  // A block's buffers, sized at the first block and reused by the others (zero-filling and faulting in
  // ~200 MB per block took a third of a 1024² encode): normed input, q/k/v, attention out, sublayer out.
  std::vector<float> normed, qkv, attn, delta;
  std::vector<uint16_t> qkv_bf16;  // q, k and v rounded to bf16 (bf16 arithmetic)
  VisionAttentionBuffers attention_bf16;
  VisionTimes times;
  std::vector<float> features;               // the result [N / m², out_hidden], once done()
  size_t next_stage = 0, stages = 0;
  bool done() const { return next_stage == stages; }
};

class VisionModel {
 public:
  // Binds the vision tensors of `ckpt` (which must outlive the model) and settles the arithmetic.
  static Result<std::unique_ptr<VisionModel>> Create(const ModelConfig& config, const Checkpoint& ckpt,
                                                     VisionMath math = VisionMath::kAuto);

  const VisionConfig& config() const { return config_; }
  // Values per patch row: in_channels × temporal_patch_size × patch_size² (1176 for GLM-4.5V).
  int64_t patch_values() const;
  // How the weights are held: in place (f32, bf16, packed) or widened at load.
  const WeightStorage& storage() const { return storage_; }
  // The arithmetic settled at Create: kF32 or kBF16.
  BF16Math math() const { return math_; }
  const char* math_name() const { return math_ == BF16Math::kBF16 ? "bf16" : "f32"; }

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
  void Block(LinearContext& cx, const VisionBlockWeights& b, VisionEncoding& e) const;

  VisionConfig config_;
  VisionWeights w_;
  WeightStorage storage_;  // widened tensors, if any (the checkpoint is the caller's)
  BF16Math math_ = BF16Math::kF32;
};

}  // namespace glmv
