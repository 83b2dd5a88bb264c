// Choosing the next token from logits: greedy, or temperature sampling with top-k, top-p and min-p, after
// repetition / presence / frequency penalties. A seed makes runs repeatable on every machine (our own
// uniform draw from mt19937_64, not std::uniform_real_distribution, whose output varies by library).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace glmv {

struct SamplingParams {
  float temperature = 1.0f;        // ≤ 0: greedy
  int top_k = 0;                   // 0: off
  float top_p = 1.0f;              // 1: off
  float min_p = 0.0f;              // 0: off; keep tokens with p ≥ min_p · p_max
  float repetition_penalty = 1.0f; // HF rule: seen logit > 0 → logit / r, else logit · r
  float presence_penalty = 0.0f;   // OpenAI rule: seen → logit − presence
  float frequency_penalty = 0.0f;  // OpenAI rule: logit − frequency · count
  uint64_t seed = 0;
};

class Sampler {
 public:
  // Only ids < `allowed_vocab` can be chosen (the model's logit rows past the tokenizer's last id are padding).
  Sampler(const SamplingParams& params, size_t allowed_vocab);

  // Picks a token from `logits` (modified in place by penalties) given the ids generated or seen so far.
  int64_t Sample(std::span<float> logits, std::span<const int64_t> history);

  const SamplingParams& params() const { return params_; }

 private:
  double Uniform();  // [0, 1)

  SamplingParams params_;
  size_t allowed_vocab_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int64_t>> candidates_;  // reused across calls
  std::vector<uint32_t> counts_;
};

}  // namespace glmv
