#include "lib/sampling/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace glmv {

TokenLogprob RawLogprobs(std::span<const float> logits, int64_t chosen, size_t top,
                         std::vector<std::pair<float, int64_t>>& order) {
  TokenLogprob out;
  out.id = chosen;
  const size_t n = logits.size();
  if (n == 0) return out;
  float mx = -std::numeric_limits<float>::infinity();
  for (const float l : logits) mx = std::max(mx, l);
  double sum = 0;
  for (const float l : logits) sum += std::exp(static_cast<double>(l) - mx);
  const double log_z = mx + std::log(sum);  // ln Σ exp(logit)
  auto logprob = [&](float l) { return static_cast<float>(std::min(0.0, static_cast<double>(l) - log_z)); };
  out.logprob = chosen >= 0 && static_cast<size_t>(chosen) < n ? logprob(logits[static_cast<size_t>(chosen)])
                                                               : -std::numeric_limits<float>::infinity();
  top = std::min(top, n);
  if (top == 0) return out;
  // A bounded selection: keep the best `top` (logit, id) pairs seen so far, sorted.
  order.clear();
  auto better = [](const std::pair<float, int64_t>& a, const std::pair<float, int64_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  for (size_t i = 0; i < n; ++i) {
    const std::pair<float, int64_t> c{logits[i], static_cast<int64_t>(i)};
    if (order.size() == top && !better(c, order.back())) continue;
    order.insert(std::upper_bound(order.begin(), order.end(), c, better), c);
    if (order.size() > top) order.pop_back();
  }
  out.top.reserve(order.size());
  for (const auto& [l, id] : order) out.top.emplace_back(id, logprob(l));
  return out;
}

}  // namespace glmv
