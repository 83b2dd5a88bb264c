#include "lib/tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "lib/model/model_assets.h"
#include "lib/tokenizer/tokenizer_utf8.h"

namespace glmv {
namespace {

// Pieces longer than this are not cached: they are rare and would let one input bloat the cache.
constexpr size_t kMaxCachedPiece = 256;
// The cache is dropped when it reaches this many entries, which bounds its memory (~10 MB).
constexpr size_t kMaxCacheEntries = 1 << 16;
constexpr size_t kMaxBpePiece = size_t{1} << 30;

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::LoadFromDir(const std::string& dir) {
  namespace fs = std::filesystem;
  if (IsModelFile(dir)) {  // a converted model carries its tokenizer.json as metadata
    GLMV_ASSIGN_OR_RETURN(const auto text, ReadModelAsset(dir, "tokenizer.json"));
    if (!text) return Status::Error(dir + ": the model file holds no tokenizer.json");
    return FromHfJsonText(*text, dir + ":tokenizer.json");
  }
  const fs::path json = fs::path(dir) / "tokenizer.json";
  const fs::path ranks = fs::path(dir) / "tokenizer.model";
  const fs::path config = fs::path(dir) / "tokenizer_config.json";
  if (fs::exists(json)) return FromHfJson(json.string());
  if (fs::exists(ranks)) {
    if (!fs::exists(config)) {
      return Status::Error(ranks.string() + " needs " + config.string() + " for its added tokens, which is missing");
    }
    return FromTiktoken(ranks.string(), config.string());
  }
  return Status::Error("no tokenizer in " + dir + ": neither tokenizer.json nor tokenizer.model exists");
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::Create(TokenizerParts parts) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  const Vocab& vocab = *parts.vocab;
  int64_t max_id = static_cast<int64_t>(vocab.bytes.size()) - 1;
  for (const AddedToken& a : parts.added) {
    if (a.content.empty()) return Status::Error(parts.source + ": added token " + std::to_string(a.id) + " is empty");
    if (a.id < 0 || a.id > kMaxTokenId) {
      return Status::Error(parts.source + ": added token \"" + a.content + "\" has id " + std::to_string(a.id) +
                           " outside [0, " + std::to_string(kMaxTokenId) + "]");
    }
    max_id = std::max(max_id, a.id);
  }
  t->text_.assign(static_cast<size_t>(max_id + 1), std::string());
  t->kind_.assign(static_cast<size_t>(max_id + 1), kAbsent);
  for (size_t id = 0; id < vocab.bytes.size(); ++id) {
    if (vocab.bytes[id].empty()) continue;
    t->text_[id] = vocab.bytes[id];
    t->kind_[id] = kRegular;
  }
  t->added_by_first_byte_.resize(256);
  for (const AddedToken& a : parts.added) {
    const auto id = static_cast<size_t>(a.id);
    // An added token may reuse a regular id (Hugging Face allows it); two added tokens may not share one.
    if (t->kind_[id] == kAdded || t->kind_[id] == kAddedSpecial) {
      return Status::Error(parts.source + ": two added tokens have id " + std::to_string(a.id));
    }
    if (!t->added_ids_.emplace(a.content, a.id).second) {
      return Status::Error(parts.source + ": added token \"" + a.content + "\" appears twice");
    }
    t->text_[id] = a.content;
    t->kind_[id] = a.special ? kAddedSpecial : kAdded;
    t->added_by_first_byte_[static_cast<uint8_t>(a.content[0])].push_back(static_cast<uint32_t>(t->added_.size()));
    t->added_.push_back(a);
  }
  for (auto& list : t->added_by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [&](uint32_t x, uint32_t y) {
      return t->added_[x].content.size() > t->added_[y].content.size();
    });
  }
  t->vocab_ = std::move(parts.vocab);
  t->bpe_ = std::move(parts.bpe);
  t->pre_tokenizer_ = std::move(parts.pre_tokenizer);
  t->source_ = std::move(parts.source);
  return t;
}

std::optional<std::pair<size_t, size_t>> Tokenizer::FindAdded(std::string_view text, size_t from) const {
  for (size_t pos = from; pos < text.size(); ++pos) {
    for (uint32_t index : added_by_first_byte_[static_cast<uint8_t>(text[pos])]) {
      if (text.substr(pos).starts_with(added_[index].content)) return std::make_pair(size_t{index}, pos);
    }
  }
  return std::nullopt;
}

std::vector<int64_t> Tokenizer::Encode(std::string_view text) const {
  std::vector<int64_t> out;
  out.reserve(text.size() / 3 + 1);
  size_t pos = 0;
  while (pos < text.size()) {
    const auto found = FindAdded(text, pos);
    const size_t end = found ? found->second : text.size();
    EncodePlain(text.substr(pos, end - pos), out);
    if (!found) break;
    const AddedToken& a = added_[found->first];
    out.push_back(a.id);
    pos = end + a.content.size();
  }
  return out;
}

std::vector<int64_t> Tokenizer::EncodeOrdinary(std::string_view text) const {
  std::vector<int64_t> out;
  out.reserve(text.size() / 3 + 1);
  EncodePlain(text, out);
  return out;
}

void Tokenizer::EncodePlain(std::string_view text, std::vector<int64_t>& out) const {
  // Cut the text into well-formed UTF-8 runs (for the regex) and single ill-formed bytes, which have no
  // reference behaviour (Python strings cannot hold them) and become their byte tokens.
  size_t run = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t len = Utf8CharLength(text.substr(pos));
    if (len != 0) {
      pos += len;
      continue;
    }
    if (pos > run) EncodeValidUtf8(text.substr(run, pos - run), out);
    out.push_back(vocab_->byte_ids[static_cast<uint8_t>(text[pos])]);
    run = ++pos;
  }
  if (run < text.size()) EncodeValidUtf8(text.substr(run), out);
}

