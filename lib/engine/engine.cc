#include "lib/engine/engine.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "lib/base/parallel.h"
#include "lib/engine/memory_plan.h"
#include "lib/engine/prompt_keys.h"
#include "lib/model/model_assets.h"

namespace glmv {
namespace {

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Length of the longest suffix of `text` that is a proper prefix of some stop string: text that must be
// held back because the next token may complete a stop string.
size_t HeldBack(const std::string& text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const auto& s : stops) {
    for (size_t len = std::min(s.size() - 1, text.size()); len > hold; --len) {
      if (text.compare(text.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

}  // namespace

const char* FinishReasonName(FinishReason r) {
  switch (r) {
    case FinishReason::kEos: return "eos";
    case FinishReason::kLength: return "length";
    case FinishReason::kStop: return "stop";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kContextFull: return "context_full";
    case FinishReason::kError: return "error";
  }
  return "?";
}

Result<std::unique_ptr<Engine>> Engine::Load(const std::string& model_dir, const EngineOptions& options) {
  std::unique_ptr<Engine> e(new Engine());
  e->options_ = options;
  GLMV_ASSIGN_OR_RETURN(e->model_, TextModel::Load(model_dir));
  if (e->model_->model_config().has_vision) {
    auto vision = VisionModel::Create(e->model_->model_config(), *e->model_->storage().checkpoint, options.vision_math);
    if (vision.ok()) e->vision_ = std::move(vision).value();
    else e->vision_status_ = vision.status();
  } else {
    e->vision_status_ = Status::Error(model_dir + ": the model has no vision tower");
  }
  namespace fs = std::filesystem;
  bool has_tokenizer = fs::exists(fs::path(model_dir) / "tokenizer.json") || fs::exists(fs::path(model_dir) / "tokenizer.model");
  if (IsModelFile(model_dir)) {
    GLMV_ASSIGN_OR_RETURN(const auto text, ReadModelAsset(model_dir, "tokenizer.json"));
    has_tokenizer = text.has_value();
  }
  if (has_tokenizer) {
    GLMV_ASSIGN_OR_RETURN(e->tokenizer_, Tokenizer::LoadFromDir(model_dir));
  }
  const TextConfig& c = e->model_->config();
  size_t ctx = options.context_tokens;
  if (c.max_position_embeddings > 0) ctx = std::min(ctx, static_cast<size_t>(c.max_position_embeddings));
  e->context_tokens_ = std::max<size_t>(ctx, 1);
  if (options.kv_page_tokens == 0) return Status::Error("KV pages of 0 tokens (EngineOptions::kv_page_tokens)");
  if (options.prefill_chunk == 0) return Status::Error("a prefill chunk of 0 tokens (--prefill-chunk)");
  const size_t page_tokens = options.kv_page_tokens;
  const size_t page_bytes = KvPageBytes(options.kv_type, static_cast<size_t>(c.num_key_value_heads),
                                        static_cast<size_t>(c.head_dim), page_tokens);
  const size_t layers = static_cast<size_t>(c.num_hidden_layers);
  const size_t kv_bytes = KvReserveBytes(c, options);  // the memory plan reserves the same (memory_plan.h)
  if (kv_bytes < layers * page_bytes) {
    return Status::Error("--kv-memory of " + std::to_string(kv_bytes) + " bytes is below one page per layer (" +
                         std::to_string(layers * page_bytes) + " bytes)");
  }
  GLMV_ASSIGN_OR_RETURN(KvPool pool, KvPool::Create(static_cast<size_t>(c.num_key_value_heads),
                                                    static_cast<size_t>(c.head_dim), page_tokens, kv_bytes,
                                                    options.kv_type));
  e->pool_ = std::make_unique<KvPool>(std::move(pool));
  if (options.experts_in_ram) {
    std::vector<std::span<const MlpWeights>> per_layer;
    for (const auto& L : e->model_->weights().layers) per_layer.emplace_back(L.experts);
    GLMV_ASSIGN_OR_RETURN(e->resident_experts_, ResidentExperts::Copy(per_layer));
    e->ctx_.experts = e->resident_experts_.get();
  }
  if (options.expert_cache.budget_bytes > 0) {
    if (options.experts_in_ram) return Status::Error("--experts-in-ram and an expert cache exclude each other");
    const ModelFile* file = e->model_->storage().checkpoint->model_file();
    if (!file) {
      return Status::Error(model_dir + ": an expert cache reads experts from a .glmv model file (glmv convert makes one), "
                           "not from a Hugging Face directory");
    }
    std::vector<std::span<const MlpWeights>> per_layer;
    for (const auto& L : e->model_->weights().layers) per_layer.emplace_back(L.experts);
    GLMV_ASSIGN_OR_RETURN(e->cached_experts_, CachedExperts::Create(*file, per_layer, options.expert_cache));
    // From here on the experts' units in the mapping are out of bounds: code that reached an expert around
    // the cache would crash rather than quietly read the mapping. A unit's range up to the next 4 KiB holds
    // nothing else (io/model_file.h), so its last partial page goes too.
    for (const UnitView& u : file->units()) {
      const size_t padded = (u.bytes.size() + kModelFileDataAlign - 1) / kModelFileDataAlign * kModelFileDataAlign;
      GLMV_RETURN_IF_ERROR(HideMappedPages({u.bytes.data(), padded}).Annotate(file->path()));
    }
    e->ctx_.experts = e->cached_experts_.get();
    if (options.vision_lend_bytes > 0 && e->vision_) {
      for (const TensorView& t : file->tensors()) {
        if (t.name.starts_with(kVisionTensorPrefix)) e->vision_pages_.push_back(t.bytes);
      }
      // Whole slots, and never so many that a MoE step's num_experts_per_tok could not be held.
      const size_t slot = e->cached_experts_->slot_bytes();
      const size_t keep = static_cast<size_t>(std::max<int64_t>(c.num_experts_per_tok, 1));
      const size_t slots = e->cached_experts_->slots();
      e->vision_lend_slots_ = std::min((options.vision_lend_bytes + slot - 1) / slot, slots > keep ? slots - keep : 0);
    }
  }
  e->ctx_.threads = options.threads;
  e->ctx_.act_precision = options.act_precision;
  return e;
}

std::unique_ptr<Sequence> Engine::NewSequence() {
  std::unique_ptr<Sequence> s(new Sequence());
  s->owner_ = this;
  live_.push_back(s.get());
  s->id_ = next_id_++;
  s->started_ = Now();
  return s;
}

void Engine::ReadyToSample(Sequence& s, const SamplingParams& sampling, std::function<void(const std::string&)> on_text,
                           const std::atomic<bool>* cancel) {
  const size_t vocab = static_cast<size_t>(model_->config().vocab_size);
  const size_t allowed = tokenizer_ ? std::min(vocab, tokenizer_->size()) : vocab;
  s.sampler_ = std::make_unique<Sampler>(sampling, allowed);
  if (s.request_.logprobs) {  // sized once: the decode loop does not allocate for the row
    s.raw_logits_.resize(allowed);
    s.logprob_order_.reserve(s.request_.top_logprobs + 1);
    s.result_.logprobs.reserve(s.request_.max_tokens + 1);
  }
  if (tokenizer_) s.stream_ = std::make_unique<Tokenizer::StreamDecoder>(*tokenizer_);
  s.on_text_ = std::move(on_text);
  s.cancel_ = cancel;
}

Result<std::unique_ptr<Sequence>> Engine::Start(const GenerateRequest& req, std::function<void(const std::string&)> on_text,
                                                const std::atomic<bool>* cancel) {
  if (req.prompt.empty()) return Status::Error("empty prompt");
  if (req.prompt.size() >= context_tokens_) {
    return Status::Error("prompt of " + std::to_string(req.prompt.size()) + " tokens does not fit the context of " +
                         std::to_string(context_tokens_) + " tokens (raise --ctx)");
  }
  if (!req.visual.empty() && !vision_) return vision_status_;
  std::unique_ptr<Sequence> s = NewSequence();
  s->request_.sampling = req.sampling;  // the prompt and pixels are kept below in prepared form
  s->request_.max_tokens = req.max_tokens;
  s->request_.stop = req.stop;
  s->request_.ignore_eos = req.ignore_eos;
  s->request_.logprobs = req.logprobs;
  s->request_.top_logprobs = req.top_logprobs;
  s->result_.prompt_tokens = req.prompt.size();
  // The text side now; the images and videos are encoded later by the steps, one stage per turn, unless a
  // shared prefix already covers them.
  GLMV_ASSIGN_OR_RETURN(s->prompt_, PrepareTextPrompt(*model_, vision_.get(), req.prompt, req.visual));
  const PreparedPrompt& prepared = s->prompt_;
  const size_t patch_values = vision_ ? static_cast<size_t>(vision_->patch_values()) : 0;
  const int64_t merge = vision_ ? vision_->config().spatial_merge_size : 1;
  GLMV_ASSIGN_OR_RETURN(s->kv_keys_, PromptContentKeys(req.prompt, prepared.modality, req.visual, patch_values, merge));
  s->kv_keys_.reserve(req.prompt.size() + req.max_tokens + 1);
  for (size_t i = 0; i < prepared.modality.size(); ++i) {
    if (prepared.modality[i] != static_cast<int64_t>(TokenModality::kText)) s->visual_end_ = i + 1;
  }
  s->prompt_ids_ = req.prompt;
  s->rope_delta_ = prepared.positions.rope_delta;
  s->kv_ = KvSequence(pool_.get(), static_cast<size_t>(model_->config().num_hidden_layers), context_tokens_);
  s->history_.reserve(req.prompt.size() + req.max_tokens + 1);
  s->history_ = req.prompt;
  s->result_.ids.reserve(req.max_tokens + 1);
  GLMV_RETURN_IF_ERROR(SharePrefix(*s));
  if (s->prefilled_ < s->visual_end_) {  // some visual rows still to prefill: their features are needed
    if (!req.visual.image_grids.empty()) {
      GLMV_ASSIGN_OR_RETURN(VisionEncoding e, vision_->BeginEncode(req.visual.image_pixels, req.visual.image_grids));
      s->encodings_.emplace_back(TokenModality::kImage, std::move(e));
    }
    if (!req.visual.video_grids.empty()) {
      GLMV_ASSIGN_OR_RETURN(VisionEncoding e, vision_->BeginEncode(req.visual.video_pixels, req.visual.video_grids));
      s->encodings_.emplace_back(TokenModality::kVideo, std::move(e));
    }
  }
  ReadyToSample(*s, req.sampling, std::move(on_text), cancel);
  return s;
}

Status Engine::SharePrefix(Sequence& s) {
  // At least the last prompt token is run again: its logits choose the first token.
  const size_t limit = s.prompt_ids_.size() - 1;
  const Sequence* best = nullptr;
  size_t best_len = 0;
  auto consider = [&](const Sequence* other) {
    if (other == &s) return;
    const auto keys = other->kv_keys();
    size_t n = 0;
    while (n < keys.size() && n < limit && keys[n] == s.kv_keys_[n]) ++n;
    if (n > best_len) best = other, best_len = n;
  };
  for (const Sequence* other : live_) consider(other);
  for (const auto& other : cached_) consider(other.get());
  if (!best) return Status::Ok();
  GLMV_RETURN_IF_ERROR(s.kv_.ShareFrom(best->kv_, best_len));
  s.prefilled_ = best_len;
  s.result_.reused_prompt_tokens = best_len;
  for (auto it = cached_.begin(); it != cached_.end(); ++it) {  // a cache hit is recently used
    if (it->get() == best) {
      cached_.splice(cached_.begin(), cached_, it);
      break;
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Sequence>> Engine::Fork(const Sequence& from, const SamplingParams& sampling,
                                               std::function<void(const std::string&)> on_text,
                                               const std::atomic<bool>* cancel) {
  if (from.encoding()) return Status::Error("fork: the sequence is still encoding its images");
  std::unique_ptr<Sequence> s = NewSequence();
  s->request_ = from.request_;
  s->request_.sampling = sampling;
  s->result_.prompt_tokens = from.prompt_ids_.size();
  s->prompt_ids_ = from.prompt_ids_;
  s->prompt_ = from.prompt_;
  s->rope_delta_ = from.rope_delta_;
  s->visual_end_ = from.visual_end_;
  s->kv_keys_ = std::vector<uint64_t>(from.kv_keys_.begin(), from.kv_keys_.begin() + static_cast<std::ptrdiff_t>(from.prompt_ids_.size()));
  s->kv_keys_.reserve(s->prompt_ids_.size() + s->request_.max_tokens + 1);
  s->kv_ = KvSequence(pool_.get(), static_cast<size_t>(model_->config().num_hidden_layers), context_tokens_);
  s->history_ = from.prompt_ids_;
  s->result_.ids.reserve(s->request_.max_tokens + 1);
  const size_t share = std::min(from.kv_.length(), from.prompt_ids_.size() - 1);
  if (share > 0) GLMV_RETURN_IF_ERROR(s->kv_.ShareFrom(from.kv_, share));
  s->prefilled_ = share;
  s->result_.reused_prompt_tokens = share;
  ReadyToSample(*s, sampling, std::move(on_text), cancel);
  return s;
}

Sequence::~Sequence() {
  if (!owner_) return;
  auto& live = owner_->live_;
  live.erase(std::remove(live.begin(), live.end(), this), live.end());
}

void Engine::Retire(std::unique_ptr<Sequence> s) {
  if (!s) return;
  cached_.push_front(std::move(s));
  TrimCache();
}

void Engine::TrimCache() {
  if (options_.prefix_cache_bytes == 0) return;
  auto bytes = [&] {
    size_t pages = 0;
    for (const auto& c : cached_) {
      for (size_t l = 0; l < c->kv_.layers(); ++l) pages += c->kv_.pages(l).size();
    }
    return pages * pool_->page_bytes();
  };
  while (!cached_.empty() && bytes() > options_.prefix_cache_bytes) cached_.pop_back();
}

Status Engine::Reserve(Sequence& s, size_t n) {
  for (;;) {
    const Status st = s.kv_.Reserve(n);
    if (st.ok() || cached_.empty() || s.kv_.length() + n > s.kv_.max_tokens()) return st;
    cached_.pop_back();  // the least recently used kept prefix gives its pages back
  }
}

void Engine::Fail(Sequence& s, const Status& status) {
  s.status_ = status;
  Finish(s, FinishReason::kError);
}

void Engine::Finish(Sequence& s, FinishReason reason) {
  if (s.finished()) return;
  s.result_.finish = reason;
  if (s.stream_ && reason != FinishReason::kStop && reason != FinishReason::kError) {
    s.pending_text_ += s.stream_->Flush();
    s.result_.text += s.pending_text_;
    if (s.on_text_ && !s.pending_text_.empty()) s.on_text_(s.pending_text_);
  }
  s.pending_text_.clear();
  s.result_.decode_seconds = s.decode_start_ < 0 ? 0.0 : Now() - s.decode_start_;
  s.phase_ = Sequence::Phase::kFinished;
}

// The sequence's next token from `logits` [vocab]: sampled, streamed, and checked against every way to end.
void Engine::AcceptToken(Sequence& s, float* logits) {
  const TextConfig& c = model_->config();
  const size_t vocab = static_cast<size_t>(c.vocab_size);
  // The step's own logits row: processors and penalties change it in place (no copy of the vocabulary).
  const std::span<float> row(logits, vocab);
  if (s.request_.logprobs) {  // the model's own distribution, before anything below changes the row
    std::copy_n(logits, s.raw_logits_.size(), s.raw_logits_.begin());
  }
  for (auto& p : s.processors_) p->Process(row, s.result_.ids);
  int64_t id = s.sampler_->Sample(row, s.history_);
  if (s.constraint_) {
    // The fast path checks the one id drawn; a refused draw masks the row and draws again, which samples
    // from the masked distribution. The penalties already changed the row in place: none the second time.
    if (!s.constraint_->Allows(id)) {
      s.constraint_->Mask(row);
      id = s.sampler_->Sample(row, {});
    }
    s.constraint_->Accept(id);
  }
  if (s.result_.ids.empty()) {
    s.result_.first_token_seconds = Now() - s.first_step_;
    s.decode_start_ = Now();
  }
  s.result_.ids.push_back(id);
  s.history_.push_back(id);
  const bool eos = std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), id) != c.eos_token_ids.end();
  if (eos && !s.request_.ignore_eos) return Finish(s, FinishReason::kEos);
  if (s.request_.logprobs) {
    s.result_.logprobs.push_back(RawLogprobs(s.raw_logits_, id, s.request_.top_logprobs, s.logprob_order_));
  }
  if (s.stream_) {
    std::string& pending = s.pending_text_;
    pending += s.stream_->Push(id);
    auto emit = [&](size_t count) {
      if (count == 0) return;
      s.piece_.assign(pending, 0, count);  // reuses the sequence's buffer
      s.result_.text += s.piece_;
      if (s.on_text_) s.on_text_(s.piece_);
      pending.erase(0, count);
    };
    for (const auto& stop : s.request_.stop) {
      if (stop.empty()) continue;
      if (const size_t at = pending.find(stop); at != std::string::npos) {
        emit(at);
        return Finish(s, FinishReason::kStop);
      }
    }
    emit(pending.size() - HeldBack(pending, s.request_.stop));
  }
  if (s.cancel_ && s.cancel_->load()) return Finish(s, FinishReason::kCancelled);
  if (s.result_.ids.size() >= s.request_.max_tokens) return Finish(s, FinishReason::kLength);
  s.next_token_ = id;
  s.phase_ = Sequence::Phase::kDecode;
}

void Engine::ReturnVisionShare() {
  if (!vision_share_lent_) return;  // checked every step: no lock on the cache's table for it
  vision_share_lent_ = false;
  // The tower's pages leave this process's memory (they stay in the page cache, reclaimable), and the
  // expert cache has its slots again until the next encode parks them.
  for (const auto& pages : vision_pages_) ReleaseMappedPages(pages);
  cached_experts_->Unpark();
}

void Engine::Step(std::span<Sequence* const> decode, Sequence* prefill) {
  if (ctx_.threads > 0) SetNumThreads(ctx_.threads);  // OpenMP's thread count is per calling thread
  const TextConfig& c = model_->config();
  const size_t H = static_cast<size_t>(c.hidden_size);
  RuntimeContext& x = ctx_;
  x.groups.clear();
  x.rows_of.clear();
  x.positions.t.clear(), x.positions.h.clear(), x.positions.w.clear();
  size_t rows = 0;
  const double now = Now();
  // One stage of the prefilling sequence's vision encode, or else its next prefill chunk; then one row per
  // decoding sequence. Each reserves its KV room or ends alone.
  const bool vision_stage = prefill && prefill->prefilling() && prefill->encoding();
  if (!vision_stage) ReturnVisionShare();  // an encode that ended otherwise (its sequence failed or was dropped)
  if (vision_stage) {
    Sequence& s = *prefill;
    if (s.first_step_ < 0) s.first_step_ = now;
    auto& [kind, encoding] = s.encodings_.front();
    if (encoding.next_stage == 0) (kind == TokenModality::kImage ? images_encoded_ : videos_encoded_) += encoding.grids.size();
    // The tower's share of the budget back from the expert cache while it runs (a no-op once parked).
    if (vision_lend_slots_ > 0) {
      cached_experts_->Park(vision_lend_slots_);
      vision_share_lent_ = true;
    }
    vision_->EncodeStage(encoding, ctx_.scratch.linear);
    if (encoding.done()) {
      const Status st = ScatterVisualFeatures(s.prompt_, kind, encoding.features, H);
      s.encodings_.erase(s.encodings_.begin());
      if (!st.ok()) Fail(s, st);
    }
    if (s.encodings_.empty()) ReturnVisionShare();
    s.result_.vision_seconds += Now() - now;
  } else if (prefill && prefill->prefilling()) {
    Sequence& s = *prefill;
    const size_t n = std::min(options_.prefill_chunk, s.prompt_ids_.size() - s.prefilled_);
    if (Status st = Reserve(s, n); !st.ok()) {
      Fail(s, st);
    } else {
      if (s.first_step_ < 0) s.first_step_ = now;
      x.x.resize((rows + n) * H);
      std::copy_n(s.prompt_.embeddings.data() + s.prefilled_ * H, n * H, x.x.data() + rows * H);
      const MRopePositions& p = s.prompt_.positions.positions;
      for (size_t i = s.prefilled_; i < s.prefilled_ + n; ++i) x.positions.Append(p.t[i], p.h[i], p.w[i]);
      const bool last = s.prefilled_ + n == s.prompt_ids_.size();
      x.groups.push_back({&s.kv_, n, false, last ? LogitsWanted::kLast : LogitsWanted::kNone});
      x.rows_of.push_back(&s);
      rows += n;
    }
  }
  for (Sequence* sp : decode) {
    Sequence& s = *sp;
    if (s.phase_ != Sequence::Phase::kDecode || &s == prefill) continue;
    if (!Reserve(s, 1).ok()) {
      Finish(s, FinishReason::kContextFull);
      continue;
    }
    x.x.resize((rows + 1) * H);
    if (Status st = model_->Embed(std::span<const int64_t>(&s.next_token_, 1), x.x.data() + rows * H); !st.ok()) {
      Fail(s, st);
      continue;
    }
    const int64_t pos = static_cast<int64_t>(s.kv_.length()) + s.rope_delta_;
    x.positions.Append(pos, pos, pos);
    x.groups.push_back({&s.kv_, 1, true, LogitsWanted::kLast});
    x.rows_of.push_back(&s);
    rows += 1;
  }
  if (rows == 0) return;
  ForwardOptions fo;
  fo.precision = x.act_precision;
  fo.observer = x.observer;
  fo.trace = x.trace;
  fo.experts = x.experts;
  const Status st = model_->Forward(x.scratch, x.x.data(), x.positions, x.groups, fo, x.logits);
  if (!st.ok()) {  // not any one sequence's fault (e.g. a broken invariant): every sequence of the step ends
    for (Sequence* s : x.rows_of) Fail(*s, st);
    return;
  }
  const size_t vocab = static_cast<size_t>(c.vocab_size);
  size_t logit_row = 0;
  const double after = Now();
  for (size_t g = 0; g < x.groups.size(); ++g) {
    Sequence& s = *x.rows_of[g];
    if (s.prefilling()) {
      s.prefilled_ += x.groups[g].n;
      s.result_.prefill_seconds += after - now;
      if (x.groups[g].logits == LogitsWanted::kNone) continue;
    } else {
      s.kv_keys_.push_back(TextKey(s.next_token_));
    }
    AcceptToken(s, x.logits.data() + logit_row * vocab);
    ++logit_row;
  }
}

void Engine::RunToCompletion(std::span<Sequence* const> sequences) {
  std::vector<Sequence*> running;
  running.reserve(sequences.size());
  for (;;) {
    Sequence* prefill = nullptr;
    running.clear();
    for (Sequence* s : sequences) {
      if (s->finished()) continue;
      if (s->prefilling()) {
        if (!prefill) prefill = s;
      } else {
        running.push_back(s);
      }
    }
    if (!prefill && running.empty()) return;
    Step(running, prefill);
  }
}

Result<GenerateResult> Engine::Generate(const GenerateRequest& request, const std::function<void(const std::string&)>& on_text,
                                        const std::atomic<bool>* cancel) {
  GLMV_ASSIGN_OR_RETURN(std::unique_ptr<Sequence> s, Start(request, on_text, cancel));
  Sequence* one = s.get();
  RunToCompletion(std::span<Sequence* const>(&one, 1));
  if (!s->status().ok()) return s->status();
  GenerateResult result = s->result();
  Retire(std::move(s));
  return result;
}

}  // namespace glmv
