// Log-probabilities of generated tokens, as OpenAI's `logprobs` / `top_logprobs` report them: of the model's
// own distribution, i.e. the log-softmax of the raw logits (before penalties, grammar masks, temperature,
// top-k/top-p/min-p), so that they describe the model and not the sampling settings of the request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace glmv {

struct TokenLogprob {
  int64_t id = 0;        // the token generated
  float logprob = 0.0f;  // ln p(id) under the raw distribution (≤ 0)
  std::vector<std::pair<int64_t, float>> top;  // the most likely ids and their logprobs, most likely first
};

// The log-softmax over logits[0, n) at `chosen` and the `top` most likely ids (ties: lower id first).
// `order` is the caller's scratch (reused across calls). logits: [n] of one position, unchanged.
TokenLogprob RawLogprobs(std::span<const float> logits, int64_t chosen, size_t top,
                         std::vector<std::pair<float, int64_t>>& order);

}  // namespace glmv
