// The `pattern` keyword of a JSON schema string, in the one simple form constrained decoding supports: an
// anchored sequence of atoms, each optionally quantified.
//
//   pattern    := '^' (atom quantifier?)* '$'
//   atom       := '[' item+ ']' | '\d' | '\w' | '\' punctuation | a literal character (any code point)
//   item       := c | c '-' c (ASCII ranges) | '\d' | '\w' | '\' punctuation | a non-ASCII character
//   quantifier := '{n}' | '{m,n}' | '{m,}' | '+' | '*' | '?'
//
// Examples: ^[a-z]{1,8}$, ^[A-Za-z0-9_]+$, ^[A-Z]{2}-\d{4}$, ^café$. Not supported (an error naming it):
// unanchored patterns, '.', negated classes [^...], groups, alternation '|', lazy quantifiers, and
// characters a JSON string must escape ('"', '\' and control characters).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/status.h"

namespace glmv {

// One character out of a set, repeated min..max times (max nullopt: unbounded).
struct PatternAtom {
  std::vector<std::pair<uint8_t, uint8_t>> ascii;  // byte ranges of ASCII characters
  std::vector<std::string> others;                 // non-ASCII characters, each one code point as UTF-8
  size_t min = 1;
  std::optional<size_t> max = 1;
};

// The atoms of `pattern`, or an error saying what is not supported and at which character offset.
Result<std::vector<PatternAtom>> ParseStringPattern(std::string_view pattern);

}  // namespace glmv
