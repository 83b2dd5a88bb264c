#include "lib/tokenizer/tokenizer_utf8.h"

#include <cstdint>

namespace glmv {

Utf8Prefix ScanUtf8(std::string_view s) {
  if (s.empty()) return {};
  const auto b0 = static_cast<uint8_t>(s[0]);
  if (b0 < 0x80) return {1, 1};
  size_t needed;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte (Table 3-7)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    needed = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    needed = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    needed = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return {};  // continuation byte, C0/C1 (overlong), F5..FF
  }
  size_t valid = 1;
  while (valid < needed && valid < s.size()) {
    const auto b = static_cast<uint8_t>(s[valid]);
    if (b < (valid == 1 ? lo : 0x80) || b > (valid == 1 ? hi : 0xBF)) break;
    ++valid;
  }
  return {valid, needed};
}

size_t IncompleteUtf8Tail(std::string_view s) {
  for (size_t k = 1; k <= 3 && k <= s.size(); ++k) {
    const Utf8Prefix p = ScanUtf8(s.substr(s.size() - k));
    if (p.needed == 0) continue;  // not a lead byte: look further back
    return (p.valid == k && p.needed > k) ? k : 0;
  }
  return 0;
}

std::string ReplaceInvalidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const Utf8Prefix p = ScanUtf8(s.substr(i));
    if (p.complete()) {
      out.append(s.substr(i, p.needed));
      i += p.needed;
    } else {
      out.append("\xEF\xBF\xBD");
      i += p.valid == 0 ? 1 : p.valid;
    }
  }
  return out;
}

}  // namespace glmv
