// One conversation's whole state: its keys and values (pages of the engine's pool), its prompt still to
// prefill, the tokens it generated, its sampler and RNG, its logits processors, and its stop-string and UTF-8
// streaming state. Only the engine creates and advances sequences (engine.h); the caller reads them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/status.h"
#include "lib/prompt/mrope_index.h"
#include "lib/prompt/multimodal.h"
#include "lib/sampling/logprobs.h"
#include "lib/sampling/sampler.h"
#include "lib/sampling/token_constraint.h"
#include "lib/text/kv_cache.h"
#include "lib/text/rope.h"
#include "lib/tokenizer/tokenizer.h"

namespace glmv {

struct GenerateRequest {
  std::vector<int64_t> prompt;      // token ids, template applied and image placeholders expanded
  VisualInputs visual;              // preprocessed images/videos for the prompt's placeholders
  SamplingParams sampling;
  size_t max_tokens = 512;
  std::vector<std::string> stop;    // stop strings, matched on the decoded text (not included in it)
  bool ignore_eos = false;
  // OpenAI's logprobs: each generated token's log-probability under the raw model distribution (logprobs.h)
  // and its `top_logprobs` most likely alternatives go to result().logprobs. An eos that ends the run is
  // not listed (it is not part of the text).
  bool logprobs = false;
  size_t top_logprobs = 0;
};

enum class FinishReason { kEos, kLength, kStop, kCancelled, kContextFull, kError };
// "eos", "length", "stop", "cancelled", "context_full", "error"
const char* FinishReasonName(FinishReason r);

struct GenerateResult {
  std::vector<int64_t> ids;       // generated ids (an eos id that ended the run included)
  std::string text;               // decoded text as streamed (stop string and eos excluded)
  FinishReason finish = FinishReason::kLength;
  size_t prompt_tokens = 0;
  size_t reused_prompt_tokens = 0;  // prompt tokens whose keys/values came from another sequence
  double vision_seconds = 0;  // encoding images/videos
  double prefill_seconds = 0, decode_seconds = 0, first_token_seconds = 0;  // first token: from prefill start
  std::vector<TokenLogprob> logprobs;  // with GenerateRequest::logprobs: one per generated token but a final eos
};

// A hook on a sequence's logits before its sampler sees them: masks (a grammar), biases, penalties.
class LogitsProcessor {
 public:
  virtual ~LogitsProcessor() = default;
  // logits: [vocab] of the next token; generated: the sequence's ids so far.
  virtual void Process(std::span<float> logits, std::span<const int64_t> generated) = 0;
};

class Sequence {
 public:
  uint64_t id() const { return id_; }
  bool finished() const { return phase_ == Phase::kFinished; }
  // Still to prefill (its images and videos still encoding count too).
  bool prefilling() const { return phase_ == Phase::kPrefill; }
  bool encoding() const { return !encodings_.empty(); }
  // An error that ended the sequence (FinishReason::kError), else ok.
  const Status& status() const { return status_; }
  const GenerateResult& result() const { return result_; }
  size_t prompt_tokens() const { return prompt_ids_.size(); }
  size_t prefilled_tokens() const { return prefilled_; }
  const KvSequence& kv() const { return kv_; }
  // The position of the last token whose keys and values are in kv(): the query behind the logits a
  // processor sees (M-RoPE's text position; the image's rows shift it by rope_delta).
  int64_t last_position() const { return static_cast<int64_t>(kv_.length()) - 1 + rope_delta_; }
  // What the keys and values in kv() were computed from, token by token (prompt_keys.h): the prompt's
  // content keys, then each generated token fed back.
  std::span<const uint64_t> kv_keys() const { return std::span<const uint64_t>(kv_keys_).first(kv_.length()); }

  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;
  ~Sequence();  // leaves the engine's registry of live sequences (the engine must outlive its sequences)

  void AddLogitsProcessor(std::unique_ptr<LogitsProcessor> p) { processors_.push_back(std::move(p)); }
  // Constrains the tokens sampled from now on to a grammar (response_format). Each sampled id is checked
  // with Allows; only a refused one costs a full Mask of the row and a second draw (engine.cc, AcceptToken).
  // Fork does not copy it: each fork gets its own.
  void SetConstraint(std::unique_ptr<TokenConstraint> c) { constraint_ = std::move(c); }
  const TokenConstraint* constraint() const { return constraint_.get(); }

 private:
  friend class Engine;
  enum class Phase { kPrefill, kDecode, kFinished };
  Sequence() = default;

  class Engine* owner_ = nullptr;
  uint64_t id_ = 0;
  Phase phase_ = Phase::kPrefill;
  Status status_;
  GenerateResult result_;
  GenerateRequest request_;

  // The prompt: ids, input embeddings [n, H] (visual rows in place once encoded) and 3-D positions.
  std::vector<int64_t> prompt_ids_;
  PreparedPrompt prompt_;
  // Images, then videos, still encoding, one stage per step; their features go to the placeholder rows.
  std::vector<std::pair<TokenModality, VisionEncoding>> encodings_;
  int64_t rope_delta_ = 0;  // decode position = KV length + rope_delta
  size_t prefilled_ = 0;    // prompt rows whose keys/values are in kv_

  KvSequence kv_;
  std::vector<uint64_t> kv_keys_;  // prompt keys, then fed tokens; reserved to prompt + max_tokens
  size_t visual_end_ = 0;          // one past the prompt's last visual token (0: none)
  std::vector<int64_t> history_;  // prompt + generated: what penalties see, as in HF
  int64_t next_token_ = -1;       // sampled, not yet fed back

  std::unique_ptr<Sampler> sampler_;
  std::vector<float> raw_logits_;  // [allowed vocab] the row before processors (with request_.logprobs only)
  std::vector<std::pair<float, int64_t>> logprob_order_;  // RawLogprobs' scratch
  std::vector<std::unique_ptr<LogitsProcessor>> processors_;
  std::unique_ptr<TokenConstraint> constraint_;
  std::unique_ptr<Tokenizer::StreamDecoder> stream_;
  std::string pending_text_;  // decoded, held back (may be the start of a stop string)
  std::string piece_;         // the piece being passed on (a buffer reused across tokens)
  std::function<void(const std::string&)> on_text_;
  const std::atomic<bool>* cancel_ = nullptr;
  double started_ = 0, first_step_ = -1, decode_start_ = -1;  // steady-clock seconds
};

}  // namespace glmv
