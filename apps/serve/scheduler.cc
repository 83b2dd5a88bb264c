#include "apps/serve/scheduler.h"

#include <chrono>

namespace glmv::app {

namespace {

GenerateResult Ended(FinishReason why) {
  GenerateResult r;
  r.finish = why;
  return r;
}

}  // namespace

void Reply::Append(const std::string& text) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    text_ += text;
  }
  cv_.notify_all();
}

void Reply::Finish(const GenerateResult& result, const Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    result_ = result;
    status_ = status;
    finished_ = true;
  }
  cv_.notify_all();
}

bool Reply::Take(std::string& text, int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return finished_ || !text_.empty(); });
  text += text_;
  text_.clear();
  return finished_;
}

Scheduler::Scheduler(Engine& engine, size_t parallel, size_t max_queue, std::shared_ptr<const TokenTrie> trie)
    : engine_(engine), parallel_(parallel), max_queue_(max_queue), trie_(std::move(trie)) {
  thread_ = std::thread([this] { Loop(); });  // last: the loop reads the members above
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool Scheduler::Submit(std::shared_ptr<Task> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (in_flight_ >= parallel_ + max_queue_) return false;
    ++in_flight_;
    queue_.push_back(std::move(task));
  }
  cv_.notify_all();
  return true;
}

void Scheduler::Poke() { cv_.notify_all(); }

void Scheduler::Complete(Task& task, const GenerateResult& result, const Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
  }
  task.reply->Finish(result, status);
}

size_t Scheduler::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void Scheduler::Admit() {
  while (slots_.size() < parallel_) {
    std::shared_ptr<Task> task;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    Reply* reply = task->reply.get();
    if (reply->cancelled()) {  // gone before it started
      ++stats_.cancelled;
      Complete(*task, Ended(FinishReason::kCancelled), Status::Ok());
      continue;
    }
    auto seq = engine_.Start(task->chat.request, [reply](const std::string& piece) { reply->Append(piece); },
                             reply->cancel_flag());
    if (!seq.ok()) {
      ++stats_.failed;
      Complete(*task, Ended(FinishReason::kError), seq.status());
      continue;
    }
    stats_.images += task->chat.image_sizes.size();
    if (task->chat.grammar && trie_) {
      // With thinking on, the reasoning is free and the answer after `</think>` follows the grammar.
      (*seq)->SetConstraint(AnswerConstraint(engine_, task->chat.grammar, trie_, task->chat.thinking));
    }
    slots_.push_back({std::move(task), std::move(seq).value()});
  }
}

void Scheduler::FinishSlot(Slot& slot) {
  const GenerateResult& r = slot.seq->result();
  stats_.prompt_tokens += r.prompt_tokens;
  stats_.cached_prompt_tokens += r.reused_prompt_tokens;
  stats_.completion_tokens += r.ids.size();
  if (r.finish == FinishReason::kCancelled) ++stats_.cancelled;
  else if (!slot.seq->status().ok()) ++stats_.failed;
  else ++stats_.finished;
  Complete(*slot.task, r, slot.seq->status());
  // A finished conversation's pages stay in the engine's prefix cache for the next turn (LRU, --cache-bytes).
  if (slot.seq->status().ok() && r.finish != FinishReason::kCancelled) engine_.Retire(std::move(slot.seq));
  slot.seq.reset();
}

void Scheduler::Loop() {
  std::vector<Sequence*> decode;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty() || !slots_.empty(); });
      if (stop_) break;
    }
    Admit();
    // A disconnected request still prefilling (or encoding its images) ends now; one decoding ends at its
    // next token (the engine checks its cancel flag).
    for (Slot& s : slots_) {
      if (s.seq->prefilling() && s.task->reply->cancelled()) {
        GenerateResult r = s.seq->result();
        r.finish = FinishReason::kCancelled;
        ++stats_.cancelled;
        Complete(*s.task, r, Status::Ok());
        s.seq.reset();
      }
    }
    std::erase_if(slots_, [](const Slot& s) { return !s.seq; });
    active_count_.store(slots_.size());
    if (slots_.empty()) continue;
    Sequence* prefill = nullptr;
    decode.clear();
    for (Slot& s : slots_) {
      if (s.seq->finished()) continue;
      if (s.seq->prefilling()) {
        if (!prefill) prefill = s.seq.get();
      } else {
        decode.push_back(s.seq.get());
      }
    }
    if (prefill || !decode.empty()) {
      engine_.Step(decode, prefill);
      ++stats_.steps;
    }
    for (Slot& s : slots_) {
      if (s.seq->finished()) FinishSlot(s);
    }
    std::erase_if(slots_, [](const Slot& s) { return !s.seq; });
    active_count_.store(slots_.size());
    stats_.kv_bytes.store(engine_.kv_pool().bytes_in_use());
    stats_.cached_sequences.store(engine_.cached_sequences());
  }
  // Stopping: whatever is left ends as cancelled.
  for (Slot& s : slots_) Complete(*s.task, Ended(FinishReason::kCancelled), Status::Ok());
  slots_.clear();
  std::deque<std::shared_ptr<Task>> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(queue_);
  }
  for (auto& t : left) Complete(*t, Ended(FinishReason::kCancelled), Status::Ok());
}

}  // namespace glmv::app
