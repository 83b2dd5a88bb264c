#include "lib/text/text_model.h"

#include <algorithm>

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

// While layer l computes, the experts layer l + 1 will likely pick are read ahead: its router on layer l's
// MLP input (`h`, n rows). Only for sources that prefetch: the mapped path does not pay for the router pass.
void PrefetchNextLayer(const TextConfig& c, const TextWeights& w, size_t l, const float* h, size_t n,
                       ExpertSource& experts, ForwardScratch& s) {
  if (!experts.wants_prefetch() || l + 1 >= w.layers.size() || w.layers[l + 1].dense) return;
  experts.Prefetch(l + 1, PredictExperts(s.linear, c, w.layers[l + 1], h, n, s.prediction, experts.prefetch_top()));
}

}  // namespace

const char* ForwardPartName(ForwardPart part) {
  switch (part) {
    case ForwardPart::kNormsResidualRope: return "norms_residual_rope";
    case ForwardPart::kQkv: return "qkv_proj";
    case ForwardPart::kAttentionCore: return "attention_core";
    case ForwardPart::kOProj: return "o_proj";
    case ForwardPart::kDenseMlp: return "dense_mlp";
    case ForwardPart::kRouter: return "router";
    case ForwardPart::kExperts: return "routed_and_shared_experts";
    case ForwardPart::kLmHead: return "lm_head";
    case ForwardPart::kCount: break;
  }
  return "?";
}

Result<std::unique_ptr<TextModel>> TextModel::Load(const std::string& dir) {
  std::unique_ptr<TextModel> m(new TextModel());
  GLMV_ASSIGN_OR_RETURN(m->storage_.checkpoint, Checkpoint::Open(dir));
  GLMV_RETURN_IF_ERROR(BindTextWeights(m->config(), *m->storage_.checkpoint, m->w_, m->storage_));
  std::vector<std::span<const MlpWeights>> per_layer;
  for (const auto& L : m->w_.layers) per_layer.emplace_back(L.experts);
  m->mapped_experts_ = MappedExperts(std::move(per_layer));
  return m;
}

size_t TextModel::KvBytesPerToken(KvType type) const {
  return static_cast<size_t>(config().num_hidden_layers) *
         KvBytesPerTokenLayer(type, static_cast<size_t>(config().num_key_value_heads), static_cast<size_t>(config().head_dim));
}

