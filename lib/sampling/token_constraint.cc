#include "lib/sampling/token_constraint.h"

#include <algorithm>
#include <limits>

namespace glmv {
namespace {

constexpr size_t kCachedMasks = 4;         // 19 KB each at a 151K vocabulary
constexpr size_t kMaxMatchStates = 4096;   // the matcher's tables hold about 1 KB per state

}  // namespace

std::optional<int64_t> ThinkEndToken(const Tokenizer& tokenizer) { return tokenizer.TokenId("</think>"); }

TokenConstraint::TokenConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie,
                                 TokenConstraintOptions options)
    : matcher_(std::move(grammar)), trie_(std::move(trie)), options_(std::move(options)),
      armed_(!options_.arm_after_token.has_value()) {
  masks_.reserve(kCachedMasks);
}

bool TokenConstraint::IsEos(int64_t id) const {
  return std::find(options_.eos_ids.begin(), options_.eos_ids.end(), id) != options_.eos_ids.end();
}

const std::string* TokenConstraint::BytesOf(int64_t id) const {
  for (const auto& [token, text] : options_.text_tokens) {
    if (token == id) return &text;
  }
  if (id < 0 || static_cast<size_t>(id) >= trie_->vocab() || trie_->bytes(id).empty()) return nullptr;
  return &trie_->bytes(id);
}

bool TokenConstraint::Allows(int64_t id) {
  if (!armed_) return true;
  if (IsEos(id)) return matcher_.Complete() || OnlyEos();
  if (OnlyEos()) return false;
  const std::string* bytes = BytesOf(id);
  return bytes && matcher_.Accepts(*bytes);
}

const std::vector<uint64_t>& TokenConstraint::AllowedIds() {
  const GrammarMatcher::StateId state = matcher_.state();
  ++uses_;
  for (CachedMask& m : masks_) {
    if (m.state == state) {
      m.last_used = uses_;
      return m.bits;
    }
  }
  if (masks_.size() < kCachedMasks) masks_.push_back({});  // reserved: references stay valid
  CachedMask& m = *std::min_element(masks_.begin(), masks_.end(),
                                    [](const CachedMask& a, const CachedMask& b) { return a.last_used < b.last_used; });
  m.state = state;
  m.last_used = uses_;
  trie_->Allowed(matcher_, state, scratch_, m.bits);
  for (const auto& [id, text] : options_.text_tokens) {
    if (id < 0 || static_cast<size_t>(id) >= trie_->vocab() || !matcher_.Accepts(text)) continue;
    m.bits[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (id & 63);
  }
  const bool any = std::any_of(m.bits.begin(), m.bits.end(), [](uint64_t w) { return w != 0; });
  // eos: once the answer is complete, or when nothing else is possible (so that the sequence ends).
  const bool eos = matcher_.Complete() || !any;
  for (const int64_t id : options_.eos_ids) {
    if (id < 0 || static_cast<size_t>(id) >= trie_->vocab()) continue;
    const uint64_t bit = uint64_t{1} << (id & 63);
    uint64_t& word = m.bits[static_cast<size_t>(id) >> 6];
    word = eos ? word | bit : word & ~bit;
  }
  return m.bits;
}

void TokenConstraint::Mask(std::span<float> logits) {
  if (!armed_) return;
  const std::vector<uint64_t>& bits = AllowedIds();
  const size_t n = std::min(logits.size(), trie_->vocab());
  constexpr float kNever = -std::numeric_limits<float>::infinity();
  for (size_t word = 0; word * 64 < n; ++word) {
    const uint64_t w = bits[word];
    if (w == ~uint64_t{0}) continue;
    const size_t end = std::min(n, word * 64 + 64);
    for (size_t id = word * 64; id < end; ++id) {
      if (!((w >> (id & 63)) & 1)) logits[id] = kNever;
    }
  }
  // Ids past the trie's vocabulary: an eos id among them follows the same rule, the others never come.
  const bool eos = matcher_.Complete() || OnlyEos();
  for (size_t id = n; id < logits.size(); ++id) {
    if (!(eos && IsEos(static_cast<int64_t>(id)))) logits[id] = kNever;
  }
}

bool TokenConstraint::Accept(int64_t id) {
  if (!armed_) {
    if (id == options_.arm_after_token) {
      armed_ = true;
      matcher_.Reset();
      masks_.clear();
    }
    return true;
  }
  if (IsEos(id)) return Allows(id);
  const std::string* bytes = BytesOf(id);
  if (!bytes || !matcher_.Advance(*bytes)) return false;
  if (matcher_.Compact(kMaxMatchStates)) masks_.clear();  // state ids changed
  return true;
}

}  // namespace glmv
