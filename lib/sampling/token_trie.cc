#include "lib/sampling/token_trie.h"

#include <algorithm>

namespace glmv {

TokenTrie::TokenTrie(const std::vector<std::string>& token_bytes) : bytes_(token_bytes) {
  std::vector<uint32_t> order;
  for (size_t id = 0; id < bytes_.size(); ++id) {
    if (!bytes_[id].empty()) order.push_back(static_cast<uint32_t>(id));
  }
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return bytes_[a] < bytes_[b] || (bytes_[a] == bytes_[b] && a < b); });
  // In sorted order each string shares a prefix with the previous one: close the nodes below that prefix
  // (their subtrees are complete), open nodes for the rest.
  nodes_.push_back({0, 0, 0, 0, 0});
  std::vector<uint32_t> path = {0};  // path[d]: the open node at depth d
  const std::string* previous = nullptr;
  for (const uint32_t id : order) {
    const std::string& s = bytes_[id];
    size_t common = 0;
    if (previous) {
      while (common < s.size() && common < previous->size() && s[common] == (*previous)[common]) ++common;
    }
    while (path.size() > common + 1) {
      nodes_[path.back()].end = static_cast<uint32_t>(nodes_.size());
      path.pop_back();
    }
    for (size_t d = common; d < s.size(); ++d) {
      path.push_back(static_cast<uint32_t>(nodes_.size()));
      const auto t = static_cast<uint32_t>(token_ids_.size());
      nodes_.push_back({0, t, t, static_cast<uint16_t>(d + 1), static_cast<uint8_t>(s[d])});
    }
    Node& leaf = nodes_[path.back()];
    if (leaf.tokens_end != token_ids_.size()) leaf.tokens_begin = leaf.tokens_end = static_cast<uint32_t>(token_ids_.size());
    token_ids_.push_back(id);
    ++leaf.tokens_end;
    max_depth_ = std::max(max_depth_, s.size());
    previous = &s;
  }
  for (const uint32_t n : path) nodes_[n].end = static_cast<uint32_t>(nodes_.size());
}

std::shared_ptr<const TokenTrie> TokenTrie::FromTokenizer(const Tokenizer& tokenizer, size_t vocab) {
  std::vector<std::string> bytes(vocab);
  const size_t n = std::min(vocab, tokenizer.size());
  for (size_t id = 0; id < n; ++id) {
    if (!tokenizer.IsAdded(static_cast<int64_t>(id))) bytes[id] = tokenizer.TokenText(static_cast<int64_t>(id));
  }
  return std::make_shared<const TokenTrie>(bytes);
}

void TokenTrie::Allowed(GrammarMatcher& matcher, GrammarMatcher::StateId from,
                        std::vector<GrammarMatcher::StateId>& scratch, std::vector<uint64_t>& allowed) const {
  allowed.assign((bytes_.size() + 63) / 64, 0);
  if (scratch.size() < max_depth_ + 1) scratch.resize(max_depth_ + 1);
  scratch[0] = from;
  const auto n = static_cast<uint32_t>(nodes_.size());
  for (uint32_t i = 1; i < n;) {
    const Node& node = nodes_[i];
    const GrammarMatcher::StateId here = matcher.Next(scratch[node.depth - 1], node.byte);
    if (here == GrammarMatcher::kDead) {  // no token below this prefix can be allowed
      i = node.end;
      continue;
    }
    scratch[node.depth] = here;
    for (uint32_t t = node.tokens_begin; t < node.tokens_end; ++t) {
      const uint32_t id = token_ids_[t];
      allowed[id >> 6] |= uint64_t{1} << (id & 63);
    }
    ++i;
  }
}

}  // namespace glmv
