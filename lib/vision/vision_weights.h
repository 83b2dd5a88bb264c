// The vision tower's weights as a table (spec §3, §6.2), visited by one function shared by binding and
// tests, like the text decoder's. The two convolutions are stored as the matrices the runtime multiplies:
// the patch embedding's Conv3d [hidden, C, T, p, p] is already a row-major [hidden, C·T·p·p] matrix, and
// the downsample Conv2d [out, hidden, m, m] a row-major [out, hidden·m·m] one that multiplies a merge
// block's m×m tokens laid out channel-major (hidden × m·m). Neither is copied at load.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "io/status.h"
#include "lib/model/checkpoint.h"
#include "lib/model/config.h"
#include "lib/model/weight.h"

namespace glmv {

// Every tensor of the vision tower, and only those, is named with this prefix (the memory plan and the
// engine find the tower's bytes in a .glmv file by it).
inline constexpr std::string_view kVisionTensorPrefix = "model.visual.";

struct VisionBlockWeights {
  Weight norm1, norm2;  // blocks.B.norm{1,2}.weight [hidden]
  Weight qkv;           // blocks.B.attn.qkv.weight [3·hidden, hidden] (q; k; v)
  Weight qkv_bias;      // blocks.B.attn.qkv.bias [3·hidden] (only when attention_bias)
  Weight proj;          // blocks.B.attn.proj.weight [hidden, hidden]
  MlpWeights mlp;       // blocks.B.mlp.{gate,up,down}_proj.weight, width out_hidden_size
};

struct VisionWeights {
  Weight patch_embed;       // patch_embed.proj.weight [hidden, C·T·p·p] (viewed from [hidden, C, T, p, p])
  Weight patch_bias;        // patch_embed.proj.bias [hidden]
  Weight post_conv_norm;    // post_conv_layernorm.weight [hidden]
  Weight pos_embed;         // embeddings.position_embedding.weight [S·S, hidden], S = image_size / patch_size
  std::vector<VisionBlockWeights> blocks;
  Weight post_norm;         // post_layernorm.weight [hidden]
  Weight downsample;        // downsample.weight, viewed as [out, hidden·m·m]
  Weight downsample_bias;   // downsample.bias [out]
  Weight merger_proj;       // merger.proj.weight [out, out]
  Weight merger_norm;       // merger.post_projection_norm.weight [out] (LayerNorm)
  Weight merger_norm_bias;  // merger.post_projection_norm.bias [out]
  MlpWeights merger_mlp;    // merger.{gate,up,down}_proj.weight, width intermediate_size
};

// Calls visit(name, expected_checkpoint_shape, Weight&) for every vision tensor.
template <typename Visitor>
void ForEachVisionTensor(const VisionConfig& c, VisionWeights& w, Visitor&& visit) {
  const std::string p(kVisionTensorPrefix);
  const int64_t D = c.hidden_size, O = c.out_hidden_size, ps = c.patch_size, m = c.spatial_merge_size;
  const int64_t side = c.image_size / c.patch_size;
  visit(p + "patch_embed.proj.weight", std::vector<int64_t>{D, c.in_channels, c.temporal_patch_size, ps, ps}, w.patch_embed);
  visit(p + "patch_embed.proj.bias", std::vector<int64_t>{D}, w.patch_bias);
  visit(p + "post_conv_layernorm.weight", std::vector<int64_t>{D}, w.post_conv_norm);
  visit(p + "embeddings.position_embedding.weight", std::vector<int64_t>{side * side, D}, w.pos_embed);
  w.blocks.resize(static_cast<size_t>(c.depth));
  for (int64_t b = 0; b < c.depth; ++b) {
    auto& B = w.blocks[static_cast<size_t>(b)];
    const std::string q = p + "blocks." + std::to_string(b) + ".";
    visit(q + "norm1.weight", std::vector<int64_t>{D}, B.norm1);
    visit(q + "norm2.weight", std::vector<int64_t>{D}, B.norm2);
    visit(q + "attn.qkv.weight", std::vector<int64_t>{3 * D, D}, B.qkv);
    if (c.attention_bias) visit(q + "attn.qkv.bias", std::vector<int64_t>{3 * D}, B.qkv_bias);
    visit(q + "attn.proj.weight", std::vector<int64_t>{D, D}, B.proj);
    visit(q + "mlp.gate_proj.weight", std::vector<int64_t>{O, D}, B.mlp.gate);
    visit(q + "mlp.up_proj.weight", std::vector<int64_t>{O, D}, B.mlp.up);
    visit(q + "mlp.down_proj.weight", std::vector<int64_t>{D, O}, B.mlp.down);
  }
  visit(p + "post_layernorm.weight", std::vector<int64_t>{D}, w.post_norm);
  visit(p + "downsample.weight", std::vector<int64_t>{O, D, m, m}, w.downsample);
  visit(p + "downsample.bias", std::vector<int64_t>{O}, w.downsample_bias);
  visit(p + "merger.proj.weight", std::vector<int64_t>{O, O}, w.merger_proj);
  visit(p + "merger.post_projection_norm.weight", std::vector<int64_t>{O}, w.merger_norm);
  visit(p + "merger.post_projection_norm.bias", std::vector<int64_t>{O}, w.merger_norm_bias);
  visit(p + "merger.gate_proj.weight", std::vector<int64_t>{c.intermediate_size, O}, w.merger_mlp.gate);
  visit(p + "merger.up_proj.weight", std::vector<int64_t>{c.intermediate_size, O}, w.merger_mlp.up);
  visit(p + "merger.down_proj.weight", std::vector<int64_t>{O, c.intermediate_size}, w.merger_mlp.down);
}

// Whether a vision tensor is one the linear layers multiply (and so may be bf16 or packed in a model file):
// tensors of 2+ dims but the position table, which is read as f32 like the norms and biases.
inline bool IsVisionMatrix(const std::string& name, const std::vector<int64_t>& shape) {
  return shape.size() >= 2 && name.find("position_embedding") == std::string::npos;
}

// Checks and binds every vision tensor (errors as BindTextWeights's), then views the two convolutions as
// matrices. Matrices may be bf16 or packed int4/int8 in place; everything else is f32 (widened if need be).
Status BindVisionWeights(const VisionConfig& config, const Checkpoint& ckpt, VisionWeights& out, WeightStorage& storage);

}  // namespace glmv
