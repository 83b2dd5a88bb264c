// The one owner of the engine in `glmv serve`, as llama-server does it: HTTP threads only parse requests and
// post tasks to a bounded queue; this class's thread admits them into at most `parallel` slots, steps the
// engine (one prefill chunk or vision stage beside one decode token of every running slot: continuous
// batching) and hands each request's text to its reply channel. Model code never runs on an HTTP thread.
// A request with n choices (OpenAI's `n`) takes n slots: its prompt is prefilled once, then the sequence is
// forked (Engine::Fork shares the prompt's keys and values) into choices that sample on their own, choice c
// with the seed + c.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "apps/json_schema_flag.h"
#include "apps/serve/chat_request.h"
#include "apps/serve/reply.h"
#include "lib/engine/engine.h"

namespace glmv::app {

struct Task {
  uint64_t id = 0;
  ChatTask chat;
  std::shared_ptr<Reply> reply = std::make_shared<Reply>();  // with chat.n choices (Submit sees to it)
};

// Counters /metrics reports (atomics: read from HTTP threads while the scheduler writes them).
struct SchedulerStats {
  std::atomic<uint64_t> prompt_tokens{0}, cached_prompt_tokens{0}, completion_tokens{0};
  std::atomic<uint64_t> finished{0}, cancelled{0}, failed{0}, images{0};
  std::atomic<uint64_t> prompt_cache_hits{0};  // requests that reused some prompt tokens from the prefix cache
  // Images and videos the vision tower ran (the engine's count: one reused from the prefix cache is not run).
  std::atomic<uint64_t> images_encoded{0}, videos_encoded{0};
  std::atomic<uint64_t> steps{0};
  // The engine's state after the last step, published for other threads (the engine is the scheduler's).
  std::atomic<uint64_t> kv_bytes{0}, cached_sequences{0};
  // The engine's expert cache after the last step (all zero and expert_cache false when experts are mapped).
  std::atomic<bool> expert_cache{false};
  std::atomic<uint64_t> expert_hits{0}, expert_misses{0}, expert_evictions{0}, expert_disk_bytes{0};
  std::atomic<uint64_t> expert_prefetch_issued{0}, expert_prefetch_useful{0};
  std::atomic<uint64_t> expert_predicted{0}, expert_predicted_used{0};
  std::atomic<double> expert_stall_seconds{0};
};

class Scheduler {
 public:
  // `trie`: the vocabulary's bytes, for requests with a response_format grammar (null: no engine tokenizer).
  Scheduler(Engine& engine, size_t parallel, size_t max_queue, std::shared_ptr<const TokenTrie> trie = nullptr);
  ~Scheduler();  // stops the thread; queued and running requests finish as cancelled
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // False when `parallel` requests are generating and `max_queue` more are waiting (answer 429). A task
  // of n choices waits until n slots are free (n ≤ parallel: ParseChatRequest's bound).
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
    size_t choice = 0;
    std::unique_ptr<Sequence> seq;
    size_t logprobs_sent = 0;  // entries of seq->result().logprobs already in the reply
    bool fork_pending = false;  // choice 0 of n > 1: fork the others once the prompt is prefilled
  };
  void Loop();
  void Admit();
  // A sequence for one choice of `task`: its text goes to the reply, its answer held to the task's grammar.
  std::function<void(const std::string&)> TextSink(const std::shared_ptr<Task>& task, size_t choice) const;
  void Constrain(const Task& task, Sequence& seq) const;
  // Choices 1..n-1 of the slots whose prompt is now prefilled, as new slots.
  void ForkReady();
  void PublishLogprobs(Slot& slot);
  // The engine's expert cache counters into stats_ (this thread owns the engine; HTTP threads read stats_).
  void PublishExpertStats();
  void FinishSlot(Slot& slot);
  // Ends every open choice of `task` with `result` and `status` (as cancelled, or failed).
  void EndTask(Task& task, const GenerateResult& result, const Status& status);
  // Book-keeping once the last choice of `task` ended: its place in the queue, the request counters.
  void Answered(const Task& task);

  Engine& engine_;
  const size_t parallel_, max_queue_;
  std::shared_ptr<const TokenTrie> trie_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Task>> queue_;
  size_t in_flight_ = 0;  // submitted and not yet finished (queued or in a slot)
  size_t reserved_ = 0;   // slots held for choices still to fork (the scheduler thread's)
  bool stop_ = false;
  std::vector<Slot> slots_;  // the scheduler thread's alone
  std::atomic<size_t> active_count_{0};
  SchedulerStats stats_;
  std::thread thread_;
};

}  // namespace glmv::app
