// Runs a Grammar over bytes for one sequence. The grammar may be ambiguous (anyOf of alternatives with a
// common prefix, an enum's values sharing a start), so the matcher follows every parser stack still alive at
// once. Stacks are interned as frames (state, parent frame): two equal stacks are one frame id, so a set of
// stacks is a sorted list of integers. Sets are interned too, into match-state ids, and the transitions
// between them are remembered as they are found (a DFA built lazily): once seen, a step is one table lookup,
// which is what makes walking a 151K-token trie per mask affordable.
//
// Stacks deeper than `max_depth` frames are dropped: a left-recursive schema cannot loop, and recursive
// values nest at most about max_depth / 3 levels (each JSON level costs a few frames). The tables grow with
// the distinct states met; Compact() rebuilds them around the current state when they grow past a bound.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lib/sampling/grammar.h"

namespace glmv {

class GrammarMatcher {
 public:
  using StateId = uint32_t;
  static constexpr StateId kDead = 0;  // no stack alive and the input is not complete

  explicit GrammarMatcher(std::shared_ptr<const Grammar> grammar, uint32_t max_depth = 256);

  const Grammar& grammar() const { return *grammar_; }
  // The current match state: an id valid until Reset or Compact.
  StateId state() const { return state_; }
  // The input so far is a sentence of the grammar (it may also go on).
  bool Complete() const { return Complete(state_); }
  // Some byte may follow the input so far.
  bool CanContinue() const { return CanContinue(state_); }
  bool Complete(StateId s) const { return sets_[s].complete; }
  bool CanContinue(StateId s) const { return !sets_[s].frames.empty(); }

  // Consumes `bytes` when the grammar allows all of them; else returns false and the state is unchanged.
  bool Advance(std::string_view bytes);
  // Whether Advance(bytes) would succeed; the state is unchanged either way. (Not const: it may fill the
  // tables, which changes no answer.)
  bool Accepts(std::string_view bytes) { return After(bytes) != kDead; }
  // Back to the start (no input); forgets every table.
  void Reset();

  // The state after `byte` from `from` (kDead when the byte is not allowed): a table lookup once known.
  StateId Next(StateId from, uint8_t byte) {
    const StateId n = next_[static_cast<size_t>(from) * 256 + byte];
    return n != kUnknown ? n : Compute(from, byte);
  }

  // Number of match states and frames interned so far.
  size_t num_states() const { return sets_.size(); }
  size_t num_frames() const { return frames_.size(); }
  // When more than `max_states` states are interned, forgets every table but the current state's stacks
  // (so ids change: returns true). Call between steps, never while holding other ids.
  bool Compact(size_t max_states);

 private:
  static constexpr uint32_t kNone = UINT32_MAX, kUnknown = UINT32_MAX;
  struct Frame {
    uint32_t state, parent, depth;
  };
  struct StackSet {
    std::vector<uint32_t> frames;  // sorted stack tops whose grammar state has byte edges
    bool complete = false;
  };
  void Clear();
  uint32_t Intern(uint32_t state, uint32_t parent);
  // Adds to `out` every stack top reachable from frame f without consuming a byte (calls, returns).
  void Close(uint32_t f, StackSet& out);
  StateId InternSet(StackSet& set);  // sorts set.frames
  StateId Compute(StateId from, uint8_t byte);
  StateId After(std::string_view bytes);  // the state after `bytes` from the current one

  std::shared_ptr<const Grammar> grammar_;
  uint32_t max_depth_;
  StateId state_ = kDead;
  std::vector<Frame> frames_;
  // Open-addressing index (state, parent) → frame id; slots hold id + 1, 0 is empty; size a power of two.
  std::vector<uint32_t> index_;
  std::vector<uint32_t> seen_;  // [frames] the closure stamp that last visited each frame
  uint32_t stamp_ = 0;
  std::vector<uint32_t> work_;
  std::vector<StackSet> sets_;                       // by StateId; sets_[kDead] is empty
  std::unordered_map<std::string, StateId> set_ids_;  // a set's frames and complete flag, as bytes
  std::vector<StateId> next_;                         // [sets × 256] transitions, kUnknown until computed
  StackSet scratch_;
};

}  // namespace glmv
