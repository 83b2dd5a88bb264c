// JSON's lexical pieces as grammar fragments, for the JSON schema compiler: string characters (any
// well-formed UTF-8 code point except '"', '\' and control characters, or a JSON escape; a \u escape of a
// surrogate only as a high-low pair, so nlohmann::json parses every answer), strings with a length or a
// pattern, numbers, and any JSON value.
//
// The documents are compact: no whitespace anywhere (the model's tokens supply none, so a sampling model
// cannot loop on spaces). Numbers are bounded so an answer cannot run on digits and always parses:
// at most 16 integer digits (integers fit int64), 16 fraction digits and a 2-digit exponent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "lib/sampling/grammar.h"
#include "lib/sampling/string_pattern.h"

namespace glmv {

class JsonFragments {
 public:
  explicit JsonFragments(GrammarBuilder& b) : b_(b) {}

  // One string character (a code point, escaped or not); a fresh copy each call.
  Frag Char();
  // A quoted string of min..max characters (max nullopt: unbounded).
  Frag String(size_t min, std::optional<size_t> max);
  // A quoted string whose content matches the parsed pattern (string_pattern.h).
  Frag PatternString(std::span<const PatternAtom> atoms);
  // Text written raw rather than as a JSON string (GLM's tool-call argument values of type string): one
  // well-formed UTF-8 code point other than '<' (which starts the closing tag) and the control characters
  // but tab, newline and carriage return; min..max of them; or the content of a pattern (string_pattern.h).
  Frag RawChar();
  Frag RawString(size_t min, std::optional<size_t> max);
  Frag RawPatternString(std::span<const PatternAtom> atoms);
  Frag Integer();
  Frag Number();
  // Any JSON value / object / array (rules, declared on first use).
  uint32_t AnyValueRule();
  Frag AnyObject();
  Frag AnyArray();

 private:
  // The multi-byte UTF-8 code points (Unicode's Table 3-7) from `in` to `out`.
  void MultiByte(uint32_t in, uint32_t out);
  // The characters of a pattern, unquoted.
  Frag PatternBody(std::span<const PatternAtom> atoms);
  // From min to max decimal digits.
  Frag Digits(size_t min, size_t max);

  GrammarBuilder& b_;
  std::optional<uint32_t> any_value_;
};

}  // namespace glmv
