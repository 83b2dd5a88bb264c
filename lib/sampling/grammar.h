// A byte-level grammar for constrained decoding: a set of rules, each a small automaton over bytes whose
// edges either consume one byte from a range or call another rule (and continue at a return state once the
// callee has ended). Rules calling rules make it a pushdown automaton: recursive JSON schemas ($ref to an
// enclosing definition) and any-JSON values nest without bound. A grammar is immutable once built and
// shared (shared_ptr) by every sequence that decodes with it; the per-sequence state is GrammarMatcher's.
//
// GrammarBuilder makes grammars from Thompson fragments (a fragment is an entry and an exit state inside
// one rule, joined by epsilon edges). Build() removes the epsilon edges, so a matcher only ever sees byte
// and call edges.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "io/status.h"

namespace glmv {

// Consumes one byte in [lo, hi] and goes to `target`.
struct ByteEdge {
  uint8_t lo = 0, hi = 0;
  uint32_t target = 0;
};

// Runs rule `rule` from its start; when that rule ends, continues at `target` (the return state).
struct CallEdge {
  uint32_t rule = 0;
  uint32_t target = 0;
};

class Grammar {
 public:
  size_t num_states() const { return final_.size(); }
  size_t num_rules() const { return rule_start_.size(); }
  size_t num_edges() const { return bytes_.size() + calls_.size(); }
  std::span<const ByteEdge> byte_edges(uint32_t state) const {
    return std::span<const ByteEdge>(bytes_).subspan(byte_begin_[state], byte_begin_[state + 1] - byte_begin_[state]);
  }
  std::span<const CallEdge> call_edges(uint32_t state) const {
    return std::span<const CallEdge>(calls_).subspan(call_begin_[state], call_begin_[state + 1] - call_begin_[state]);
  }
  // The rule that owns `state` may end here (return to its caller; at the root, the input is complete).
  bool is_final(uint32_t state) const { return final_[state] != 0; }
  uint32_t rule_start(uint32_t rule) const { return rule_start_[rule]; }
  uint32_t root_rule() const { return root_; }

 private:
  friend class GrammarBuilder;
  std::vector<uint32_t> byte_begin_, call_begin_;  // [num_states + 1] offsets into bytes_ / calls_
  std::vector<ByteEdge> bytes_;
  std::vector<CallEdge> calls_;
  std::vector<uint8_t> final_;       // [num_states]
  std::vector<uint32_t> rule_start_;  // [num_rules]
  uint32_t root_ = 0;
};

// Entry and exit states of a piece of one rule's automaton.
struct Frag {
  uint32_t in = 0, out = 0;
};

class GrammarBuilder {
 public:
  // Limits a grammar's size: a schema that unrolls to more (e.g. maxLength: 10000000) is refused.
  // (A string character is about 20 states, so the default allows a maxLength of about 12000.)
  explicit GrammarBuilder(size_t max_states = 250'000) : max_states_(max_states) {}

  // A rule id that fragments may call before the rule is defined (recursion).
  uint32_t DeclareRule();
  // The rule runs `body`: from body.in, ending at body.out.
  void DefineRule(uint32_t rule, Frag body);

  // Low level, for automata written by hand (JsonFragments::Char): a new state of the current rule, a byte
  // edge and an epsilon edge between states.
  uint32_t State();
  void Edge(uint32_t from, uint32_t to, uint8_t lo, uint8_t hi) { edges_[from].push_back({EdgeKind::kBytes, lo, hi, to, 0}); }
  void Epsilon(uint32_t from, uint32_t to) { edges_[from].push_back({EdgeKind::kEpsilon, 0, 0, to, 0}); }

  Frag Empty();
  Frag Bytes(uint8_t lo, uint8_t hi);
  // One byte from any of `ranges` (each [lo, hi]).
  Frag AnyOf(std::span<const std::pair<uint8_t, uint8_t>> ranges);
  Frag Literal(std::string_view bytes);
  Frag Call(uint32_t rule);
  Frag Seq(std::span<const Frag> parts);
  Frag Seq(std::initializer_list<Frag> parts) { return Seq(std::span<const Frag>(parts.begin(), parts.size())); }
  Frag Alt(std::span<const Frag> choices);
  Frag Alt(std::initializer_list<Frag> choices) { return Alt(std::span<const Frag>(choices.begin(), choices.size())); }
  Frag Optional(Frag f);
  Frag Star(Frag f);  // zero or more
  // `make()` repeated min to max times (nullopt: no upper bound); each repetition is a fresh copy, so the
  // automaton grows with max (GrammarBuilder's max_states bounds it).
  Frag Repeat(const std::function<Frag()>& make, size_t min, std::optional<size_t> max);

  // True once the grammar has grown past max_states (Build then fails); compilers may stop early.
  bool too_large() const { return edges_.size() > max_states_; }

  // The grammar whose sentences are `root`'s. Fails when a declared rule is undefined or the grammar is too
  // large.
  Result<Grammar> Build(uint32_t root) const;

 private:
  enum class EdgeKind : uint8_t { kEpsilon, kBytes, kCall };
  struct BuildEdge {
    EdgeKind kind;
    uint8_t lo, hi;
    uint32_t target, rule;
  };
  void Eps(uint32_t from, uint32_t to) { Epsilon(from, to); }

  size_t max_states_;
  std::vector<std::vector<BuildEdge>> edges_;  // by state
  std::vector<uint8_t> final_;
  std::vector<std::optional<uint32_t>> rule_start_;
};

}  // namespace glmv
