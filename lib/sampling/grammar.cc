#include "lib/sampling/grammar.h"

#include <algorithm>
#include <string>

namespace glmv {

uint32_t GrammarBuilder::State() {
  edges_.emplace_back();
  final_.push_back(0);
  return static_cast<uint32_t>(edges_.size() - 1);
}

uint32_t GrammarBuilder::DeclareRule() {
  rule_start_.emplace_back();
  return static_cast<uint32_t>(rule_start_.size() - 1);
}

void GrammarBuilder::DefineRule(uint32_t rule, Frag body) {
  rule_start_[rule] = body.in;
  final_[body.out] = 1;
}

Frag GrammarBuilder::Empty() {
  const uint32_t s = State();
  return {s, s};
}

Frag GrammarBuilder::Bytes(uint8_t lo, uint8_t hi) {
  const std::pair<uint8_t, uint8_t> range{lo, hi};
  return AnyOf(std::span(&range, 1));
}

Frag GrammarBuilder::AnyOf(std::span<const std::pair<uint8_t, uint8_t>> ranges) {
  const uint32_t in = State(), out = State();
  for (const auto& [lo, hi] : ranges) edges_[in].push_back({EdgeKind::kBytes, lo, hi, out, 0});
  return {in, out};
}

Frag GrammarBuilder::Literal(std::string_view bytes) {
  const uint32_t in = State();
  uint32_t at = in;
  for (const char c : bytes) {
    const uint32_t next = State();
    const auto b = static_cast<uint8_t>(c);
    edges_[at].push_back({EdgeKind::kBytes, b, b, next, 0});
    at = next;
  }
  return {in, at};
}

Frag GrammarBuilder::Call(uint32_t rule) {
  const uint32_t in = State(), out = State();
  edges_[in].push_back({EdgeKind::kCall, 0, 0, out, rule});
  return {in, out};
}

Frag GrammarBuilder::Seq(std::span<const Frag> parts) {
  if (parts.empty()) return Empty();
  for (size_t i = 1; i < parts.size(); ++i) Eps(parts[i - 1].out, parts[i].in);
  return {parts.front().in, parts.back().out};
}

Frag GrammarBuilder::Alt(std::span<const Frag> choices) {
  const uint32_t in = State(), out = State();
  for (const Frag& f : choices) {
    Eps(in, f.in);
    Eps(f.out, out);
  }
  return {in, out};
}

Frag GrammarBuilder::Optional(Frag f) {
  const uint32_t in = State(), out = State();
  Eps(in, f.in);
  Eps(f.out, out);
  Eps(in, out);
  return {in, out};
}

Frag GrammarBuilder::Star(Frag f) {
  const uint32_t in = State(), out = State();
  Eps(in, f.in);
  Eps(in, out);
  Eps(f.out, f.in);
  Eps(f.out, out);
  return {in, out};
}

Frag GrammarBuilder::Repeat(const std::function<Frag()>& make, size_t min, std::optional<size_t> max) {
  // A chain p0 → copy → p1 → copy → ...: every p_i with i ≥ min may leave to `out` directly, so each state's
  // epsilon closure stays small (nested optionals would chain max epsilon edges).
  const uint32_t out = State();
  uint32_t at = State();
  const uint32_t in = at;
  const size_t copies = max ? *max : min;
  for (size_t i = 0; i < copies && !too_large(); ++i) {
    if (i >= min) Eps(at, out);
    const Frag f = make();
    Eps(at, f.in);
    at = f.out;
  }
  if (max) {
    Eps(at, out);
  } else {
    const Frag more = Star(make());
    Eps(at, more.in);
    Eps(more.out, out);
  }
  return {in, out};
}

Result<Grammar> GrammarBuilder::Build(uint32_t root) const {
  if (too_large()) {
    return Status::Error("the grammar is too large (over " + std::to_string(max_states_) +
                         " states; lower maxLength, maxItems or the quantifiers of a pattern)");
  }
  for (size_t r = 0; r < rule_start_.size(); ++r) {
    if (!rule_start_[r]) return Status::Error("grammar rule " + std::to_string(r) + " is declared but not defined");
  }
  // Epsilon closure of every state reached from a rule start, then new ids for the states that keep a
  // meaning once epsilon edges are gone (rule starts and targets of byte and call edges).
  const size_t n = edges_.size();
  std::vector<uint32_t> new_id(n, UINT32_MAX), order;
  auto keep = [&](uint32_t s) {
    if (new_id[s] == UINT32_MAX) {
      new_id[s] = static_cast<uint32_t>(order.size());
      order.push_back(s);
    }
  };
  for (const auto& start : rule_start_) keep(*start);
  Grammar g;
  std::vector<uint32_t> stamp(n, UINT32_MAX), stack;
  std::vector<ByteEdge> bytes;
  std::vector<CallEdge> calls;
  for (size_t i = 0; i < order.size(); ++i) {  // `order` grows as targets are kept
    const uint32_t s = order[i];
    bool final = false;
    bytes.clear(), calls.clear();
    stack.assign(1, s);
    stamp[s] = static_cast<uint32_t>(i);
    while (!stack.empty()) {
      const uint32_t t = stack.back();
      stack.pop_back();
      final = final || final_[t];
      for (const BuildEdge& e : edges_[t]) {
        if (e.kind == EdgeKind::kEpsilon) {
          if (stamp[e.target] != i) stamp[e.target] = static_cast<uint32_t>(i), stack.push_back(e.target);
        } else if (e.kind == EdgeKind::kBytes) {
          bytes.push_back({e.lo, e.hi, e.target});
        } else {
          calls.push_back({e.rule, e.target});
        }
      }
    }
    std::sort(bytes.begin(), bytes.end(), [](const ByteEdge& a, const ByteEdge& b) {
      return std::tie(a.lo, a.hi, a.target) < std::tie(b.lo, b.hi, b.target);
    });
    bytes.erase(std::unique(bytes.begin(), bytes.end(), [](const ByteEdge& a, const ByteEdge& b) {
                  return a.lo == b.lo && a.hi == b.hi && a.target == b.target;
                }), bytes.end());
    std::sort(calls.begin(), calls.end(), [](const CallEdge& a, const CallEdge& b) {
      return std::tie(a.rule, a.target) < std::tie(b.rule, b.target);
    });
    calls.erase(std::unique(calls.begin(), calls.end(), [](const CallEdge& a, const CallEdge& b) {
                  return a.rule == b.rule && a.target == b.target;
                }), calls.end());
    g.byte_begin_.push_back(static_cast<uint32_t>(g.bytes_.size()));
    g.call_begin_.push_back(static_cast<uint32_t>(g.calls_.size()));
    for (ByteEdge e : bytes) {
      keep(e.target);
      e.target = new_id[e.target];
      g.bytes_.push_back(e);
    }
    for (CallEdge e : calls) {
      keep(e.target);
      e.target = new_id[e.target];
      g.calls_.push_back(e);
    }
    g.final_.push_back(final ? 1 : 0);
  }
  g.byte_begin_.push_back(static_cast<uint32_t>(g.bytes_.size()));
  g.call_begin_.push_back(static_cast<uint32_t>(g.calls_.size()));
  for (const auto& start : rule_start_) g.rule_start_.push_back(new_id[*start]);
  g.root_ = root;
  return g;
}

}  // namespace glmv
