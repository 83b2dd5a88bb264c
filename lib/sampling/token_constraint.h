// One sequence's grammar constraint on its tokens (response_format): which ids may come next, and the
// grammar advanced by each id generated. The engine asks Allows() of the token it sampled, and only when
// that fails masks the whole row and samples again (the mask walks the token trie: tens of microseconds to
// milliseconds at a 151K vocabulary, where Allows costs the length of one token).
//
// End of sequence: the eos ids are allowed only once the grammar is complete (the answer parses); once it
// is complete and nothing may follow, only they are allowed. If the grammar has nowhere to go (only past the
// matcher's nesting limit), eos is allowed so that the sequence ends rather than runs on.
//
// Arming: with `arm_after_token` (the id of `</think>`, see ThinkEndToken), everything is allowed and
// nothing advances the grammar until that token has been generated; the answer after it is constrained.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <span>
#include <vector>

#include "lib/sampling/grammar_matcher.h"
#include "lib/sampling/token_trie.h"
#include "lib/tokenizer/tokenizer.h"

namespace glmv {

struct TokenConstraintOptions {
  std::vector<int64_t> eos_ids;           // the model's end-of-sequence ids (TextConfig::eos_token_ids)
  std::optional<int64_t> arm_after_token;  // constrain only after this id was generated
  // Added tokens that count as their text here (the trie holds regular tokens only): each may come next
  // when the grammar accepts its text. GLM's <tool_call>, <arg_key>, ... for the tool-call format, so that a
  // forced call can be written with the tokens the model was trained on (their text is the same either way).
  std::vector<std::pair<int64_t, std::string>> text_tokens = {};
};

// The id of `</think>` in `tokenizer` (the end of GLM's thinking block), if it has one.
std::optional<int64_t> ThinkEndToken(const Tokenizer& tokenizer);

class TokenConstraint {
 public:
  TokenConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie,
                  TokenConstraintOptions options);

  // Whether `id` may come next: the cost of matching its bytes.
  bool Allows(int64_t id);
  // Sets every id that may not come next to -infinity. logits: [vocab] (ids past the trie's vocabulary,
  // e.g. the model's padding rows, are never allowed).
  void Mask(std::span<float> logits);
  // The ids that may come next, as a bitset over the trie's vocabulary (see IsSet): what Mask keeps. Valid
  // until the next call. Computed by a trie walk, or found among the last few states' (a free string's
  // characters all lead back to one state, so a long string walks the trie once).
  const std::vector<uint64_t>& AllowedIds();
  static bool IsSet(const std::vector<uint64_t>& bits, size_t id) { return (bits[id >> 6] >> (id & 63)) & 1; }
  // Advances the grammar by `id`'s bytes. False (and nothing changes) when `id` is not allowed.
  bool Accept(int64_t id);
  // The answer so far is complete: it parses and satisfies the grammar.
  bool Complete() const { return armed_ && matcher_.Complete(); }
  // Generation so far is under the grammar (always, without arm_after_token).
  bool armed() const { return armed_; }
  const GrammarMatcher& matcher() const { return matcher_; }

 private:
  bool IsEos(int64_t id) const;
  // The bytes `id` writes under the grammar: the trie's, or a text token's; null when it writes none.
  const std::string* BytesOf(int64_t id) const;
  // Nothing but eos may follow: the grammar is complete and can take no more bytes, or has died.
  bool OnlyEos() const { return !matcher_.CanContinue(); }

  struct CachedMask {
    GrammarMatcher::StateId state;
    uint64_t last_used;
    std::vector<uint64_t> bits;
  };

  GrammarMatcher matcher_;
  std::shared_ptr<const TokenTrie> trie_;
  TokenConstraintOptions options_;
  bool armed_ = true;
  std::vector<CachedMask> masks_;  // the last few states' AllowedIds, least recently used replaced
  uint64_t uses_ = 0;
  std::vector<GrammarMatcher::StateId> scratch_;  // the trie walk's states
};

}  // namespace glmv
