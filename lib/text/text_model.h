// The GLM-4.5V text decoder (spec §2): embedding → layers (RMSNorm, GQA attention with partial M-RoPE and
// a KV cache, RMSNorm, dense SwiGLU or MoE) → final RMSNorm → lm_head. f32 arithmetic throughout.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/status.h"
#include "lib/model/config.h"
#include "lib/text/kv_cache.h"
#include "lib/text/moe.h"
#include "lib/text/rope.h"
#include "lib/text/text_weights.h"

namespace glmv {

// Intermediates of one forward call, recorded only when asked for (golden checks, debugging).
// Shapes use n = tokens of the call, H = hidden, E = experts, k = experts per token.
struct TextTrace {
  std::vector<float> layer_input;                       // [n, H]
  std::vector<std::vector<float>> layer_out;            // per layer [n, H]
  std::vector<std::vector<float>> router_logits;        // per layer [n, E] (empty for dense layers)
  std::vector<std::vector<int64_t>> topk_ids;           // per layer [n, k], sorted by expert id per token
  std::vector<std::vector<float>> topk_weights;         // per layer [n, k], in the order of topk_ids
  std::vector<float> final_norm;                        // [n, H]
  RopeTable rope;                                       // cos/sin [n, rotary_dim/2]
};

class TextModel {
 public:
  // Opens a Hugging Face model directory, validates every tensor the config implies and binds the weights.
  static Result<std::unique_ptr<TextModel>> Load(const std::string& dir);

  const ModelConfig& model_config() const { return storage_.checkpoint->config(); }
  const TextConfig& config() const { return model_config().text; }
  const WeightStorage& storage() const { return storage_; }

  KvCache NewCache(size_t capacity_tokens) const;

  // x[i, :] = embed_tokens[ids[i]]; an id outside [0, vocab) is an error naming it.
  Status Embed(std::span<const int64_t> ids, float* x) const;

  // Runs n tokens whose input embeddings are x [n, H] (overwritten) at `positions`, appending them to
  // `cache`. logits: [n, vocab] when all_logits, else [1, vocab] for the last token.
  Status Forward(float* x, size_t n, const MRopePositions& positions, KvCache& cache, bool all_logits,
                 std::vector<float>& logits, TextTrace* trace = nullptr);

  // Golden checks of quantized models: from now on, MoE layer l uses the expert choices per_layer[l]
  // ([n, k] for the n tokens of each Forward call; empty for dense layers or to let the router choose)
  // instead of its own top-k. An empty vector restores normal routing.
  void ForceRouting(std::vector<std::vector<int64_t>> per_layer) { forced_routing_ = std::move(per_layer); }

 private:
  TextModel() = default;
  void Attention(size_t layer, const float* h, size_t n, const RopeTable& rope, KvCache& cache, float* out);

  WeightStorage storage_;
  TextWeights w_;
  std::vector<std::vector<int64_t>> forced_routing_;
  // Scratch reused across calls (grows to the largest batch; the decode loop does not allocate).
  struct Scratch {
    std::vector<float> h, q, k, v, attn, mlp_out, mlp, scores;
    MoeScratch moe;
  } s_;
};

}  // namespace glmv
