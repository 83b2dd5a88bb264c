#include "lib/engine/greedy.h"

#include <algorithm>
#include <limits>
#include <memory>

namespace glmv {

int64_t ArgMax(const float* logits, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int64_t>(best);
}

namespace {

// Sees each step's logits before the (greedy) sampler: records them, and leaves only the token to feed back,
// the model's own choice or the forced one, so the sampler's vocabulary bound never changes the path.
class GreedyRecorder : public LogitsProcessor {
 public:
  GreedyRecorder(const GreedyOptions& options, GreedyResult& result) : options_(options), result_(result) {}
  void SetSequence(const Sequence* s) { sequence_ = s; }

  void Process(std::span<float> logits, std::span<const int64_t>) override {
    const size_t step = result_.ids.size();
    const int64_t own = ArgMax(logits.data(), logits.size());
    result_.ids.push_back(own);
    if (options_.keep_step_logits) result_.step_logits.insert(result_.step_logits.end(), logits.begin(), logits.end());
    result_.decode_positions.push_back(sequence_->last_position());
    const int64_t fed = step < options_.forced_ids.size() ? options_.forced_ids[step] : own;
    const float keep = logits[static_cast<size_t>(fed)];
    std::fill(logits.begin(), logits.end(), -std::numeric_limits<float>::infinity());
    logits[static_cast<size_t>(fed)] = keep == -std::numeric_limits<float>::infinity() ? 0.0f : keep;
  }

 private:
  const GreedyOptions& options_;
  GreedyResult& result_;
  const Sequence* sequence_ = nullptr;
};

}  // namespace

Result<GreedyResult> GenerateGreedy(Engine& engine, std::vector<int64_t> prompt, VisualInputs visual,
                                    const GreedyOptions& options) {
  const size_t vocab = static_cast<size_t>(engine.model().config().vocab_size);
  for (int64_t id : options.forced_ids) {
    if (id < 0 || static_cast<size_t>(id) >= vocab) {
      return Status::Error("forced token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                           std::to_string(vocab) + ")");
    }
  }
  GenerateRequest request;
  request.prompt = std::move(prompt);
  request.visual = std::move(visual);
  request.sampling.temperature = 0.0f;  // greedy
  request.max_tokens = options.max_new_tokens;
  request.ignore_eos = !options.stop_at_eos;
  GreedyResult result;
  GLMV_ASSIGN_OR_RETURN(std::unique_ptr<Sequence> s, engine.Start(request));
  auto recorder = std::make_unique<GreedyRecorder>(options, result);
  recorder->SetSequence(s.get());
  s->AddLogitsProcessor(std::move(recorder));
  Sequence* one = s.get();
  engine.RunToCompletion(std::span<Sequence* const>(&one, 1));
  if (!s->status().ok()) return s->status();
  result.prefill_seconds = s->result().prefill_seconds;
  result.decode_seconds = s->result().decode_seconds;
  return result;
}

}  // namespace glmv
