// The inference owner: one model, its tokenizer and KV cache, and the generation loop (prefill, sampling,
// streaming text, stop conditions, cancellation). The CLI drives it today; the HTTP server will, through a
// queue, tomorrow. Consecutive requests that share a prompt prefix (chat turns) reuse the cached keys/values.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/status.h"
#include "lib/text/kv_cache.h"
#include "lib/prompt/multimodal.h"
#include "lib/sampling/sampler.h"
#include "lib/text/text_model.h"
#include "lib/tokenizer/tokenizer.h"

namespace glmv {

struct EngineOptions {
  size_t context_tokens = 4096;  // KV cache capacity (capped by the model's max_position_embeddings)
};

struct GenerateRequest {
  std::vector<int64_t> prompt;      // token ids, template applied and image placeholders expanded
  VisualInputs visual;              // preprocessed images/videos for the prompt's placeholders
  SamplingParams sampling;
  size_t max_tokens = 512;
  std::vector<std::string> stop;    // stop strings, matched on the decoded text (not included in it)
  bool ignore_eos = false;
};

enum class FinishReason { kEos, kLength, kStop, kCancelled, kContextFull };
const char* FinishReasonName(FinishReason r);  // "eos", "length", "stop", "cancelled", "context_full"

struct GenerateResult {
  std::vector<int64_t> ids;       // generated ids (an eos id that ended the run included)
  std::string text;               // decoded text as streamed (stop string and eos excluded)
  FinishReason finish = FinishReason::kLength;
  size_t prompt_tokens = 0;
  size_t reused_prompt_tokens = 0;  // prompt tokens whose keys/values came from the previous request
  double vision_seconds = 0;  // encoding images/videos
  double prefill_seconds = 0, decode_seconds = 0, first_token_seconds = 0;  // first token: from prefill start
};

class Engine {
 public:
  // Loads the model directory; its tokenizer too when it has one (tokenizer.json, or tokenizer.model +
  // tokenizer_config.json). Without one, only token-id prompts work.
  static Result<std::unique_ptr<Engine>> Load(const std::string& model_dir, const EngineOptions& options = {});

  TextModel& model() { return *model_; }
  // Null when the model has no vision tower (or its tensors are missing: vision_status() says why).
  const VisionModel* vision() const { return vision_.get(); }
  const Status& vision_status() const { return vision_status_; }
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  size_t context_tokens() const { return cache_.capacity; }

  // Runs one request. on_text receives the decoded answer piece by piece (complete UTF-8 only; nothing
  // when there is no tokenizer); `cancel`, when set to true from another thread or a signal handler, ends
  // the run after the current token.
  Result<GenerateResult> Generate(const GenerateRequest& request,
                                  const std::function<void(const std::string&)>& on_text = {},
                                  const std::atomic<bool>* cancel = nullptr);

  // Forgets the cached prefix (e.g. /reset in chat).
  void ResetCache();

 private:
  Engine() = default;
  std::unique_ptr<TextModel> model_;
  std::unique_ptr<VisionModel> vision_;  // declared after model_: destroyed first (it views model_'s checkpoint)
  Status vision_status_;
  std::unique_ptr<Tokenizer> tokenizer_;
  KvCache cache_;
  std::vector<int64_t> cached_ids_;  // the tokens whose keys/values are in cache_, in order
};

}  // namespace glmv
