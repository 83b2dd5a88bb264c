#include "lib/text/expert_prediction.h"

#include <algorithm>

namespace glmv {

std::span<const int64_t> PredictExperts(LinearContext& cx, const TextConfig& c, const TextLayerWeights& next,
                                        const float* x, size_t n, ExpertPrediction& p, size_t top) {
  const size_t E = static_cast<size_t>(c.n_routed_experts), k = static_cast<size_t>(c.num_experts_per_tok);
  p.router_logits.resize(n * E);
  p.ids.resize(k);
  p.weights.resize(k);
  p.picked.assign(E, 0);
  p.order.resize(k);
  const size_t keep = top > 0 && top < k ? top : k;
  Linear(cx, next.router, nullptr, x, n, p.router_logits.data());
  for (size_t t = 0; t < n; ++t) {
    SelectExperts(c, p.router_logits.data() + t * E, next.correction_bias.data, p.ids.data(), p.weights.data(), p.select);
    for (size_t i = 0; i < k; ++i) p.order[i] = i;
    if (keep < k) {
      std::partial_sort(p.order.begin(), p.order.begin() + static_cast<std::ptrdiff_t>(keep), p.order.end(),
                        [&](size_t a, size_t b) { return p.weights[a] > p.weights[b]; });
    }
    for (size_t i = 0; i < keep; ++i) p.picked[static_cast<size_t>(p.ids[p.order[i]])] = 1;
  }
  p.experts.clear();
  for (size_t e = 0; e < E; ++e) {
    if (p.picked[e]) p.experts.push_back(static_cast<int64_t>(e));
  }
  return p.experts;
}

}  // namespace glmv
