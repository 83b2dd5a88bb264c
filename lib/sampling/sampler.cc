#include "lib/sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace glmv {

Sampler::Sampler(const SamplingParams& params, size_t allowed_vocab)
    : params_(params), allowed_vocab_(allowed_vocab), rng_(params.seed) {}

double Sampler::Uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

int64_t Sampler::Sample(std::span<float> logits, std::span<const int64_t> history) {
  const size_t n = std::min(allowed_vocab_, logits.size());
  if (n == 0) return 0;
  // Penalties over the distinct ids seen.
  const bool penalise = params_.repetition_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                        params_.frequency_penalty != 0.0f;
  if (penalise && !history.empty()) {
    counts_.assign(n, 0);
    for (int64_t id : history) {
      if (id >= 0 && static_cast<size_t>(id) < n) ++counts_[static_cast<size_t>(id)];
    }
    for (size_t id = 0; id < n; ++id) {
      if (!counts_[id]) continue;
      float& l = logits[id];
      if (params_.repetition_penalty != 1.0f) l = l > 0 ? l / params_.repetition_penalty : l * params_.repetition_penalty;
      l -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(counts_[id]);
    }
  }
  if (params_.temperature <= 0.0f) {
    size_t best = 0;
    for (size_t i = 1; i < n; ++i) {
      if (logits[i] > logits[best]) best = i;
    }
    return static_cast<int64_t>(best);
  }
  // Temperature, then the candidate set sorted by logit (ties: lower id first, so runs are repeatable).
  candidates_.clear();
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(logits[i])) candidates_.emplace_back(logits[i] / params_.temperature, static_cast<int64_t>(i));
  }
  if (candidates_.empty()) return 0;
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t keep = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) {
    keep = static_cast<size_t>(params_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(keep), candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  candidates_.resize(keep);
  // Softmax over the survivors (as probabilities in .first from here on).
  const float mx = candidates_[0].first;
  double sum = 0;
  for (auto& c : candidates_) {
    c.first = std::exp(c.first - mx);
    sum += c.first;
  }
  for (auto& c : candidates_) c.first = static_cast<float>(c.first / sum);
  // top-p: the smallest prefix whose mass reaches top_p (at least one token).
  if (params_.top_p < 1.0f) {
    double mass = 0;
    size_t cut = 0;
    while (cut < candidates_.size()) {
      mass += candidates_[cut++].first;
      if (mass >= params_.top_p) break;
    }
    candidates_.resize(std::max<size_t>(cut, 1));
  }
  // min-p: relative to the most likely token.
  if (params_.min_p > 0.0f) {
    const float floor = params_.min_p * candidates_[0].first;
    size_t cut = 1;
    while (cut < candidates_.size() && candidates_[cut].first >= floor) ++cut;
    candidates_.resize(cut);
  }
  double total = 0;
  for (const auto& c : candidates_) total += c.first;
  double r = Uniform() * total;
  for (const auto& c : candidates_) {
    r -= c.first;
    if (r < 0) return c.second;
  }
  return candidates_.back().second;
}

}  // namespace glmv
