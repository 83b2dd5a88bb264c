// Typed, validated model configuration read from a Hugging Face config.json. Every dimension the runtime
// uses comes from here; model code has no size literals.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "io/status.h"

namespace glmv {

// `text_config` of glm4v_moe (GLM-4.5V) — the GLM-4.5-Air-shaped MoE decoder (spec §1.2).
struct TextConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;           // H
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;              // from the config; falls back to H / heads as the reference does
  bool attention_bias = true;        // bias on q, k, v (never on o)
  int64_t intermediate_size = 0;     // dense MLP width (layers < first_k_dense_replace)
  int64_t first_k_dense_replace = 0;
  int64_t moe_intermediate_size = 0; // per routed expert; shared width = this × n_shared_experts
  int64_t n_routed_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t n_shared_experts = 0;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  bool norm_topk_prob = true;
  double routed_scaling_factor = 1.0;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  double partial_rotary_factor = 0.5;
  std::vector<int64_t> mrope_section;  // frequencies per (t, h, w); sums to rotary_dim / 2
  int64_t max_position_embeddings = 0;
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = -1;
  bool tie_word_embeddings = false;

  int64_t rotary_dim() const { return static_cast<int64_t>(static_cast<double>(head_dim) * partial_rotary_factor); }
  int64_t q_width() const { return num_attention_heads * head_dim; }
  int64_t kv_width() const { return num_key_value_heads * head_dim; }
  bool IsDenseLayer(int64_t layer) const { return layer < first_k_dense_replace; }
  int64_t shared_width() const { return moe_intermediate_size * n_shared_experts; }
};

// `vision_config` (spec §1.3). Parsed and validated now; the vision tower arrives with issue 4.
struct VisionConfig {
  int64_t depth = 0;
  int64_t hidden_size = 0;
  int64_t num_heads = 0;
  int64_t intermediate_size = 0;  // merger MLP width only
  int64_t out_hidden_size = 0;    // = text H; also the ViT block MLP width
  int64_t patch_size = 14;
  int64_t temporal_patch_size = 2;
  int64_t spatial_merge_size = 2;
  int64_t image_size = 336;
  int64_t in_channels = 3;
  bool attention_bias = false;
  double rms_norm_eps = 1e-5;
};

struct ModelConfig {
  std::string model_type;  // "glm4v_moe"
  TextConfig text;
  bool has_vision = false;
  VisionConfig vision;
  int64_t image_token_id = -1;
  int64_t video_token_id = -1;
  int64_t image_start_token_id = -1, image_end_token_id = -1;
  int64_t video_start_token_id = -1, video_end_token_id = -1;
};

// Parses config.json text; `source` names the file in error messages.
Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& source);
Result<ModelConfig> LoadModelConfig(const std::string& path);

}  // namespace glmv