void Tokenizer::EncodeValidUtf8(std::string_view text, std::vector<int64_t>& out) const {
  std::vector<std::string_view> pieces;
  pre_tokenizer_->Split(text, pieces);
  for (std::string_view piece : pieces) EncodePiece(piece, out);
}

void Tokenizer::EncodePiece(std::string_view piece, std::vector<int64_t>& out) const {
  // BPE indexes a piece with 32-bit offsets; a longer piece (one regex match over a gigabyte of
  // letters) is cut, which can change tokens only at the cut.
  while (piece.size() > kMaxBpePiece) {
    EncodePiece(piece.substr(0, kMaxBpePiece), out);
    piece.remove_prefix(kMaxBpePiece);
  }
  const bool cacheable = piece.size() <= kMaxCachedPiece;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (auto it = cache_.find(piece); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  bpe_->Encode(piece, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_.emplace(std::string(piece), std::move(ids));
  }
}

std::string Tokenizer::Decode(std::span<const int64_t> ids) const {
  std::string out;
  for (int64_t id : ids) {
    if (id >= 0 && static_cast<size_t>(id) < text_.size()) out += text_[static_cast<size_t>(id)];
  }
  return out;
}

std::string Tokenizer::TokenText(int64_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= text_.size()) return std::string();
  return text_[static_cast<size_t>(id)];
}

std::optional<int64_t> Tokenizer::TokenId(std::string_view token) const {
  if (auto it = added_ids_.find(std::string(token)); it != added_ids_.end()) return it->second;
  const int32_t id = vocab_->Find(token);
  if (id >= 0) return id;
  return std::nullopt;
}

bool Tokenizer::IsSpecial(int64_t id) const {
  return id >= 0 && static_cast<size_t>(id) < kind_.size() && kind_[static_cast<size_t>(id)] == kAddedSpecial;
}

bool Tokenizer::IsAdded(int64_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= kind_.size()) return false;
  const Kind k = kind_[static_cast<size_t>(id)];
  return k == kAdded || k == kAddedSpecial;
}

std::string Tokenizer::StreamDecoder::Push(int64_t id) {
  pending_ += tokenizer_.TokenText(id);
  const size_t hold = IncompleteUtf8Tail(pending_);
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string Tokenizer::StreamDecoder::Flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace glmv
