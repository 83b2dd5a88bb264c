#include "apps/serve/scheduler.h"

#include <algorithm>
#include <chrono>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace glmv::app {

namespace {

// Gives the C heap's free pages back to the system. After a burst of requests glibc keeps what the HTTP
// threads' arenas freed (decoded images, request bodies; its dynamic mmap threshold moves big buffers into
// the arenas), tens of MiB that an idle server would otherwise hold until the next burst.
void ReturnFreeHeapPages() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

GenerateResult Ended(FinishReason why) {
  GenerateResult r;
  r.finish = why;
  return r;
}

}  // namespace

Scheduler::Scheduler(Engine& engine, size_t parallel, size_t max_queue, std::shared_ptr<const TokenTrie> trie)
    : engine_(engine), parallel_(parallel), max_queue_(max_queue), trie_(std::move(trie)) {
  PublishExpertStats();  // /metrics shows the cache's counters (at 0) from the start, before the thread owns the engine
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
  const size_t n = std::max<size_t>(task->chat.n, 1);
  if (task->reply->choices() != n) task->reply = std::make_shared<Reply>(n);
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

void Scheduler::PublishExpertStats() {
  const CachedExperts* cache = engine_.cached_experts();
  if (!cache) return;
  const ExpertCacheStats c = cache->stats();
  stats_.expert_hits.store(c.hits);
  stats_.expert_misses.store(c.misses);
  stats_.expert_evictions.store(c.evictions);
  stats_.expert_disk_bytes.store(c.reader.bytes);
  stats_.expert_stall_seconds.store(c.stall_seconds);
  stats_.expert_prefetch_issued.store(c.prefetch_issued);
  stats_.expert_prefetch_useful.store(c.prefetch_useful);
  stats_.expert_predicted.store(c.prefetch_predicted);
  stats_.expert_predicted_used.store(c.prefetch_predicted_used);
  stats_.expert_cache.store(true);  // last: a reader that sees it on sees counters of a step
}

void Scheduler::Answered(const Task& task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
  }
  const Reply& reply = *task.reply;
  if (!reply.status().ok()) ++stats_.failed;
  else if (reply.result(0).finish == FinishReason::kCancelled) ++stats_.cancelled;
  else ++stats_.finished;
}

void Scheduler::EndTask(Task& task, const GenerateResult& result, const Status& status) {
  if (task.reply->FinishAll(result, status)) Answered(task);
}

size_t Scheduler::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

std::function<void(const std::string&)> Scheduler::TextSink(const std::shared_ptr<Task>& task, size_t choice) const {
  return [reply = task->reply.get(), choice](const std::string& piece) { reply->Append(choice, piece); };
}

void Scheduler::Constrain(const Task& task, Sequence& seq) const {
  if (!task.chat.grammar || !trie_) return;
  // With thinking on, the reasoning is free and the answer after `</think>` follows the grammar.
  seq.SetConstraint(AnswerConstraint(engine_, task.chat.grammar, trie_, task.chat.thinking, task.chat.text_tokens));
}

void Scheduler::Admit() {
  for (;;) {
    std::shared_ptr<Task> task;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) return;
      // First come, first served: a request of n choices waits for n free slots.
      const size_t n = std::min(std::max<size_t>(queue_.front()->chat.n, 1), parallel_);
      if (slots_.size() + reserved_ + n > parallel_ && !queue_.front()->reply->cancelled()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    Reply* reply = task->reply.get();
    if (reply->cancelled()) {  // gone before it started
      EndTask(*task, Ended(FinishReason::kCancelled), Status::Ok());
      continue;
    }
    auto seq = engine_.Start(task->chat.request, TextSink(task, 0), reply->cancel_flag());
    if (!seq.ok()) {
      EndTask(*task, Ended(FinishReason::kError), seq.status());
      continue;
    }
    stats_.images += task->chat.image_sizes.size();
    Constrain(*task, **seq);
    const size_t n = std::min(reply->choices(), parallel_);
    reserved_ += n - 1;
    slots_.push_back({std::move(task), 0, std::move(seq).value(), 0, n > 1});
  }
}

void Scheduler::ForkReady() {
  std::vector<Slot> forks;
  for (Slot& s : slots_) {
    if (!s.fork_pending || s.seq->prefilling()) continue;
    s.fork_pending = false;
    Reply& reply = *s.task->reply;
    const size_t n = std::min(reply.choices(), parallel_);
    reserved_ -= n - 1;
    if (!s.seq->status().ok()) continue;  // the request fails with it (FinishSlot)
    for (size_t c = 1; c < n; ++c) {
      SamplingParams sampling = s.task->chat.request.sampling;
      sampling.seed += c;  // each choice its own stream, repeatable with the request's seed
      auto child = engine_.Fork(*s.seq, sampling, TextSink(s.task, c), reply.cancel_flag());
      if (!child.ok()) {
        if (reply.FinishChoice(c, Ended(FinishReason::kError), child.status())) Answered(*s.task);
        continue;
      }
      Constrain(*s.task, **child);
      forks.push_back({s.task, c, std::move(child).value(), 0, false});
    }
  }
  for (Slot& f : forks) slots_.push_back(std::move(f));
}

