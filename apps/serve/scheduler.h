// The one owner of the engine in `glmv serve`, as llama-server does it: HTTP threads only parse requests and
// post tasks to a bounded queue; this class's thread admits them into at most `parallel` slots, steps the
// engine (one prefill chunk or vision stage beside one decode token of every running slot: continuous
// batching) and hands each request's text to its reply channel. Model code never runs on an HTTP thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "apps/serve/chat_request.h"
#include "lib/engine/engine.h"
#include "apps/json_schema_flag.h"

namespace glmv::app {

// One request's reply channel: the scheduler appends text and finally the result; the HTTP thread takes
// them. `cancel` (a disconnect) ends the request at its next step, or at once while it is still queued or
// prefilling.
class Reply {
 public:
  void Append(const std::string& text);
  void Finish(const GenerateResult& result, const Status& status);
  // Waits up to `timeout_ms` for news; moves the text that arrived into `text`. True once finished (the
  // result and status are then final).
  bool Take(std::string& text, int timeout_ms);
  const GenerateResult& result() const { return result_; }
  const Status& status() const { return status_; }
  void Cancel() { cancel_.store(true); }
  bool cancelled() const { return cancel_.load(); }
  const std::atomic<bool>* cancel_flag() const { return &cancel_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string text_;
  bool finished_ = false;
  GenerateResult result_;
  Status status_;
  std::atomic<bool> cancel_{false};
};

struct Task {
  uint64_t id = 0;
  ChatTask chat;
  std::shared_ptr<Reply> reply = std::make_shared<Reply>();
};

// Counters /metrics reports (atomics: read from HTTP threads while the scheduler writes them).
struct SchedulerStats {
  std::atomic<uint64_t> prompt_tokens{0}, cached_prompt_tokens{0}, completion_tokens{0};
  std::atomic<uint64_t> finished{0}, cancelled{0}, failed{0}, images{0};
  std::atomic<uint64_t> steps{0};
  // The engine's state after the last step, published for other threads (the engine is the scheduler's).
  std::atomic<uint64_t> kv_bytes{0}, cached_sequences{0};
};

class Scheduler {
 public:
  // `trie`: the vocabulary's bytes, for requests with a response_format grammar (null: no engine tokenizer).
  Scheduler(Engine& engine, size_t parallel, size_t max_queue, std::shared_ptr<const TokenTrie> trie = nullptr);
  ~Scheduler();  // stops the thread; queued and running requests finish as cancelled
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // False when `parallel` requests are generating and `max_queue` more are waiting (answer 429).
  bool Submit(std::shared_ptr<Task> task);
  // Wakes the scheduler so a cancelled request frees its slot now (cancel tasks jump the queue).
  void Poke();
  size_t queued() const;
  size_t active() const { return active_count_.load(); }
  size_t parallel() const { return parallel_; }
  const SchedulerStats& stats() const { return stats_; }

 private:
  struct Slot {
    std::shared_ptr<Task> task;
    std::unique_ptr<Sequence> seq;
  };
  void Loop();
  void Admit();
  void FinishSlot(Slot& slot);
  // Ends a task with `result` and `status` and gives its place back.
  void Complete(Task& task, const GenerateResult& result, const Status& status);

  Engine& engine_;
  const size_t parallel_, max_queue_;
  std::shared_ptr<const TokenTrie> trie_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Task>> queue_;
  size_t in_flight_ = 0;  // submitted and not yet finished (queued or in a slot)
  bool stop_ = false;
  std::vector<Slot> slots_;  // the scheduler thread's alone
  std::atomic<size_t> active_count_{0};
  SchedulerStats stats_;
  std::thread thread_;
};

}  // namespace glmv::app
