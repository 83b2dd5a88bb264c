#include "lib/sampling/grammar_matcher.h"

#include <algorithm>
#include <utility>

namespace glmv {
namespace {

size_t Mix(uint32_t state, uint32_t parent) {
  uint64_t x = (static_cast<uint64_t>(state) << 32 | parent) * 0x9E3779B97F4A7C15ull;
  return static_cast<size_t>(x ^ (x >> 29));
}

}  // namespace

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> grammar, uint32_t max_depth)
    : grammar_(std::move(grammar)), max_depth_(max_depth) {
  Reset();
}

void GrammarMatcher::Clear() {
  frames_.clear();
  index_.assign(1024, 0);
  seen_.clear();
  stamp_ = 1;
  sets_.assign(1, StackSet{});  // kDead
  set_ids_.clear();
  next_.assign(256, kDead);     // the dead state stays dead
}

void GrammarMatcher::Reset() {
  Clear();
  scratch_ = {};
  Close(Intern(grammar_->rule_start(grammar_->root_rule()), kNone), scratch_);
  state_ = InternSet(scratch_);
}

bool GrammarMatcher::Compact(size_t max_states) {
  if (sets_.size() <= max_states) return false;
  // Each current stack as its grammar states from the bottom, then interned again into fresh tables.
  std::vector<std::vector<uint32_t>> stacks;
  for (uint32_t f : sets_[state_].frames) {
    std::vector<uint32_t> chain;
    for (; f != kNone; f = frames_[f].parent) chain.push_back(frames_[f].state);
    std::reverse(chain.begin(), chain.end());
    stacks.push_back(std::move(chain));
  }
  const bool complete = sets_[state_].complete;
  Clear();
  StackSet set;
  set.complete = complete;
  for (const auto& chain : stacks) {
    uint32_t parent = kNone;
    for (const uint32_t s : chain) parent = Intern(s, parent);
    set.frames.push_back(parent);
  }
  state_ = InternSet(set);
  return true;
}

uint32_t GrammarMatcher::Intern(uint32_t state, uint32_t parent) {
  const size_t mask = index_.size() - 1;
  for (size_t i = Mix(state, parent) & mask;; i = (i + 1) & mask) {
    const uint32_t slot = index_[i];
    if (slot == 0) break;
    const Frame& f = frames_[slot - 1];
    if (f.state == state && f.parent == parent) return slot - 1;
  }
  const auto id = static_cast<uint32_t>(frames_.size());
  frames_.push_back({state, parent, parent == kNone ? 1u : frames_[parent].depth + 1});
  seen_.push_back(0);
  if (frames_.size() * 2 > index_.size()) {  // grow to keep the load under one half, then re-insert all
    index_.assign(index_.size() * 2, 0);
    const size_t m = index_.size() - 1;
    for (uint32_t k = 0; k < frames_.size(); ++k) {
      size_t i = Mix(frames_[k].state, frames_[k].parent) & m;
      while (index_[i] != 0) i = (i + 1) & m;
      index_[i] = k + 1;
    }
  } else {
    size_t i = Mix(state, parent) & mask;
    while (index_[i] != 0) i = (i + 1) & mask;
    index_[i] = id + 1;
  }
  return id;
}

void GrammarMatcher::Close(uint32_t f0, StackSet& out) {
  const Grammar& g = *grammar_;
  work_.push_back(f0);
  while (!work_.empty()) {
    const uint32_t f = work_.back();
    work_.pop_back();
    if (seen_[f] == stamp_) continue;
    seen_[f] = stamp_;
    const Frame fr = frames_[f];  // a copy: Intern may move frames_
    if (!g.byte_edges(fr.state).empty()) out.frames.push_back(f);
    for (const CallEdge& c : g.call_edges(fr.state)) {
      if (fr.depth + 1 > max_depth_) continue;  // too deep: this stack dies
      const uint32_t ret = Intern(c.target, fr.parent);
      work_.push_back(Intern(g.rule_start(c.rule), ret));
    }
    if (g.is_final(fr.state)) {
      if (fr.parent == kNone) out.complete = true;
      else work_.push_back(fr.parent);  // the rule ends: continue at its return state
    }
  }
}

GrammarMatcher::StateId GrammarMatcher::InternSet(StackSet& set) {
  if (set.frames.empty() && !set.complete) return kDead;
  std::sort(set.frames.begin(), set.frames.end());
  std::string key(reinterpret_cast<const char*>(set.frames.data()), set.frames.size() * sizeof(uint32_t));
  key += set.complete ? 'c' : 'o';
  const auto [it, added] = set_ids_.emplace(std::move(key), static_cast<StateId>(sets_.size()));
  if (added) {
    sets_.push_back(set);
    next_.resize(next_.size() + 256, kUnknown);
  }
  return it->second;
}

GrammarMatcher::StateId GrammarMatcher::Compute(StateId from, uint8_t byte) {
  scratch_.frames.clear();
  scratch_.complete = false;
  if (++stamp_ == 0) {  // the stamps wrapped: forget every visit
    std::fill(seen_.begin(), seen_.end(), 0);
    stamp_ = 1;
  }
  const Grammar& g = *grammar_;
  for (size_t i = 0; i < sets_[from].frames.size(); ++i) {
    const Frame fr = frames_[sets_[from].frames[i]];
    for (const ByteEdge& e : g.byte_edges(fr.state)) {
      if (e.lo > byte) break;  // sorted by lo
      if (byte <= e.hi) Close(Intern(e.target, fr.parent), scratch_);
    }
  }
  const StateId to = InternSet(scratch_);
  next_[static_cast<size_t>(from) * 256 + byte] = to;
  return to;
}

GrammarMatcher::StateId GrammarMatcher::After(std::string_view bytes) {
  StateId s = state_;
  for (size_t i = 0; i < bytes.size() && s != kDead; ++i) s = Next(s, static_cast<uint8_t>(bytes[i]));
  return s;
}

bool GrammarMatcher::Advance(std::string_view bytes) {
  const StateId s = After(bytes);
  if (s == kDead) return false;
  state_ = s;
  return true;
}

}  // namespace glmv
