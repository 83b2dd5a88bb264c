#include "lib/text/expert_prediction.h"

#include <algorithm>

namespace glmv {

std::span<const int64_t> PredictExperts(LinearContext& cx, const TextConfig& c, const TextLayerWeights& next,
                                        const float* x, size_t n, ExpertPrediction& p) {
  const size_t E = static_cast<size_t>(c.n_routed_experts), k = static_cast<size_t>(c.num_experts_per_tok);
  p.router_logits.resize(n * E);
  p.ids.resize(k);
  p.weights.resize(k);
  p.picked.assign(E, 0);
  Linear(cx, next.router, nullptr, x, n, p.router_logits.data());
  for (size_t t = 0; t < n; ++t) {
    SelectExperts(c, p.router_logits.data() + t * E, next.correction_bias.data, p.ids.data(), p.weights.data(), p.select);
    for (const int64_t e : p.ids) p.picked[static_cast<size_t>(e)] = 1;
  }
  p.experts.clear();
  for (size_t e = 0; e < E; ++e) {
    if (p.picked[e]) p.experts.push_back(static_cast<int64_t>(e));
  }
  return p.experts;
}

}  // namespace glmv
