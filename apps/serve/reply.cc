#include "apps/serve/reply.h"

#include <chrono>

namespace glmv::app {

Reply::Reply(size_t choices)
    : news_(std::max<size_t>(choices, 1)), finished_(news_.size(), false), open_(news_.size()), results_(news_.size()) {}

void Reply::Append(size_t choice, const std::string& text) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    news_[choice].text += text;
    news_waiting_ = true;
  }
  cv_.notify_all();
}

void Reply::AppendLogprobs(size_t choice, std::span<const TokenLogprob> logprobs) {
  if (logprobs.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& list = news_[choice].logprobs;
    list.insert(list.end(), logprobs.begin(), logprobs.end());
    news_waiting_ = true;
  }
  cv_.notify_all();
}

bool Reply::FinishLocked(size_t choice, const GenerateResult& result, const Status& status) {
  if (finished_[choice]) return false;
  finished_[choice] = true;
  results_[choice] = result;
  if (!status.ok() && status_.ok()) status_ = status;
  news_[choice].finished = true;
  news_waiting_ = true;
  return --open_ == 0;
}

bool Reply::FinishChoice(size_t choice, const GenerateResult& result, const Status& status) {
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last = FinishLocked(choice, result, status);
  }
  cv_.notify_all();
  return last;
}

bool Reply::FinishAll(const GenerateResult& result, const Status& status) {
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t c = 0; c < finished_.size(); ++c) last = FinishLocked(c, result, status) || last;
  }
  cv_.notify_all();
  return last;
}

bool Reply::finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_ == 0;
}

bool Reply::Take(std::vector<ChoiceNews>& news, int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return open_ == 0 || news_waiting_; });
  news.resize(news_.size());
  for (size_t c = 0; c < news_.size(); ++c) {
    ChoiceNews& from = news_[c];
    news[c].text += from.text;
    news[c].logprobs.insert(news[c].logprobs.end(), std::make_move_iterator(from.logprobs.begin()),
                            std::make_move_iterator(from.logprobs.end()));
    news[c].finished = news[c].finished || from.finished;
    from.text.clear();
    from.logprobs.clear();
  }
  news_waiting_ = false;
  return open_ == 0;
}

}  // namespace glmv::app
