// One request's reply channel between the scheduler (which writes) and the HTTP thread that answers it
// (which takes): per choice (OpenAI's `n`), the text generated, the tokens' log-probabilities when asked,
// and finally the choice's result. `cancel` (a disconnect) ends every choice at its next step, or at once
// while the request is still queued or prefilling.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "io/status.h"
#include "lib/engine/sequence.h"

namespace glmv::app {

// What arrived for one choice since the last Take.
struct ChoiceNews {
  std::string text;
  std::vector<TokenLogprob> logprobs;
  bool finished = false;  // the choice's result is final and all its text arrived (also in earlier Takes)
};

class Reply {
 public:
  explicit Reply(size_t choices = 1);
  size_t choices() const { return results_.size(); }

  void Append(size_t choice, const std::string& text);
  void AppendLogprobs(size_t choice, std::span<const TokenLogprob> logprobs);
  // Ends one choice (a choice already ended is left as it is). True when it was the last one open: the
  // request is answered. A failing status becomes the request's status.
  bool FinishChoice(size_t choice, const GenerateResult& result, const Status& status);
  // Ends every choice still open with `result` and `status`; true when that answered the request.
  bool FinishAll(const GenerateResult& result, const Status& status);

  // Waits up to `timeout_ms` for news; appends it to `news` (resized to choices()). True once every
  // choice has finished (results and status are then final).
  bool Take(std::vector<ChoiceNews>& news, int timeout_ms);
  // Every choice has finished: results and status are final (and read without a lock from then on).
  bool finished() const;
  const GenerateResult& result(size_t choice = 0) const { return results_[choice]; }
  const std::vector<GenerateResult>& results() const { return results_; }
  const Status& status() const { return status_; }

  void Cancel() { cancel_.store(true); }
  bool cancelled() const { return cancel_.load(); }
  const std::atomic<bool>* cancel_flag() const { return &cancel_; }

 private:
  bool FinishLocked(size_t choice, const GenerateResult& result, const Status& status);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ChoiceNews> news_;   // per choice, not yet taken
  std::vector<bool> finished_;
  size_t open_ = 0;                // choices not finished
  bool news_waiting_ = false;
  std::vector<GenerateResult> results_;
  Status status_;
  std::atomic<bool> cancel_{false};
};

}  // namespace glmv::app
