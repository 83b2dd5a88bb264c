// The GLM-4.5V text decoder (spec §2): embedding → layers (RMSNorm, GQA attention with partial M-RoPE over
// paged keys/values, RMSNorm, dense SwiGLU or MoE) → final RMSNorm → lm_head. f32 arithmetic throughout.
// The model is immutable after load: one forward call runs the rows of several sequences (each tagged by its
// KV sequence and positions), reading every weight once for all of them; its scratch is the caller's.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/status.h"
#include "lib/model/config.h"
#include "lib/model/linear.h"
#include "lib/text/attention.h"
#include "lib/text/expert_prediction.h"
#include "lib/text/kv_cache.h"
#include "lib/text/moe.h"
#include "lib/text/rope.h"
#include "lib/text/text_weights.h"

namespace glmv {

// Intermediates of one forward call, recorded only when asked for (golden checks, debugging).
// Shapes use n = rows of the call, H = hidden, E = experts, k = experts per token.
struct TextTrace {
  std::vector<float> layer_input;                       // [n, H]
  std::vector<std::vector<float>> layer_out;            // per layer [n, H]
  std::vector<std::vector<float>> router_logits;        // per layer [n, E] (empty for dense layers)
  std::vector<std::vector<int64_t>> topk_ids;           // per layer [n, k], sorted by expert id per token
  std::vector<std::vector<float>> topk_weights;         // per layer [n, k], in the order of topk_ids
  std::vector<float> final_norm;                        // [rows with logits, H]
  RopeTable rope;                                       // cos/sin [n, rotary_dim/2]
};

// The parts of a forward call, in the order they run within a layer; an observer hears each one end.
enum class ForwardPart : uint8_t {
  kNormsResidualRope, kQkv, kAttentionCore, kOProj, kDenseMlp, kRouter, kExperts, kLmHead, kCount
};
const char* ForwardPartName(ForwardPart part);  // "qkv_proj", "attention_core", ...

// Hears the forward's parts (per-part timing, traces); the forward itself exists once.
class ForwardObserver {
 public:
  virtual ~ForwardObserver() = default;
  // `layer` is the layer the part belongs to (the layer count for the final norm and lm_head).
  virtual void PartDone(ForwardPart part, size_t layer) = 0;
};

// Scratch of forward calls, owned by the caller (an engine's runtime context, a tool): grows to the largest
// call, then is reused, so steady decoding does not allocate.
struct ForwardScratch {
  LinearContext linear;                   // every linear layer's buffers and oneDNN primitives
  std::vector<float> h, q, k, v, attn, mlp_out, mlp, last;
  AttentionScratch attention_scratch;     // page pointers and online-softmax state of CausalAttention
  std::vector<ActQuant> acts;             // [n] per row
  std::vector<AttentionRows> attention;   // per group
  RopeTable rope;
  MoeScratch moe;
  ExpertPrediction prediction;            // the next layer's experts, when the expert source prefetches
};

// Which logits a group of rows wants back.
enum class LogitsWanted : uint8_t { kNone, kLast, kAll };

// One sequence's rows in a forward call: the next `n` rows of x, at positions kv->length() onwards of its
// keys and values (already reserved with kv->Reserve(n); the call advances kv->length() by n).
struct ForwardGroup {
  KvSequence* kv = nullptr;
  size_t n = 0;
  bool decode = false;  // decode rows (activation precision by kind of row: ActQuantFor)
  LogitsWanted logits = LogitsWanted::kLast;
};

struct ForwardOptions {
  ActPrecision precision = ActPrecision::kAuto;
  // Golden checks of quantized models: MoE layer l uses the expert choices (*forced_routing)[l] ([n, k] for
  // the n rows of the call; empty for dense layers or to let the router choose) instead of its own top-k.
  const std::vector<std::vector<int64_t>>* forced_routing = nullptr;
  TextTrace* trace = nullptr;
  ForwardObserver* observer = nullptr;
  ExpertSource* experts = nullptr;  // routed experts; null: the model's mapped ones
};

// One sequence alone, with its own pool and scratch: golden checks, tools and tests that run one prompt.
struct KvCache {
  std::unique_ptr<KvPool> pool;
  KvSequence seq;  // declared after pool: destroyed before it
  std::unique_ptr<ForwardScratch> scratch;
  size_t length() const { return seq.length(); }

  KvCache() = default;
  KvCache(KvCache&&) noexcept = default;
  // The old sequence gives its pages back to the old pool before that pool goes.
  KvCache& operator=(KvCache&& other) noexcept {
    seq = KvSequence();
    pool = std::move(other.pool);
    seq = std::move(other.seq);
    scratch = std::move(other.scratch);
    return *this;
  }
};

class TextModel {
 public:
  // Opens a Hugging Face model directory, validates every tensor the config implies and binds the weights.
  static Result<std::unique_ptr<TextModel>> Load(const std::string& dir);

  const ModelConfig& model_config() const { return storage_.checkpoint->config(); }
  const TextConfig& config() const { return model_config().text; }
  const WeightStorage& storage() const { return storage_; }
  const TextWeights& weights() const { return w_; }
  // Bytes of keys and values one token takes over all layers.
  size_t KvBytesPerToken(KvType type = KvType::kF32) const;

  // A single sequence of at most `capacity_tokens`, with its own pool sized to it.
  Result<KvCache> NewCache(size_t capacity_tokens, size_t page_tokens = 16, KvType type = KvType::kF32) const;

  // x[i, :] = embed_tokens[ids[i]]; an id outside [0, vocab) is an error naming it.
  Status Embed(std::span<const int64_t> ids, float* x) const;

  // Runs the rows of `groups` (in order; Σ n rows) whose input embeddings are x [rows, H] (overwritten) at
  // `positions` ([rows]), appending their keys and values to each group's sequence. logits: the wanted rows'
  // logits, group by group, [·, vocab].
  Status Forward(ForwardScratch& scratch, float* x, const MRopePositions& positions, std::span<const ForwardGroup> groups,
                 const ForwardOptions& options, std::vector<float>& logits) const;

  // One sequence alone (`cache` reserves its own room): logits [n, vocab] when all_logits, else [1, vocab].
  Status Forward(float* x, size_t n, const MRopePositions& positions, KvCache& cache, bool all_logits,
                 std::vector<float>& logits, const ForwardOptions& options = {}, bool decode = false) const;

 private:
  TextModel() = default;
  void Attention(ForwardScratch& s, size_t layer, size_t n, std::span<const ForwardGroup> groups, float* out,
                 ForwardObserver* observer) const;

  WeightStorage storage_;
  TextWeights w_;
  // Views of the mapped experts. Stateless (Acquire only looks up a view), hence usable from const methods
  // on any thread.
  mutable MappedExperts mapped_experts_;
};

}  // namespace glmv
