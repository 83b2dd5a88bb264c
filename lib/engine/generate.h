// Greedy generation of one sequence over the text decoder's one forward (TextModel::Forward, the same call
// the engine's steps make): one prefill, then single-token decode rows. check-golden and compare use it.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "io/status.h"
#include "lib/text/text_model.h"

namespace glmv {

struct GreedyOptions {
  size_t max_new_tokens = 16;
  bool stop_at_eos = true;       // stop after emitting one of the config's eos ids
  int64_t rope_delta = 0;        // decode position = cache index + rope_delta (0 for text-only prompts)
  bool keep_step_logits = false;  // record the logits that chose each token
  // Teacher forcing: step i feeds forced_ids[i] back instead of its own choice (ids still records the
  // choices). Compares another model's step logits along the reference's path (glmv check-golden --model).
  std::vector<int64_t> forced_ids;
  ActPrecision precision = ActPrecision::kAuto;  // prompt rows are prefill rows, each step's row a decode row
};

struct GreedyResult {
  std::vector<int64_t> ids;
  std::vector<float> step_logits;            // [steps, vocab] when keep_step_logits
  std::vector<int64_t> decode_positions;     // position of the query token at each step
  double prefill_seconds = 0, decode_seconds = 0;
};

// Index of the largest logit (lowest index on ties), over the first `n` entries.
int64_t ArgMax(const float* logits, size_t n);

// Prefills `x` (prompt embeddings [n, H] at `positions`, already in `cache` capacity) and decodes greedily.
// on_token, if set, is called with each new id as soon as it is chosen.
Result<GreedyResult> GenerateGreedy(const TextModel& model, std::vector<float> x, const MRopePositions& positions,
                                    KvCache& cache, const GreedyOptions& options,
                                    const std::function<void(int64_t)>& on_token = {});

}  // namespace glmv
