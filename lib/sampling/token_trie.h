// The vocabulary's byte strings as a trie, walked with a GrammarMatcher to find every token the grammar
// allows next: a prefix shared by many tokens is matched once, and a prefix the grammar refuses skips all
// tokens below it. Nodes are stored in depth-first order with the index one past their subtree, so the walk
// is a loop over an array (no pointers, no recursion).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/sampling/grammar_matcher.h"
#include "lib/tokenizer/tokenizer.h"

namespace glmv {

class TokenTrie {
 public:
  // token_bytes[id]: what token `id` writes; empty: the id is never allowed (no bytes: special tokens,
  // unused ids). The trie's vocabulary is token_bytes.size() ids.
  explicit TokenTrie(const std::vector<std::string>& token_bytes);
  // The tokenizer's regular tokens (its added tokens, special or not, get no bytes: a constrained answer is
  // plain text), over `vocab` ids (the model's vocabulary may be larger than the tokenizer's).
  static std::shared_ptr<const TokenTrie> FromTokenizer(const Tokenizer& tokenizer, size_t vocab);

  size_t vocab() const { return bytes_.size(); }
  const std::string& bytes(int64_t id) const { return bytes_[static_cast<size_t>(id)]; }
  size_t num_nodes() const { return nodes_.size(); }

  // Sets the bit of every token whose bytes `matcher` accepts from state `from` in `allowed` (a bitset over
  // vocab() ids, bit id % 64 of word id / 64; resized and cleared first). The matcher's state is not changed;
  // `scratch` holds the walk's state at each depth (the caller's, reused across calls, so one trie serves
  // many sequences).
  void Allowed(GrammarMatcher& matcher, GrammarMatcher::StateId from, std::vector<GrammarMatcher::StateId>& scratch,
               std::vector<uint64_t>& allowed) const;

 private:
  struct Node {
    uint32_t end;                        // one past the last node of this node's subtree
    uint32_t tokens_begin, tokens_end;   // ids ending here: token_ids_[tokens_begin, tokens_end)
    uint16_t depth;                      // bytes from the root (the root is 0)
    uint8_t byte;                        // the byte leading here from the parent
  };
  std::vector<std::string> bytes_;
  std::vector<Node> nodes_;  // nodes_[0] is the root (the empty prefix)
  std::vector<uint32_t> token_ids_;
  size_t max_depth_ = 0;  // the longest token's bytes
};

}  // namespace glmv
