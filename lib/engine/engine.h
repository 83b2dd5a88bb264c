// The inference owner: one immutable model (text decoder, vision tower, tokenizer), a runtime context
// (threads, activation precision, forward scratch) and a pool of KV pages, driving many sequences through a
// step API. One step runs at most one prefill chunk of one sequence and one decode token of every running
// sequence in a single forward call, so every weight is read once per step for all of them (continuous
// batching). The CLI's Generate is a thin loop over the steps; the server's scheduler will drive them itself.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/status.h"
#include "lib/engine/sequence.h"
#include "lib/experts/cached_experts.h"
#include "lib/experts/resident_experts.h"
#include "lib/model/linear.h"
#include "lib/text/text_model.h"
#include "lib/tokenizer/tokenizer.h"
#include "lib/vision/vision_model.h"

namespace glmv {

struct EngineOptions {
  size_t context_tokens = 4096;  // per sequence (capped by the model's max_position_embeddings)
  size_t max_sequences = 1;      // sizes the default KV memory
  size_t kv_memory_bytes = 0;    // KV pool cap (--kv-memory); 0: context_tokens × max_sequences
  size_t kv_page_tokens = 32;    // tokens per KV page
  KvType kv_type = KvType::kF32;  // element type of the KV pages (--kv-type)
  size_t prefill_chunk = 512;    // prompt rows per step (--prefill-chunk)
  // Finished sequences kept for their prompt prefixes (Retire, Generate), least recently used evicted past
  // this many bytes of KV pages (--cache-bytes); 0: bounded only by the pool, which evicts them when a
  // running sequence needs the room.
  size_t prefix_cache_bytes = 0;
  // Routed experts copied into 2 MiB-page memory at load (lib/experts/resident_experts.h): about twice the
  // expert streaming speed of the file mapping, for RAM the size of the experts (--experts-in-ram).
  bool experts_in_ram = false;
  // Routed experts streamed from the .glmv file into an expert cache of expert_cache.budget_bytes
  // (lib/experts/cached_experts.h) instead of used in place in the mapping, whose expert units are then made
  // unreachable; 0: mapped. --mem-budget sets it through the memory plan (lib/engine/memory_plan.h).
  CachedExpertsOptions expert_cache;
  // With an expert cache: bytes of its slots parked while the vision tower runs, the tower's share of the
  // memory budget that the cache holds while no image or video encodes (MemoryPlan::vision_lend_bytes). The
  // slots are parked when an encode begins; when a sequence's last encode ends, the tower's pages are
  // dropped from memory and the slots come back. 0: the cache keeps its slots throughout.
  size_t vision_lend_bytes = 0;
  int threads = 0;               // 0: OpenMP's default; applied on the thread that runs each step
  ActPrecision act_precision = ActPrecision::kAuto;
  VisionMath vision_math = VisionMath::kAuto;  // the vision tower's arithmetic (--vision-math)
};

// What the engine owns besides the model and passes down: nothing of it is process-global. The thread
// count is applied on the thread that runs each step; every linear layer's buffers and oneDNN primitives
// (text and vision alike) are scratch.linear.
struct RuntimeContext {
  int threads = 0;
  ActPrecision act_precision = ActPrecision::kAuto;
  ForwardScratch scratch;
  std::vector<float> x;       // [rows, H] inputs of a step
  std::vector<float> logits;  // [rows with logits, vocab]
  std::vector<ForwardGroup> groups;
  std::vector<Sequence*> rows_of;  // the sequence of each group
  MRopePositions positions;
  ForwardObserver* observer = nullptr;  // SetStepHooks
  TextTrace* trace = nullptr;
  ExpertSource* experts = nullptr;  // SetExpertSource
};

class Engine {
 public:
  // Loads the model directory; its tokenizer too when it has one (tokenizer.json, or tokenizer.model +
  // tokenizer_config.json). Without one, only token-id prompts work.
  static Result<std::unique_ptr<Engine>> Load(const std::string& model_dir, const EngineOptions& options = {});

  const TextModel& model() const { return *model_; }
  // Null when the model has no vision tower (or its tensors are missing: vision_status() says why).
  const VisionModel* vision() const { return vision_.get(); }
  const Status& vision_status() const { return vision_status_; }
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  const EngineOptions& options() const { return options_; }
  size_t context_tokens() const { return context_tokens_; }
  const KvPool& kv_pool() const { return *pool_; }

  // A new sequence for `request`: checks it, prepares its prompt (images and videos are encoded later, by the
  // steps), and shares the longest prompt prefix that a live or cached sequence holds: text by token id,
  // images and videos by a hash of their pixels, so a repeated picture is neither encoded nor prefilled
  // again (result().reused_prompt_tokens says how much was shared). on_text receives its decoded answer
  // piece by piece (complete UTF-8 only); setting *cancel ends it after its current token.
  Result<std::unique_ptr<Sequence>> Start(const GenerateRequest& request,
                                          std::function<void(const std::string&)> on_text = {},
                                          const std::atomic<bool>* cancel = nullptr);

