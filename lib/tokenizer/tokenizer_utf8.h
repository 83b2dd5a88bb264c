// UTF-8 well-formedness as Unicode defines it (Table 3-7: no overlongs, no surrogates, nothing above
// U+10FFFF). The tokenizer hands only well-formed runs to PCRE2 (which it tells to skip its own check,
// since re-checking on every match call would make splitting quadratic), so this must agree with
// PCRE2's validator exactly; a test checks that it does.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace glmv {

// How far a UTF-8 sequence at the start of `s` goes.
struct Utf8Prefix {
  size_t valid = 0;   // bytes that start a well-formed sequence (0 when s[0] cannot start one)
  size_t needed = 0;  // length the sequence needs (0 when s[0] cannot start one)
  bool complete() const { return valid != 0 && valid == needed; }
};
Utf8Prefix ScanUtf8(std::string_view s);

// Length of the well-formed character at the start of `s`, or 0 if there is none.
inline size_t Utf8CharLength(std::string_view s) {
  const Utf8Prefix p = ScanUtf8(s);
  return p.complete() ? p.needed : 0;
}

// Bytes at the end of `s` (0..3) that are a well-formed but unfinished character: more bytes could
// still complete it. Streaming output holds these back.
size_t IncompleteUtf8Tail(std::string_view s);

// `s` with every ill-formed part replaced by U+FFFD (one per maximal ill-formed subpart, as the
// Unicode standard recommends); for callers that must emit valid UTF-8, e.g. JSON responses.
std::string ReplaceInvalidUtf8(std::string_view s);

}  // namespace glmv
