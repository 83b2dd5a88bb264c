#include "lib/text/text_model.h"

#include <algorithm>

#include "lib/text/attention.h"
#include "lib/model/linear.h"
#include "lib/base/parallel.h"
#include "simd/kernels.h"
#include "simd/quant_layout.h"

namespace glmv {
namespace {

// Copies one MoE layer's router logits and choices into the trace; choices sorted by expert id per token
// (the golden vectors' convention).
void RecordRouting(const TextConfig& c, size_t n, const MoeScratch& moe, TextTrace& trace, size_t layer) {
  const size_t E = static_cast<size_t>(c.n_routed_experts), k = static_cast<size_t>(c.num_experts_per_tok);
  trace.router_logits[layer].assign(moe.router_logits.begin(), moe.router_logits.begin() + n * E);
  auto& ids = trace.topk_ids[layer];
  auto& weights = trace.topk_weights[layer];
  ids.resize(n * k);
  weights.resize(n * k);
  std::vector<size_t> order(k);
  for (size_t t = 0; t < n; ++t) {
    for (size_t i = 0; i < k; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return moe.ids[t * k + a] < moe.ids[t * k + b]; });
    for (size_t i = 0; i < k; ++i) {
      ids[t * k + i] = moe.ids[t * k + order[i]];
      weights[t * k + i] = moe.weights[t * k + order[i]];
    }
  }
}

}  // namespace

Result<std::unique_ptr<TextModel>> TextModel::Load(const std::string& dir) {
  std::unique_ptr<TextModel> m(new TextModel());
  GLMV_ASSIGN_OR_RETURN(m->storage_.checkpoint, Checkpoint::Open(dir));
  GLMV_RETURN_IF_ERROR(BindTextWeights(m->config(), *m->storage_.checkpoint, m->w_, m->storage_));
  return m;
}

KvCache TextModel::NewCache(size_t capacity_tokens) const {
  return KvCache(static_cast<size_t>(config().num_hidden_layers), capacity_tokens,
                 static_cast<size_t>(config().kv_width()));
}

Status TextModel::Embed(std::span<const int64_t> ids, float* x) const {
  const size_t H = static_cast<size_t>(config().hidden_size);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= config().vocab_size) {
      return Status::Error("token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                           " is outside the vocabulary [0, " + std::to_string(config().vocab_size) + ")");
    }
    if (w_.embed.is_packed()) {
      const auto kind = PackedKind(w_.embed.dtype);
      simd::DequantizeRow(kind, w_.embed.packed, H, static_cast<size_t>(ids[i]), x + i * H);
    } else {
      std::copy_n(w_.embed.data + static_cast<size_t>(ids[i]) * H, H, x + i * H);
    }
  }
  return Status::Ok();
}

void TextModel::Attention(size_t layer, const float* h, size_t n, const RopeTable& rope, KvCache& cache, float* out) {
  const TextConfig& c = config();
  const auto& L = w_.layers[layer];
  const size_t heads = static_cast<size_t>(c.num_attention_heads), kv_heads = static_cast<size_t>(c.num_key_value_heads);
  const size_t hd = static_cast<size_t>(c.head_dim);
  const size_t q_width = heads * hd, kv_width = kv_heads * hd;
  const size_t start = cache.length;
  s_.q.resize(n * q_width);
  float* k_rows = cache.k[layer].data() + start * kv_width;  // new keys and values go straight to the cache
  float* v_rows = cache.v[layer].data() + start * kv_width;
  Linear(L.q, c.attention_bias ? &L.q_bias : nullptr, h, n, s_.q.data());
  Linear(L.k, c.attention_bias ? &L.k_bias : nullptr, h, n, k_rows);
  Linear(L.v, c.attention_bias ? &L.v_bias : nullptr, h, n, v_rows);
  // Partial rotary: the first rotary_dim dims of every q and k head rotate; the rest pass through.
  for (size_t i = 0; i < n; ++i) {
    const float* cs = rope.cos.data() + i * rope.half;
    const float* sn = rope.sin.data() + i * rope.half;
    for (size_t hh = 0; hh < heads; ++hh) simd::RotateHalf(s_.q.data() + i * q_width + hh * hd, cs, sn, rope.half);
    for (size_t hh = 0; hh < kv_heads; ++hh) simd::RotateHalf(k_rows + i * kv_width + hh * hd, cs, sn, rope.half);
  }
  s_.attn.resize(n * q_width);
  CausalAttention(c, s_.q.data(), n, start, cache.k[layer].data(), cache.v[layer].data(), s_.attn.data(), s_.scores);
  Linear(L.o, nullptr, s_.attn.data(), n, out);
}