void Scheduler::PublishLogprobs(Slot& slot) {
  const auto& all = slot.seq->result().logprobs;
  if (all.size() <= slot.logprobs_sent) return;
  slot.task->reply->AppendLogprobs(slot.choice, std::span<const TokenLogprob>(all).subspan(slot.logprobs_sent));
  slot.logprobs_sent = all.size();
}

void Scheduler::FinishSlot(Slot& slot) {
  const GenerateResult& r = slot.seq->result();
  if (slot.choice == 0) {  // the prompt was the request's once, however many choices share it
    stats_.prompt_tokens += r.prompt_tokens;
    stats_.cached_prompt_tokens += r.reused_prompt_tokens;
    if (r.reused_prompt_tokens > 0) ++stats_.prompt_cache_hits;
  }
  stats_.completion_tokens += r.ids.size();
  Reply& reply = *slot.task->reply;
  if (!slot.seq->status().ok()) {
    reply.Cancel();  // the other choices stop at their next token; the request answers the error
    if (reply.FinishAll(r, slot.seq->status())) Answered(*slot.task);
  } else if (reply.FinishChoice(slot.choice, r, Status::Ok())) {
    Answered(*slot.task);
  }
  // A finished conversation's pages stay in the engine's prefix cache for the next turn (LRU, --cache-bytes).
  if (slot.choice == 0 && slot.seq->status().ok() && r.finish != FinishReason::kCancelled) engine_.Retire(std::move(slot.seq));
  slot.seq.reset();
}

void Scheduler::Loop() {
  std::vector<Sequence*> decode;
  bool worked_since_trim = false;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto has_work = [&] { return stop_ || !queue_.empty() || !slots_.empty(); };
      // Idle after work: wait a moment for the HTTP threads to free their requests' buffers, then return the
      // heap's free pages (a few ms) before sleeping until the next request.
      if (worked_since_trim && !cv_.wait_for(lock, std::chrono::milliseconds(200), has_work)) {
        lock.unlock();
        ReturnFreeHeapPages();
        worked_since_trim = false;
        lock.lock();
      }
      cv_.wait(lock, has_work);
      if (stop_) break;
    }
    worked_since_trim = true;
    Admit();
    // A disconnected request still prefilling (or encoding its images) ends now; one decoding ends at its
    // next token (the engine checks its cancel flag).
    for (Slot& s : slots_) {
      if (s.seq->prefilling() && s.task->reply->cancelled()) {
        GenerateResult r = s.seq->result();
        r.finish = FinishReason::kCancelled;
        if (s.fork_pending) reserved_ -= std::min(s.task->reply->choices(), parallel_) - 1;
        s.fork_pending = false;
        EndTask(*s.task, r, Status::Ok());
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
      const auto start = std::chrono::steady_clock::now();
      engine_.Step(decode, prefill);
      ++stats_.steps;
      if (!decode.empty()) {
        stats_.step_tokens += decode.size();
        stats_.decode_step_seconds =
            stats_.decode_step_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
    }
    // Published before any answer of this step goes out, so a client that reads /metrics after its answer
    // sees its encodes and expert reads.
    stats_.images_encoded.store(engine_.images_encoded());
    stats_.videos_encoded.store(engine_.videos_encoded());
    PublishExpertStats();
    for (Slot& s : slots_) PublishLogprobs(s);
    ForkReady();  // before the parents finish: a parent that ended at its first token still forks
    for (Slot& s : slots_) {
      if (s.seq->finished()) FinishSlot(s);
    }
    std::erase_if(slots_, [](const Slot& s) { return !s.seq; });
    active_count_.store(slots_.size());
    stats_.kv_bytes.store(engine_.kv_pool().bytes_in_use());
    stats_.cached_sequences.store(engine_.cached_sequences());
  }
  // Stopping: whatever is left ends as cancelled.
  for (Slot& s : slots_) EndTask(*s.task, Ended(FinishReason::kCancelled), Status::Ok());
  slots_.clear();
  std::deque<std::shared_ptr<Task>> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(queue_);
  }
  for (auto& t : left) EndTask(*t, Ended(FinishReason::kCancelled), Status::Ok());
}

}  // namespace glmv::app
