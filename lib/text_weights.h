// The text decoder's weights as a table: every tensor the config implies, with its checkpoint name and
// shape, visited by one function (ForEachTextTensor) that binding, validation and tests share.
// Weights are f32 views: straight into the mapped file when it holds aligned f32, otherwise widened once
// at load from BF16/F16 into memory owned by WeightStorage.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "io/status.h"
#include "lib/checkpoint.h"
#include "lib/config.h"
#include "simd/quant_layout.h"

namespace glmv {

// The kernels' layout of a packed dtype (IsPacked(t) must hold).
inline simd::QuantKind PackedKind(DType t) {
  return t == DType::kQ4G32 ? simd::QuantKind::kQ4 : t == DType::kQ4NLG32 ? simd::QuantKind::kQ4NL : simd::QuantKind::kQ8;
}

// A view of one tensor; `shape` as in the checkpoint ([out, in] for linears). Either f32 (`data`); or, for
// matrices of a converted .glmv model, packed int4/int8 (`packed`, layout simd/quant_layout.h, dtype
// kQ4G32, kQ4NLG32 or kQ8G32) straight in the mapped file; or, for the vision tower's matrices, bf16 bit
// patterns (`bf16`) straight in the mapped file, widened to f32 by the linear layer as it runs.
struct Weight {
  const float* data = nullptr;
  const uint8_t* packed = nullptr;
  const uint16_t* bf16 = nullptr;
  DType dtype = DType::kF32;  // kF32 (data), a packed dtype (packed) or kBF16 (bf16)
  std::vector<int64_t> shape;
  bool is_packed() const { return packed != nullptr; }
  bool is_bf16() const { return bf16 != nullptr; }
  int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
  int64_t cols() const { return shape.size() < 2 ? 1 : shape[1]; }
};

struct MlpWeights {  // SwiGLU: down · (silu(gate · x) ⊙ (up · x)), no biases
  Weight gate;  // *.gate_proj.weight [width, H]
  Weight up;    // *.up_proj.weight   [width, H]
  Weight down;  // *.down_proj.weight [H, width]
};

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

// Owns widened copies (and keeps the checkpoint mapped) for as long as the views are used.
struct WeightStorage {
  std::unique_ptr<Checkpoint> checkpoint;
  std::vector<std::vector<float>> widened;
  size_t mapped_bytes = 0;   // f32 tensors used in place
  size_t widened_bytes = 0;  // f32 bytes made from BF16/F16 or unaligned data
  size_t packed_bytes = 0;   // int4/int8 matrices used in place
  size_t bf16_bytes = 0;     // bf16 matrices used in place
};

// What a tensor may be bound as besides f32 (which is always possible, widening if need be).
struct BindAllow {
  bool packed = false;  // a packed int4/int8 matrix in place
  bool bf16 = false;    // a bf16 tensor in place (else widened to f32)
};

// Finds `name`, checks its shape and dtype, and points `w` at its f32 data (mapped, or widened into
// `storage`), at its bf16 data in place (when `allow.bf16` and suitably aligned), or, for a packed int4/int8
// matrix (allowed only when `allow.packed`), at its packed bytes after checking their size against the
// layout. Errors name the file, the tensor, what was expected and what was found.
Status BindWeight(const Checkpoint& ckpt, const std::string& name, const std::vector<int64_t>& shape, Weight& w,
                  WeightStorage& storage, BindAllow allow = {});

// Checks every tensor of the table (presence, shape, float dtype) and binds the views. The first problem
// is reported naming the file, the tensor, what was expected and what was found.
Status BindTextWeights(const TextConfig& config, const Checkpoint& ckpt, TextWeights& out, WeightStorage& storage);

}  // namespace glmv
