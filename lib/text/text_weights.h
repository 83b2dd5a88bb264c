// The text decoder's weights as a table: every tensor the config implies, with its checkpoint name and
// shape, visited by one function (ForEachTextTensor) that binding, validation and tests share.
// Weights are f32 views: straight into the mapped file when it holds aligned f32, otherwise widened once
// at load from BF16/F16 into memory owned by WeightStorage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/status.h"
#include "lib/model/checkpoint.h"
#include "lib/model/config.h"
#include "lib/model/weight.h"

namespace glmv {

struct TextLayerWeights {
  Weight input_norm;      // layers.L.input_layernorm.weight [H]
  Weight post_attn_norm;  // layers.L.post_attention_layernorm.weight [H]
  Weight q, q_bias;       // self_attn.q_proj.{weight [heads·hd, H], bias [heads·hd]}
  Weight k, k_bias;       // self_attn.k_proj.{weight [kv·hd, H], bias [kv·hd]}
  Weight v, v_bias;       // self_attn.v_proj.{weight [kv·hd, H], bias [kv·hd]}
  Weight o;               // self_attn.o_proj.weight [H, heads·hd] (no bias)
  bool dense = false;
  MlpWeights mlp;                   // dense layers: mlp.{gate,up,down}_proj, width intermediate_size
  Weight router;                    // MoE: mlp.gate.weight [E, H]
  Weight correction_bias;           // MoE: mlp.gate.e_score_correction_bias [E] (selection only)
  std::vector<MlpWeights> experts;  // MoE: mlp.experts.{e}.*, width moe_intermediate_size
  bool has_shared = false;
  MlpWeights shared;                // MoE: mlp.shared_experts.*, width moe_intermediate_size × n_shared
};

struct TextWeights {
  Weight embed;       // model.language_model.embed_tokens.weight [vocab, H]
  Weight final_norm;  // model.language_model.norm.weight [H]
  Weight lm_head;     // lm_head.weight [vocab, H] (= embed when tie_word_embeddings)
  std::vector<TextLayerWeights> layers;
};

// Calls visit(name, expected_shape, Weight&) for every tensor of the text decoder, in checkpoint order.
// `w.layers` is sized from the config first.
template <typename Visitor>
void ForEachTextTensor(const TextConfig& c, TextWeights& w, Visitor&& visit) {
  const std::string p = "model.language_model.";
  const int64_t H = c.hidden_size;
  w.layers.resize(static_cast<size_t>(c.num_hidden_layers));
  visit(p + "embed_tokens.weight", std::vector<int64_t>{c.vocab_size, H}, w.embed);
  auto mlp = [&](const std::string& base, int64_t width, MlpWeights& m) {
    visit(base + "gate_proj.weight", std::vector<int64_t>{width, H}, m.gate);
    visit(base + "up_proj.weight", std::vector<int64_t>{width, H}, m.up);
    visit(base + "down_proj.weight", std::vector<int64_t>{H, width}, m.down);
  };
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    auto& L = w.layers[static_cast<size_t>(l)];
    const std::string b = p + "layers." + std::to_string(l) + ".";
    visit(b + "input_layernorm.weight", std::vector<int64_t>{H}, L.input_norm);
    visit(b + "post_attention_layernorm.weight", std::vector<int64_t>{H}, L.post_attn_norm);
    visit(b + "self_attn.q_proj.weight", std::vector<int64_t>{c.q_width(), H}, L.q);
    visit(b + "self_attn.k_proj.weight", std::vector<int64_t>{c.kv_width(), H}, L.k);
    visit(b + "self_attn.v_proj.weight", std::vector<int64_t>{c.kv_width(), H}, L.v);
    if (c.attention_bias) {
      visit(b + "self_attn.q_proj.bias", std::vector<int64_t>{c.q_width()}, L.q_bias);
      visit(b + "self_attn.k_proj.bias", std::vector<int64_t>{c.kv_width()}, L.k_bias);
      visit(b + "self_attn.v_proj.bias", std::vector<int64_t>{c.kv_width()}, L.v_bias);
    }
    visit(b + "self_attn.o_proj.weight", std::vector<int64_t>{H, c.q_width()}, L.o);
    L.dense = c.IsDenseLayer(l);
    if (L.dense) {
      mlp(b + "mlp.", c.intermediate_size, L.mlp);
      continue;
    }
    visit(b + "mlp.gate.weight", std::vector<int64_t>{c.n_routed_experts, H}, L.router);
    visit(b + "mlp.gate.e_score_correction_bias", std::vector<int64_t>{c.n_routed_experts}, L.correction_bias);
    L.experts.resize(static_cast<size_t>(c.n_routed_experts));
    for (int64_t e = 0; e < c.n_routed_experts; ++e) {
      mlp(b + "mlp.experts." + std::to_string(e) + ".", c.moe_intermediate_size, L.experts[static_cast<size_t>(e)]);
    }
    L.has_shared = c.n_shared_experts > 0;
    if (L.has_shared) mlp(b + "mlp.shared_experts.", c.shared_width(), L.shared);
  }
  visit(p + "norm.weight", std::vector<int64_t>{H}, w.final_norm);
  if (!c.tie_word_embeddings) visit("lm_head.weight", std::vector<int64_t>{c.vocab_size, H}, w.lm_head);
}

// Checks every tensor of the table (presence, shape, float dtype) and binds the views. The first problem
// is reported naming the file, the tensor, what was expected and what was found.
Status BindTextWeights(const TextConfig& config, const Checkpoint& ckpt, TextWeights& out, WeightStorage& storage);

}  // namespace glmv
