// Greedy generation of one request through the engine's steps (Start, chunked prefill with its images
// encoded stage by stage, one decode row per step): the harness of check-golden and compare, so the
// reference is checked against exactly what `run`, `chat` and a server execute. A logits processor on the
// sequence records each step's logits and query position, and for teacher forcing feeds the reference's
// token back in place of the model's own choice.
#pragma once

#include <cstdint>
#include <vector>

#include "io/status.h"
#include "lib/engine/engine.h"

namespace glmv {

struct GreedyOptions {
  size_t max_new_tokens = 16;
  bool stop_at_eos = true;        // stop after emitting one of the config's eos ids
  bool keep_step_logits = false;  // record the logits that chose each token
  // Teacher forcing: step i feeds forced_ids[i] back instead of its own choice (ids still records the
  // choices). Compares another model's step logits along the reference's path (glmv check-golden --model).
  std::vector<int64_t> forced_ids;
};

struct GreedyResult {
  std::vector<int64_t> ids;                // the model's own choice at each step (argmax over the whole vocabulary)
  std::vector<float> step_logits;          // [steps, vocab] when keep_step_logits
  std::vector<int64_t> decode_positions;   // position of the query token at each step
  double prefill_seconds = 0, decode_seconds = 0;
};

// Index of the largest logit (lowest index on ties), over the first `n` entries.
int64_t ArgMax(const float* logits, size_t n);

// Runs `prompt` (token ids, placeholders expanded) with `visual` through `engine` alone, greedily. The
// sequence ends with its own status on error (a bad id, a failed image), which is returned.
Result<GreedyResult> GenerateGreedy(Engine& engine, std::vector<int64_t> prompt, VisualInputs visual,
                                    const GreedyOptions& options);

}  // namespace glmv