Status TextModel::Forward(float* x, size_t n, const MRopePositions& positions, KvCache& cache, bool all_logits,
                          std::vector<float>& logits, TextTrace* trace) {
  const TextConfig& c = config();
  if (n == 0) return Status::Error("forward called with no tokens");
  if (positions.size() != n) return Status::Error("positions do not match the token count");
  if (cache.length + n > cache.capacity) {
    return Status::Error("context full: " + std::to_string(cache.length) + " + " + std::to_string(n) +
                         " tokens exceed the cache capacity of " + std::to_string(cache.capacity));
  }
  const size_t H = static_cast<size_t>(c.hidden_size);
  const size_t layers = static_cast<size_t>(c.num_hidden_layers);
  const float eps = static_cast<float>(c.rms_norm_eps);
  const RopeTable rope = BuildTextRope(c, positions);
  if (trace) {
    *trace = TextTrace();
    trace->layer_input.assign(x, x + n * H);
    trace->layer_out.resize(layers);
    trace->router_logits.resize(layers);
    trace->topk_ids.resize(layers);
    trace->topk_weights.resize(layers);
    trace->rope = rope;
  }
  s_.h.resize(n * H);
  s_.mlp_out.resize(n * H);
  for (size_t l = 0; l < layers; ++l) {
    const auto& L = w_.layers[l];
    for (size_t i = 0; i < n; ++i) simd::RmsNorm(x + i * H, L.input_norm.data, eps, s_.h.data() + i * H, H);
    Attention(l, s_.h.data(), n, rope, cache, s_.mlp_out.data());
    for (size_t i = 0; i < n * H; ++i) x[i] += s_.mlp_out[i];
    for (size_t i = 0; i < n; ++i) simd::RmsNorm(x + i * H, L.post_attn_norm.data, eps, s_.h.data() + i * H, H);
    if (L.dense) {
      SwiGlu(L.mlp, s_.h.data(), n, s_.mlp_out.data(), s_.mlp);
    } else {
      const int64_t* forced = nullptr;
      if (l < forced_routing_.size() && !forced_routing_[l].empty()) {
        const auto& ids = forced_routing_[l];
        const size_t k = static_cast<size_t>(c.num_experts_per_tok);
        if (ids.size() != n * k) {
          return Status::Error("forced routing of layer " + std::to_string(l) + " has " + std::to_string(ids.size()) +
                               " expert ids, expected " + std::to_string(n) + " tokens × " + std::to_string(k));
        }
        for (int64_t e : ids) {
          if (e < 0 || e >= c.n_routed_experts) {
            return Status::Error("forced routing of layer " + std::to_string(l) + ": expert id " + std::to_string(e) +
                                 " outside [0, " + std::to_string(c.n_routed_experts) + ")");
          }
        }
        forced = ids.data();
      }
      MoeForward(c, L, s_.h.data(), n, s_.mlp_out.data(), s_.moe, forced);
    }
    for (size_t i = 0; i < n * H; ++i) x[i] += s_.mlp_out[i];
    if (trace) {
      trace->layer_out[l].assign(x, x + n * H);
      if (!L.dense) RecordRouting(c, n, s_.moe, *trace, l);
    }
  }
  cache.length += n;

  // Final norm and lm_head, for every token or only the last.
  const size_t first = all_logits ? 0 : n - 1;
  const size_t rows = n - first;
  for (size_t i = first; i < n; ++i) simd::RmsNorm(x + i * H, w_.final_norm.data, eps, s_.h.data() + (i - first) * H, H);
  if (trace) trace->final_norm.assign(s_.h.begin(), s_.h.begin() + rows * H);
  logits.resize(rows * static_cast<size_t>(c.vocab_size));
  Linear(w_.lm_head, nullptr, s_.h.data(), rows, logits.data());
  return Status::Ok();
}

}  // namespace glmv
