#include "lib/sampling/json_grammar.h"

#include <string_view>
#include <vector>

namespace glmv {
namespace {

using Ranges = std::vector<std::pair<uint8_t, uint8_t>>;

constexpr size_t kIntegerDigits = 16, kFractionDigits = 16, kExponentDigits = 2;

}  // namespace

Frag JsonFragments::Char() {
  // Written as a small automaton (about 20 states; a string of maxLength n holds n copies): Unicode's
  // well-formed UTF-8 (Table 3-7) without '"', '\' and the control characters, or an escape.
  const uint32_t in = b_.State(), out = b_.State();
  auto state = [&] { return b_.State(); };
  auto edge = [&](uint32_t from, uint32_t to, uint8_t lo, uint8_t hi) { b_.Edge(from, to, lo, hi); };
  auto hex = [&](uint32_t from, uint32_t to) {
    edge(from, to, '0', '9'), edge(from, to, 'A', 'F'), edge(from, to, 'a', 'f');
  };
  edge(in, out, 0x20, 0x21), edge(in, out, 0x23, 0x5B), edge(in, out, 0x5D, 0x7F);
  MultiByte(in, out);
  // Escapes: \" \\ \/ \b \f \n \r \t, and \uXXXX outside the surrogates or as a high-low surrogate pair.
  const uint32_t backslash = state(), u = state(), h1 = state(), h2 = state(), h3 = state(), d = state();
  edge(in, backslash, '\\', '\\');
  for (const char c : std::string_view("\"\\/bfnrt")) edge(backslash, out, static_cast<uint8_t>(c), static_cast<uint8_t>(c));
  edge(backslash, u, 'u', 'u');
  hex(h1, out), hex(h2, h1), hex(h3, h2);
  edge(u, h3, '0', '9'), edge(u, h3, 'A', 'C'), edge(u, h3, 'a', 'c'), edge(u, h3, 'E', 'F'), edge(u, h3, 'e', 'f');
  edge(u, d, 'D', 'D'), edge(u, d, 'd', 'd');
  edge(d, h2, '0', '7');
  const uint32_t high2 = state(), high1 = state(), low_backslash = state(), low_u = state(), low_d = state(),
                 low_c = state();
  edge(d, high2, '8', '9'), edge(d, high2, 'A', 'B'), edge(d, high2, 'a', 'b');
  hex(high2, high1), hex(high1, low_backslash);
  edge(low_backslash, low_u, '\\', '\\'), edge(low_u, low_d, 'u', 'u');
  edge(low_d, low_c, 'D', 'D'), edge(low_d, low_c, 'd', 'd');
  edge(low_c, h2, 'C', 'F'), edge(low_c, h2, 'c', 'f');
  return {in, out};
}

void JsonFragments::MultiByte(uint32_t in, uint32_t out) {
  auto state = [&] { return b_.State(); };
  auto edge = [&](uint32_t from, uint32_t to, uint8_t lo, uint8_t hi) { b_.Edge(from, to, lo, hi); };
  const uint32_t c1 = state(), c2 = state(), c3 = state();  // continuation bytes still to come
  edge(c1, out, 0x80, 0xBF), edge(c2, c1, 0x80, 0xBF), edge(c3, c2, 0x80, 0xBF);
  const uint32_t e0 = state(), ed = state(), f0 = state(), f4 = state();  // second bytes with narrower ranges
  edge(in, c1, 0xC2, 0xDF);
  edge(in, e0, 0xE0, 0xE0), edge(e0, c1, 0xA0, 0xBF);
  edge(in, c2, 0xE1, 0xEC), edge(in, c2, 0xEE, 0xEF);
  edge(in, ed, 0xED, 0xED), edge(ed, c1, 0x80, 0x9F);  // no encoded surrogates
  edge(in, f0, 0xF0, 0xF0), edge(f0, c2, 0x90, 0xBF);
  edge(in, c3, 0xF1, 0xF3);
  edge(in, f4, 0xF4, 0xF4), edge(f4, c2, 0x80, 0x8F);  // nothing above U+10FFFF
}

Frag JsonFragments::RawChar() {
  const uint32_t in = b_.State(), out = b_.State();
  b_.Edge(in, out, 0x09, 0x0A), b_.Edge(in, out, 0x0D, 0x0D), b_.Edge(in, out, 0x20, 0x3B), b_.Edge(in, out, 0x3D, 0x7E);
  MultiByte(in, out);
  return {in, out};
}

Frag JsonFragments::RawString(size_t min, std::optional<size_t> max) {
  return b_.Repeat([&] { return RawChar(); }, min, max);
}

Frag JsonFragments::PatternBody(std::span<const PatternAtom> atoms) {
  std::vector<Frag> parts;
  for (const PatternAtom& a : atoms) {
    auto one = [&] {
      std::vector<Frag> choices;
      if (!a.ascii.empty()) choices.push_back(b_.AnyOf(a.ascii));
      for (const std::string& c : a.others) choices.push_back(b_.Literal(c));
      return b_.Alt(choices);
    };
    parts.push_back(b_.Repeat(one, a.min, a.max));
  }
  return parts.empty() ? b_.Empty() : b_.Seq(parts);
}

Frag JsonFragments::RawPatternString(std::span<const PatternAtom> atoms) { return PatternBody(atoms); }

Frag JsonFragments::String(size_t min, std::optional<size_t> max) {
  return b_.Seq({b_.Literal("\""), b_.Repeat([&] { return Char(); }, min, max), b_.Literal("\"")});
}

Frag JsonFragments::PatternString(std::span<const PatternAtom> atoms) {
  return b_.Seq({b_.Literal("\""), PatternBody(atoms), b_.Literal("\"")});
}

Frag JsonFragments::Digits(size_t min, size_t max) {
  return b_.Repeat([&] { return b_.Bytes('0', '9'); }, min, max);
}

Frag JsonFragments::Integer() {
  const Frag nonzero = b_.Seq({b_.Optional(b_.Literal("-")), b_.Bytes('1', '9'), Digits(0, kIntegerDigits - 1)});
  return b_.Alt({b_.Literal("0"), nonzero});
}

Frag JsonFragments::Number() {
  const Frag whole = b_.Alt({b_.Literal("0"), b_.Seq({b_.Bytes('1', '9'), Digits(0, kIntegerDigits - 1)})});
  const Frag fraction = b_.Seq({b_.Literal("."), Digits(1, kFractionDigits)});
  const Ranges e = {{'E', 'E'}, {'e', 'e'}}, sign = {{'+', '+'}, {'-', '-'}};
  const Frag exponent = b_.Seq({b_.AnyOf(e), b_.Optional(b_.AnyOf(sign)), Digits(1, kExponentDigits)});
  return b_.Seq({b_.Optional(b_.Literal("-")), whole, b_.Optional(fraction), b_.Optional(exponent)});
}

uint32_t JsonFragments::AnyValueRule() {
  if (any_value_) return *any_value_;
  any_value_ = b_.DeclareRule();
  const Frag body = b_.Alt({AnyObject(), AnyArray(), String(0, std::nullopt), Number(), b_.Literal("true"),
                            b_.Literal("false"), b_.Literal("null")});
  b_.DefineRule(*any_value_, body);
  return *any_value_;
}

Frag JsonFragments::AnyObject() {
  const uint32_t value = AnyValueRule();
  auto member = [&] { return b_.Seq({String(0, std::nullopt), b_.Literal(":"), b_.Call(value)}); };
  const Frag more = b_.Star(b_.Seq({b_.Literal(","), member()}));
  return b_.Seq({b_.Literal("{"), b_.Optional(b_.Seq({member(), more})), b_.Literal("}")});
}

Frag JsonFragments::AnyArray() {
  const uint32_t value = AnyValueRule();
  const Frag more = b_.Star(b_.Seq({b_.Literal(","), b_.Call(value)}));
  return b_.Seq({b_.Literal("["), b_.Optional(b_.Seq({b_.Call(value), more})), b_.Literal("]")});
}

}  // namespace glmv
