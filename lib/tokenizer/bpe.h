// Byte-level BPE over one pre-tokenized piece, in the two forms the tokenizer files describe:
//  - rank BPE (tiktoken): repeatedly merge the adjacent pair whose concatenation has the lowest rank;
//    a token's rank is its id.
//  - merge BPE (Hugging Face `model.merges`): start from one token per byte and repeatedly apply the
//    listed merge (left id, right id) with the lowest index, leftmost first.
// Both run on a linked list of parts with a min-heap of candidate pairs, O(n log n) per piece, so a
// piece of 10k spaces costs milliseconds, not the O(n^2) of the textbook loop.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace glmv {

// Hash that lets unordered_map<std::string, ...> be searched with a string_view without a copy.
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using BytesToId = std::unordered_map<std::string, int32_t, StringViewHash, std::equal_to<>>;

// Largest token id a file may use. Tables are indexed by id, so a malformed file with id 2^31 would
// otherwise allocate gigabytes; real vocabularies stay far below this (GLM: 151365).
inline constexpr int64_t kMaxTokenId = (int64_t{1} << 24) - 1;

// The regular (non-added) tokens as raw bytes.
struct Vocab {
  std::vector<std::string> bytes;  // by id; empty where an id has no regular token
  BytesToId ids;                   // raw bytes -> id
  std::array<int32_t, 256> byte_ids{};  // id of each single-byte token

  // Fills byte_ids; false when some byte has no token of its own (BPE could not start from it).
  bool IndexBytes();
  int32_t Find(std::string_view b) const {  // -1 when absent
    auto it = ids.find(b);
    return it == ids.end() ? -1 : it->second;
  }
};

class BpeModel {
 public:
  virtual ~BpeModel() = default;
  // Appends the ids of `piece` (non-empty raw bytes) to `out`.
  virtual void Encode(std::string_view piece, std::vector<int32_t>& out) const = 0;
};

// Rank BPE; ranks are the vocab ids. `vocab` must outlive the model.
std::unique_ptr<BpeModel> MakeRankBpe(const Vocab& vocab);

// Rank BPE that uses only tokens with rank < `rank_limit`; returns the end offset of each part.
// BuildHfTokenizerJson derives a token's merge from this (the parts its own bytes stop at).
std::vector<uint32_t> RankBpeBoundaries(const Vocab& vocab, std::string_view piece, int64_t rank_limit);

// (left id, right id) -> merge index and the merged id.
struct MergeRule {
  int32_t rank;
  int32_t merged;
};
inline uint64_t MergeKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
using MergeTable = std::unordered_map<uint64_t, MergeRule>;

// Merge BPE. With `ignore_merges` (a tokenizer.json option) a piece that is itself a vocab token is
// emitted whole without merging. `vocab` must outlive the model.
std::unique_ptr<BpeModel> MakeMergeBpe(const Vocab& vocab, MergeTable merges, bool ignore_merges);

}  // namespace glmv
