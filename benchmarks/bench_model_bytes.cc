#include "benchmarks/bench_model_bytes.h"

#include "simd/quant_layout.h"

namespace glmv::bench {

uint64_t KernelBytes(const Weight& w) {
  if (w.is_packed()) return simd::QuantMatrixBytes(PackedKind(w.dtype), static_cast<size_t>(w.rows()), static_cast<size_t>(w.cols()));
  if (w.shape.empty()) return 0;
  uint64_t elements = 1;
  for (int64_t d : w.shape) elements *= static_cast<uint64_t>(d);
  return elements * sizeof(float);
}

uint64_t Elements(const Weight& w) {
  if (w.shape.empty()) return 0;
  uint64_t elements = 1;
  for (int64_t d : w.shape) elements *= static_cast<uint64_t>(d);
  return elements;
}

StepBytes CountStep(const TextConfig& c, const TextWeights& w, Measure m) {
  auto mlp = [&](const MlpWeights& x) { return m(x.gate) + m(x.up) + m(x.down); };
  StepBytes b;
  for (const auto& L : w.layers) {
    b.attention += m(L.q) + m(L.q_bias) + m(L.k) + m(L.k_bias) + m(L.v) + m(L.v_bias) + m(L.o);
    b.norms += m(L.input_norm) + m(L.post_attn_norm);
    b.routed.emplace_back();
    if (L.dense) {
      b.dense_mlp += mlp(L.mlp);
      continue;
    }
    b.router += m(L.router) + m(L.correction_bias);
    if (L.has_shared) b.shared += mlp(L.shared);
    for (const auto& e : L.experts) {
      b.routed.back().push_back(mlp(e));
      b.all_routed += b.routed.back().back();
    }
  }
  b.norms += m(w.final_norm);
  const size_t H = static_cast<size_t>(c.hidden_size);
  if (m == &Elements) {
    b.embed_row = H;
  } else {
    b.embed_row = w.embed.is_packed() ? simd::QuantTileBytes(PackedKind(w.embed.dtype), H) : H * sizeof(float);
  }
  b.lm_head = m(w.lm_head);
  return b;
}

}  // namespace glmv::bench