  // A sequence that shares all of `s`'s prompt (its pages, copy-on-write for a partial last page) and then
  // samples on its own with `sampling` (a server's `n`). `s` must have finished encoding its images.
  Result<std::unique_ptr<Sequence>> Fork(const Sequence& s, const SamplingParams& sampling,
                                         std::function<void(const std::string&)> on_text = {},
                                         const std::atomic<bool>* cancel = nullptr);

  // Hands a finished sequence to the prefix cache (least recently used first out; see prefix_cache_bytes).
  void Retire(std::unique_ptr<Sequence> s);
  size_t cached_sequences() const { return cached_.size(); }

  // One step: the next prefill chunk of `prefill` (may be null) and one token of every sequence in `decode`
  // (each past its prefill), in one forward call. A sequence that fails (a bad id, no KV room) ends alone,
  // with its status; the others go on. Finished sequences in the lists are skipped.
  void Step(std::span<Sequence* const> decode, Sequence* prefill);
  void Prefill(Sequence& s) { Step({}, &s); }
  void DecodeBatch(std::span<Sequence* const> sequences) { Step(sequences, nullptr); }

  // The trivial scheduler: runs `sequences` to the end, each step one prefill chunk (of the first sequence
  // still prefilling) beside one token of every running sequence.
  void RunToCompletion(std::span<Sequence* const> sequences);

  // Start, run alone to the end, and retire the sequence into the prefix cache (chat turns).
  Result<GenerateResult> Generate(const GenerateRequest& request,
                                  const std::function<void(const std::string&)>& on_text = {},
                                  const std::atomic<bool>* cancel = nullptr);

  // Benchmarks and debugging: every step's forward reports its parts to `observer` and records its
  // intermediates into `trace` (either may be null).
  void SetStepHooks(ForwardObserver* observer, TextTrace* trace) {
    ctx_.observer = observer;
    ctx_.trace = trace;
  }
  // The expert cache when options().expert_cache.budget_bytes > 0 (its statistics and notes), else null.
  const CachedExperts* cached_experts() const { return cached_experts_.get(); }
  // Where the steps' MoE layers get routed experts (null: the model's mapped ones). Must outlive the steps.
  void SetExpertSource(ExpertSource* experts) { ctx_.experts = experts; }

  // Images and videos whose run through the vision tower began (a picture shared from a kept prefix is not
  // run again, so it does not count): what a server reports as vision encodes.
  uint64_t images_encoded() const { return images_encoded_; }
  uint64_t videos_encoded() const { return videos_encoded_; }

  // Empties the prefix cache (e.g. /reset in chat).
  void ResetCache() { cached_.clear(); }

 private:
  Engine() = default;
  friend class Sequence;
  // A sequence registered as live, with its id and start time; then, once its prompt is set up, its sampler,
  // stream decoder and callbacks.
  std::unique_ptr<Sequence> NewSequence();
  void ReadyToSample(Sequence& s, const SamplingParams& sampling, std::function<void(const std::string&)> on_text,
                     const std::atomic<bool>* cancel);
  void AcceptToken(Sequence& s, float* logits);  // logits: the step's row of this sequence, changed in place
  // Reserves n more tokens for s, evicting cached sequences (oldest first) while the pool lacks the room.
  Status Reserve(Sequence& s, size_t n);
  void TrimCache();
  // Shares with s the longest usable prefix of its prompt held by a live or cached sequence.
  Status SharePrefix(Sequence& s);
  void Finish(Sequence& s, FinishReason reason);
  void Fail(Sequence& s, const Status& status);
  // Ends the expert cache's loan to the vision tower (options_.vision_lend_bytes), if any: drops the tower's
  // pages, unparks the slots.
  void ReturnVisionShare();

  EngineOptions options_;
  size_t context_tokens_ = 0;
  std::unique_ptr<TextModel> model_;
  std::unique_ptr<VisionModel> vision_;  // declared after model_: destroyed first (it views model_'s checkpoint)
  Status vision_status_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<KvPool> pool_;
  std::unique_ptr<ResidentExperts> resident_experts_;  // with experts_in_ram
  std::unique_ptr<CachedExperts> cached_experts_;      // with expert_cache.budget_bytes > 0
  RuntimeContext ctx_;
  uint64_t next_id_ = 1;
  uint64_t images_encoded_ = 0, videos_encoded_ = 0;
  // The vision tower's tensors in the mapping (with vision_lend_bytes), dropped after encodes.
  std::vector<std::span<const uint8_t>> vision_pages_;
  size_t vision_lend_slots_ = 0;  // slots to park while the tower runs
  bool vision_share_lent_ = false;  // slots are parked now: a step without a vision stage returns them
  std::vector<Sequence*> live_;                  // every sequence not yet destroyed (for prefix sharing)
  std::list<std::unique_ptr<Sequence>> cached_;  // retired sequences, most recently used first
};

}  // namespace glmv
