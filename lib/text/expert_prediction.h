// Which routed experts the next MoE layer will likely pick, guessed while the current layer computes (issue
// 14, prefetch one layer ahead): layer L+1's router and expert selection applied to layer L's MLP input (its
// post-attention normed hidden state). The residual stream changes little from one layer to the next, so
// the guess is mostly right (published measurements on real models: 90 %+); a wrong guess costs a read, never
// a wrong result, since the guess only feeds ExpertSource::Prefetch.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lib/model/config.h"
#include "lib/model/linear.h"
#include "lib/text/moe.h"
#include "lib/text/text_weights.h"

namespace glmv {

// Working memory of PredictExperts, grown to the largest call and reused (decode does not allocate).
struct ExpertPrediction {
  std::vector<float> router_logits;  // [n, E]
  std::vector<int64_t> ids;          // [k]: one token's choice
  std::vector<float> weights;        // [k]
  std::vector<size_t> order;         // [k]: one token's choices, heaviest first (when `top` cuts them)
  std::vector<uint8_t> picked;       // [E]: chosen by some token
  std::vector<int64_t> experts;      // the union, ascending
  SelectScratch select;
};

// The experts `next` (an MoE layer) would choose for any of the n rows of x [n, H], as RouteTokens chooses
// them (SelectExperts with the layer's correction bias), in ascending order. With 0 < top < k, only each row's
// `top` heaviest choices count: the surest guesses, since a wrong one costs a read and a slot. The span lives
// until the next call with `p`.
std::span<const int64_t> PredictExperts(LinearContext& cx, const TextConfig& config, const TextLayerWeights& next,
                                        const float* x, size_t n, ExpertPrediction& p, size_t top = 0);

}  // namespace glmv
