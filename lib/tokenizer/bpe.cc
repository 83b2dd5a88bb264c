#include "lib/tokenizer/bpe.h"

#include <algorithm>
#include <limits>

namespace glmv {
namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

// A candidate merge of the part starting at byte `start` with its right neighbour.
struct Candidate {
  int64_t rank;
  uint32_t start;
  uint32_t end;    // rank BPE: end of the right neighbour when queued (detects stale entries)
  int32_t merged;  // id of the merged token
  // std::push_heap keeps the largest on top; "largest" here is lowest rank, then leftmost.
  bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : start > o.start; }
};

// Parts of a piece as a doubly linked list indexed by start byte; ids_ holds each live part's token.
class Parts {
 public:
  Parts(const Vocab& vocab, std::string_view piece) : n_(static_cast<uint32_t>(piece.size())) {
    next_.resize(n_);
    prev_.resize(n_);
    ids_.resize(n_);
    for (uint32_t i = 0; i < n_; ++i) {
      next_[i] = i + 1;
      prev_[i] = i == 0 ? kNone : i - 1;
      ids_[i] = vocab.byte_ids[static_cast<uint8_t>(piece[i])];
    }
    alive_.assign(n_, 1);
  }
  uint32_t size() const { return n_; }
  bool alive(uint32_t i) const { return alive_[i] != 0; }
  uint32_t next(uint32_t i) const { return next_[i]; }  // n_ past the last part
  uint32_t prev(uint32_t i) const { return prev_[i]; }  // kNone before the first part
  int32_t id(uint32_t i) const { return ids_[i]; }
  // Merges part i with its right neighbour into token `merged`.
  void MergeRight(uint32_t i, int32_t merged) {
    const uint32_t j = next_[i];
    alive_[j] = 0;
    next_[i] = next_[j];
    if (next_[j] < n_) prev_[next_[j]] = i;
    ids_[i] = merged;
  }

 private:
  uint32_t n_;
  std::vector<uint32_t> next_, prev_;
  std::vector<int32_t> ids_;
  std::vector<uint8_t> alive_;
};

class Heap {
 public:
  void Push(const Candidate& c) {
    v_.push_back(c);
    std::push_heap(v_.begin(), v_.end());
  }
  bool Pop(Candidate& c) {
    if (v_.empty()) return false;
    std::pop_heap(v_.begin(), v_.end());
    c = v_.back();
    v_.pop_back();
    return true;
  }

 private:
  std::vector<Candidate> v_;
};

// tiktoken's `_byte_pair_merge`, with a heap instead of a linear scan for the minimum.
Parts RankMerge(const Vocab& vocab, std::string_view piece, int64_t rank_limit) {
  Parts parts(vocab, piece);
  const uint32_t n = parts.size();
  Heap heap;
  auto queue_pair = [&](uint32_t i) {
    if (i == kNone || parts.next(i) >= n) return;
    const uint32_t end = parts.next(parts.next(i));
    const int32_t id = vocab.Find(piece.substr(i, end - i));
    if (id >= 0 && id < rank_limit) heap.Push({id, i, end, id});
  };
  for (uint32_t i = 0; i + 1 < n; ++i) queue_pair(i);
  Candidate c;
  while (heap.Pop(c)) {
    // Stale unless part `start` is still alive and still spans, with its right neighbour, [start, end).
    if (!parts.alive(c.start) || parts.next(c.start) >= n || parts.next(parts.next(c.start)) != c.end) continue;
    parts.MergeRight(c.start, c.merged);
    queue_pair(c.start);
    queue_pair(parts.prev(c.start));
  }
  return parts;
}

class RankBpe final : public BpeModel {
 public:
  explicit RankBpe(const Vocab& vocab) : vocab_(vocab) {}
  void Encode(std::string_view piece, std::vector<int32_t>& out) const override {
    // tiktoken emits a piece that is itself a token as that token without merging.
    if (const int32_t whole = vocab_.Find(piece); whole >= 0) {
      out.push_back(whole);
      return;
    }
    const Parts parts = RankMerge(vocab_, piece, std::numeric_limits<int64_t>::max());
    for (uint32_t i = 0; i < parts.size(); i = parts.next(i)) out.push_back(parts.id(i));
  }

 private:
  const Vocab& vocab_;
};

// Hugging Face tokenizers' `Word::merge_all` (without dropout).
class MergeBpe final : public BpeModel {
 public:
  MergeBpe(const Vocab& vocab, MergeTable merges, bool ignore_merges)
      : vocab_(vocab), merges_(std::move(merges)), ignore_merges_(ignore_merges) {}

  void Encode(std::string_view piece, std::vector<int32_t>& out) const override {
    if (ignore_merges_) {
      if (const int32_t whole = vocab_.Find(piece); whole >= 0) {
        out.push_back(whole);
        return;
      }
    }
    Parts parts(vocab_, piece);
    const uint32_t n = parts.size();
    Heap heap;
    auto queue_pair = [&](uint32_t i) {
      if (i == kNone || parts.next(i) >= n) return;
      auto it = merges_.find(MergeKey(parts.id(i), parts.id(parts.next(i))));
      if (it != merges_.end()) heap.Push({it->second.rank, i, 0, it->second.merged});
    };
    for (uint32_t i = 0; i + 1 < n; ++i) queue_pair(i);
    Candidate c;
    while (heap.Pop(c)) {
      // The same staleness test as Hugging Face: the pair now at `start` must still merge into `merged`.
      if (!parts.alive(c.start) || parts.next(c.start) >= n) continue;
      auto it = merges_.find(MergeKey(parts.id(c.start), parts.id(parts.next(c.start))));
      if (it == merges_.end() || it->second.merged != c.merged) continue;
      parts.MergeRight(c.start, c.merged);
      queue_pair(c.start);
      queue_pair(parts.prev(c.start));
    }
    for (uint32_t i = 0; i < n; i = parts.next(i)) out.push_back(parts.id(i));
  }

 private:
  const Vocab& vocab_;
  MergeTable merges_;
  bool ignore_merges_;
};

}  // namespace

bool Vocab::IndexBytes() {
  for (int b = 0; b < 256; ++b) {
    byte_ids[b] = Find(std::string(1, static_cast<char>(b)));
    if (byte_ids[b] < 0) return false;
  }
  return true;
}

std::unique_ptr<BpeModel> MakeRankBpe(const Vocab& vocab) { return std::make_unique<RankBpe>(vocab); }

std::vector<uint32_t> RankBpeBoundaries(const Vocab& vocab, std::string_view piece, int64_t rank_limit) {
  const Parts parts = RankMerge(vocab, piece, rank_limit);
  std::vector<uint32_t> ends;
  for (uint32_t i = 0; i < parts.size(); i = parts.next(i)) ends.push_back(parts.next(i));
  return ends;
}

std::unique_ptr<BpeModel> MakeMergeBpe(const Vocab& vocab, MergeTable merges, bool ignore_merges) {
  return std::make_unique<MergeBpe>(vocab, std::move(merges), ignore_merges);
}

}  // namespace glmv
