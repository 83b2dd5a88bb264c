#include "lib/engine/engine.h"

#include "lib/model/model_assets.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

namespace glmv {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

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
  }
  return "?";
}

Result<std::unique_ptr<Engine>> Engine::Load(const std::string& model_dir, const EngineOptions& options) {
  std::unique_ptr<Engine> e(new Engine());
  GLMV_ASSIGN_OR_RETURN(e->model_, TextModel::Load(model_dir));
  if (e->model_->model_config().has_vision) {
    auto vision = VisionModel::Create(e->model_->model_config(), *e->model_->storage().checkpoint);
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
  size_t ctx = options.context_tokens;
  const int64_t max_pos = e->model_->config().max_position_embeddings;
  if (max_pos > 0) ctx = std::min(ctx, static_cast<size_t>(max_pos));
  e->cache_ = e->model_->NewCache(std::max<size_t>(ctx, 1));
  return e;
}

void Engine::ResetCache() {
  cache_.length = 0;
  cached_ids_.clear();
}

Result<GenerateResult> Engine::Generate(const GenerateRequest& req, const std::function<void(const std::string&)>& on_text,
                                        const std::atomic<bool>* cancel) {
  const TextConfig& c = model_->config();
  GenerateResult result;
  result.prompt_tokens = req.prompt.size();
  if (req.prompt.empty()) return Status::Error("empty prompt");
  if (req.prompt.size() >= cache_.capacity) {
    return Status::Error("prompt of " + std::to_string(req.prompt.size()) + " tokens does not fit the context of " +
                         std::to_string(cache_.capacity) + " tokens (raise --ctx)");
  }
  if (!req.visual.empty() && !vision_) return vision_status_;
  const auto tv = Clock::now();
  GLMV_ASSIGN_OR_RETURN(PreparedPrompt prepared, PreparePrompt(*model_, vision_.get(), req.prompt, req.visual));
  result.vision_seconds = req.visual.empty() ? 0.0 : Since(tv);
  // Reuse the cached prefix, but never past the first visual placeholder (the same placeholder ids stand
  // for different pictures); at least the last prompt token is run again to get its logits.
  size_t limit = req.prompt.size() - 1;
  for (size_t i = 0; i < prepared.modality.size(); ++i) {
    if (prepared.modality[i] != static_cast<int64_t>(TokenModality::kText)) {
      limit = std::min(limit, i);
      break;
    }
  }
  size_t reuse = 0;
  while (reuse < cached_ids_.size() && reuse < limit && cached_ids_[reuse] == req.prompt[reuse]) ++reuse;
  cache_.length = reuse;
  cached_ids_.resize(reuse);
  result.reused_prompt_tokens = reuse;

  const size_t H = static_cast<size_t>(c.hidden_size);
  const size_t n = req.prompt.size() - reuse;
  const MRopePositions& all = prepared.positions.positions;
  MRopePositions positions;
  for (size_t i = reuse; i < req.prompt.size(); ++i) positions.Append(all.t[i], all.h[i], all.w[i]);
  const int64_t rope_delta = prepared.positions.rope_delta;
  std::vector<float> logits;
  const auto t0 = Clock::now();
  GLMV_RETURN_IF_ERROR(model_->Forward(prepared.embeddings.data() + reuse * H, n, positions, cache_, false, logits));
  cached_ids_.insert(cached_ids_.end(), req.prompt.begin() + static_cast<std::ptrdiff_t>(reuse), req.prompt.end());
  result.prefill_seconds = Since(t0);

  const size_t vocab = static_cast<size_t>(c.vocab_size);
  const size_t allowed = tokenizer_ ? std::min(vocab, tokenizer_->size()) : vocab;
  Sampler sampler(req.sampling, allowed);
  std::vector<int64_t> history = req.prompt;  // penalties see the prompt too, as in HF
  std::unique_ptr<Tokenizer::StreamDecoder> stream =
      tokenizer_ ? std::make_unique<Tokenizer::StreamDecoder>(*tokenizer_) : nullptr;
  std::string pending;  // decoded text not yet passed on (may be the start of a stop string)
  const auto t1 = Clock::now();
  std::vector<float> step_x(H);
  auto emit = [&](size_t count) {
    if (count == 0) return;
    const std::string piece = pending.substr(0, count);
    result.text += piece;
    if (on_text) on_text(piece);
    pending.erase(0, count);
  };
  result.finish = FinishReason::kLength;
  for (size_t step = 0; step < req.max_tokens; ++step) {
    const int64_t id = sampler.Sample(logits, history);
    if (step == 0) result.first_token_seconds = Since(t0);
    result.ids.push_back(id);
    history.push_back(id);
    const bool eos = std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), id) != c.eos_token_ids.end();
    if (eos && !req.ignore_eos) {
      result.finish = FinishReason::kEos;
      break;
    }
    if (stream) {
      pending += stream->Push(id);
      bool stopped = false;
      for (const auto& s : req.stop) {
        if (s.empty()) continue;
        if (const size_t at = pending.find(s); at != std::string::npos) {
          emit(at);
          stopped = true;
          break;
        }
      }
      if (stopped) {
        result.finish = FinishReason::kStop;
        pending.clear();
        break;
      }
      emit(pending.size() - HeldBack(pending, req.stop));
    }
    if (cancel && cancel->load()) {
      result.finish = FinishReason::kCancelled;
      break;
    }
    if (step + 1 == req.max_tokens) break;
    if (cache_.length + 1 > cache_.capacity) {
      result.finish = FinishReason::kContextFull;
      break;
    }
    GLMV_RETURN_IF_ERROR(model_->Embed(std::span<const int64_t>(&id, 1), step_x.data()));
    const int64_t pos = static_cast<int64_t>(cache_.length) + rope_delta;
    GLMV_RETURN_IF_ERROR(model_->Forward(step_x.data(), 1, MRopePositions::Text(pos, 1), cache_, false, logits));
    cached_ids_.push_back(id);
  }
  if (stream && result.finish != FinishReason::kStop) {
    pending += stream->Flush();
    emit(pending.size());
  }
  result.decode_seconds = Since(t1);
  return result;
}

}  // namespace glmv
