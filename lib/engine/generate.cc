#include "lib/engine/generate.h"

#include <algorithm>
#include <chrono>

namespace glmv {

int64_t ArgMax(const float* logits, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int64_t>(best);
}

Result<GreedyResult> GenerateGreedy(const TextModel& model, std::vector<float> x, const MRopePositions& positions,
                                    KvCache& cache, const GreedyOptions& options,
                                    const std::function<void(int64_t)>& on_token) {
  using Clock = std::chrono::steady_clock;
  const TextConfig& c = model.config();
  const size_t vocab = static_cast<size_t>(c.vocab_size);
  GreedyResult result;
  std::vector<float> logits;
  auto t0 = Clock::now();
  ForwardOptions fo;
  fo.precision = options.precision;
  GLMV_RETURN_IF_ERROR(model.Forward(x.data(), positions.size(), positions, cache, false, logits, fo));
  result.prefill_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  t0 = Clock::now();
  std::vector<float> step_x(static_cast<size_t>(c.hidden_size));
  for (size_t step = 0; step < options.max_new_tokens; ++step) {
    const int64_t id = ArgMax(logits.data(), vocab);
    result.ids.push_back(id);
    if (options.keep_step_logits) result.step_logits.insert(result.step_logits.end(), logits.begin(), logits.end());
    // The query that produced this token: the last prompt token at step 0, then each fed-back token.
    result.decode_positions.push_back(static_cast<int64_t>(cache.length()) - 1 + options.rope_delta);
    if (on_token) on_token(id);
    const bool eos = std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), id) != c.eos_token_ids.end();
    if ((options.stop_at_eos && eos) || step + 1 == options.max_new_tokens) break;
    const int64_t pos = static_cast<int64_t>(cache.length()) + options.rope_delta;
    const int64_t fed = step < options.forced_ids.size() ? options.forced_ids[step] : id;
    GLMV_RETURN_IF_ERROR(model.Embed(std::span<const int64_t>(&fed, 1), step_x.data()));
    GLMV_RETURN_IF_ERROR(model.Forward(step_x.data(), 1, MRopePositions::Text(pos, 1), cache, false, logits, fo,
                                       /*decode=*/true));
  }
  result.decode_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

}  // namespace glmv