Result<KvCache> TextModel::NewCache(size_t capacity_tokens, size_t page_tokens, KvType type) const {
  const TextConfig& c = config();
  const size_t layers = static_cast<size_t>(c.num_hidden_layers);
  const size_t pages = (capacity_tokens + page_tokens - 1) / page_tokens;
  KvCache cache;
  GLMV_ASSIGN_OR_RETURN(KvPool pool, KvPool::Create(static_cast<size_t>(c.num_key_value_heads), static_cast<size_t>(c.head_dim),
                                                     page_tokens,
                                                     std::max<size_t>(pages, 1) * layers *
                                                         KvPageBytes(type, static_cast<size_t>(c.num_key_value_heads),
                                                                     static_cast<size_t>(c.head_dim), page_tokens),
                                                     type));
  cache.pool = std::make_unique<KvPool>(std::move(pool));
  cache.seq = KvSequence(cache.pool.get(), layers, capacity_tokens);
  cache.scratch = std::make_unique<ForwardScratch>();
  return cache;
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

void TextModel::Attention(ForwardScratch& s, size_t layer, size_t n, std::span<const ForwardGroup> groups, float* out,
                          ForwardObserver* observer) const {
  const TextConfig& c = config();
  const auto& L = w_.layers[layer];
  const size_t heads = static_cast<size_t>(c.num_attention_heads), kv_heads = static_cast<size_t>(c.num_key_value_heads);
  const size_t hd = static_cast<size_t>(c.head_dim);
  const size_t q_width = heads * hd, kv_width = kv_heads * hd;
  const ActRows acts{.per_row = s.acts.data()};
  s.q.resize(n * q_width);
  s.k.resize(n * kv_width);
  s.v.resize(n * kv_width);
  Linear(s.linear, L.q, c.attention_bias ? &L.q_bias : nullptr, s.h.data(), n, s.q.data(), acts);
  Linear(s.linear, L.k, c.attention_bias ? &L.k_bias : nullptr, s.h.data(), n, s.k.data(), acts);
  Linear(s.linear, L.v, c.attention_bias ? &L.v_bias : nullptr, s.h.data(), n, s.v.data(), acts);
  if (observer) observer->PartDone(ForwardPart::kQkv, layer);
  // Partial rotary: the first rotary_dim dims of every q and k head rotate; the rest pass through. Then each
  // row's key and value heads go to its sequence's page (lib/text/kv_cache.h has the layout).
  const RopeTable& rope = s.rope;
  size_t row = 0;
  for (const ForwardGroup& g : groups) {
    for (size_t i = 0; i < g.n; ++i, ++row) {
      const float* cs = rope.cos.data() + row * rope.half;
      const float* sn = rope.sin.data() + row * rope.half;
      float* k_row = s.k.data() + row * kv_width;
      for (size_t hh = 0; hh < heads; ++hh) simd::RotateHalf(s.q.data() + row * q_width + hh * hd, cs, sn, rope.half);
      for (size_t hh = 0; hh < kv_heads; ++hh) simd::RotateHalf(k_row + hh * hd, cs, sn, rope.half);
      g.kv->Store(layer, g.kv->length() + i, k_row, s.v.data() + row * kv_width);
    }
  }
  s.attn.resize(n * q_width);
  CausalAttention(c, s.q.data(), s.attention, layer, s.attn.data(), s.attention_scratch);
  if (observer) observer->PartDone(ForwardPart::kAttentionCore, layer);
  Linear(s.linear, L.o, nullptr, s.attn.data(), n, out, acts);
  if (observer) observer->PartDone(ForwardPart::kOProj, layer);
}

Status TextModel::Forward(ForwardScratch& s, float* x, const MRopePositions& positions, std::span<const ForwardGroup> groups,
                          const ForwardOptions& options, std::vector<float>& logits) const {
  const TextConfig& c = config();
  size_t n = 0, logit_rows = 0;
  for (const ForwardGroup& g : groups) {
    if (g.kv->layers() != static_cast<size_t>(c.num_hidden_layers)) return Status::Error("forward: KV sequence of another model");
    const size_t P = g.kv->pool().page_tokens();
    if (g.kv->pages(0).size() * P < g.kv->length() + g.n) return Status::Error("forward: KV room not reserved");
    n += g.n;
    logit_rows += g.logits == LogitsWanted::kAll ? g.n : g.logits == LogitsWanted::kLast && g.n > 0 ? 1 : 0;
  }
  if (n == 0) return Status::Error("forward called with no tokens");
  if (positions.size() != n) return Status::Error("positions do not match the token count");
  const size_t H = static_cast<size_t>(c.hidden_size);
  const size_t layers = static_cast<size_t>(c.num_hidden_layers);
  const float eps = static_cast<float>(c.rms_norm_eps);
  ForwardObserver* observer = options.observer;
  auto done = [&](ForwardPart part, size_t layer) {
    if (observer) observer->PartDone(part, layer);
  };
  BuildTextRope(c, positions, s.rope);
  s.acts.clear();
  s.attention.clear();
  for (const ForwardGroup& g : groups) {
    s.attention.push_back({g.kv, s.acts.size(), g.n, g.kv->length()});
    s.acts.insert(s.acts.end(), g.n, ActQuantFor(options.precision, g.decode));
  }
  const ActRows acts{.per_row = s.acts.data()};
  TextTrace* trace = options.trace;
  if (trace) {
    *trace = TextTrace();
    trace->layer_input.assign(x, x + n * H);
    trace->layer_out.resize(layers);
    trace->router_logits.resize(layers);
    trace->topk_ids.resize(layers);
    trace->topk_weights.resize(layers);
    trace->rope = s.rope;
  }
  s.h.resize(n * H);
  s.mlp_out.resize(n * H);
  done(ForwardPart::kNormsResidualRope, 0);
  for (size_t l = 0; l < layers; ++l) {
    const auto& L = w_.layers[l];
    for (size_t i = 0; i < n; ++i) simd::RmsNorm(x + i * H, L.input_norm.data, eps, s.h.data() + i * H, H);
    done(ForwardPart::kNormsResidualRope, l);
    Attention(s, l, n, groups, s.mlp_out.data(), observer);
    for (size_t i = 0; i < n * H; ++i) x[i] += s.mlp_out[i];
    for (size_t i = 0; i < n; ++i) simd::RmsNorm(x + i * H, L.post_attn_norm.data, eps, s.h.data() + i * H, H);
    done(ForwardPart::kNormsResidualRope, l);
    ExpertSource& experts = options.experts ? *options.experts : mapped_experts_;
    if (L.dense) {
      PrefetchNextLayer(c, w_, l, s.h.data(), n, experts, s);
      SwiGlu(s.linear, L.mlp, s.h.data(), n, s.mlp_out.data(), s.mlp, acts);
      done(ForwardPart::kDenseMlp, l);
    } else {
      const int64_t* forced = nullptr;
      if (options.forced_routing && l < options.forced_routing->size() && !(*options.forced_routing)[l].empty()) {
        const auto& ids = (*options.forced_routing)[l];
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
      RouteTokens(s.linear, c, L, s.h.data(), n, s.moe, forced);
      PrefetchNextLayer(c, w_, l, s.h.data(), n, experts, s);  // before this layer's reads and GEMMs
      done(ForwardPart::kRouter, l);
      GLMV_RETURN_IF_ERROR(RunExperts(s.linear, c, L, l, experts, s.h.data(), n, s.mlp_out.data(), s.moe, acts));
      done(ForwardPart::kExperts, l);
    }
    for (size_t i = 0; i < n * H; ++i) x[i] += s.mlp_out[i];
    if (trace) {
      trace->layer_out[l].assign(x, x + n * H);
      if (!L.dense) RecordRouting(c, n, s.moe, *trace, l);
    }
    done(ForwardPart::kNormsResidualRope, l);
  }
  for (const ForwardGroup& g : groups) g.kv->Advance(g.n);

  // Final norm and lm_head, for the rows whose logits are wanted.
  s.last.resize(logit_rows * H);
  s.acts.resize(n);
  size_t row = 0, out_row = 0;
  for (const ForwardGroup& g : groups) {
    const size_t first = g.logits == LogitsWanted::kAll ? 0 : g.logits == LogitsWanted::kLast && g.n > 0 ? g.n - 1 : g.n;
    for (size_t i = first; i < g.n; ++i, ++out_row) {
      simd::RmsNorm(x + (row + i) * H, w_.final_norm.data, eps, s.last.data() + out_row * H, H);
      s.acts[out_row] = s.acts[row + i];  // out_row ≤ row + i: compacts in place
    }
    row += g.n;
  }
  if (trace) trace->final_norm.assign(s.last.begin(), s.last.end());
  done(ForwardPart::kNormsResidualRope, layers);
  logits.resize(logit_rows * static_cast<size_t>(c.vocab_size));
  if (logit_rows > 0) Linear(s.linear, w_.lm_head, nullptr, s.last.data(), logit_rows, logits.data(), acts);
  done(ForwardPart::kLmHead, layers);
  return Status::Ok();
}

Status TextModel::Forward(float* x, size_t n, const MRopePositions& positions, KvCache& cache, bool all_logits,
                          std::vector<float>& logits, const ForwardOptions& options, bool decode) const {
  GLMV_RETURN_IF_ERROR(cache.seq.Reserve(n));
  const ForwardGroup group{&cache.seq, n, decode, all_logits ? LogitsWanted::kAll : LogitsWanted::kLast};
  return Forward(*cache.scratch, x, positions, std::span<const ForwardGroup>(&group, 1), options, logits);
}

}  // namespace glmv
