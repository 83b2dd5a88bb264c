#include "apps/byte_size.h"

#include <cctype>
#include <charconv>
#include <cmath>

namespace glmv::app {
namespace {

struct Unit {
  const char* name;
  uint64_t scale;
  bool mem_budget;  // part of the --mem-budget grammar
};
constexpr uint64_t kKi = 1024;
constexpr Unit kUnits[] = {
    {"", 1, true},
    {"K", 1000, true}, {"M", 1000'000, true}, {"G", 1000'000'000, true}, {"T", 1000'000'000'000, false},
    {"KiB", kKi, true}, {"MiB", kKi * kKi, true}, {"GiB", kKi * kKi * kKi, true}, {"TiB", kKi * kKi * kKi * kKi, false},
    {"B", 1, false},
};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The scale of `unit` in `grammar`, or 0.
uint64_t Scale(const std::string& unit, SizeGrammar grammar) {
  for (const Unit& u : kUnits) {
    if (grammar == SizeGrammar::kMemBudget && !u.mem_budget) continue;
    if (unit == u.name) return u.scale;
  }
  if (grammar == SizeGrammar::kAnySize && unit.size() == 2 && Upper(unit)[1] == 'B') {
    for (const Unit& u : kUnits) {  // KB, MB, GB, TB in any case
      if (u.name[0] != '\0' && u.name[1] == '\0' && Upper(unit.substr(0, 1)) == u.name) return u.scale;
    }
  }
  return 0;
}

}  // namespace

Result<uint64_t> ParseByteSize(std::string_view text, const std::string& flag, SizeGrammar grammar) {
  const std::string s(text);
  auto bad = [&]() {
    return Status::Error(grammar == SizeGrammar::kMemBudget
                             ? flag + " expects a size: bytes, or a number with K, M, G (powers of 1000) or KiB, MiB, "
                                      "GiB (powers of 1024), e.g. 8G, 8GiB or 8000M; got '" + s + "'"
                             : flag + " expects a size: bytes, or a number with K, M, G, T (powers of 1000) or KiB, "
                                      "MiB, GiB, TiB (powers of 1024), e.g. 8G or 8GiB; got '" + s + "'");
  };
  // The number: digits, then optionally '.' and digits (no sign, exponent, hex or spaces: strtod would take them).
  size_t pos = 0;
  while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
  const size_t int_end = pos;
  if (int_end == 0) return bad();
  size_t frac_end = pos;
  if (pos < s.size() && s[pos] == '.') {
    frac_end = ++pos;
    while (frac_end < s.size() && std::isdigit(static_cast<unsigned char>(s[frac_end]))) ++frac_end;
    if (frac_end == pos) return bad();  // "8.G"
  }
  const std::string unit = s.substr(frac_end);
  const uint64_t scale = Scale(unit, grammar);
  if (scale == 0) return bad();
  if (frac_end != int_end && scale == 1) return bad();  // "1.5" bytes
  uint64_t whole = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + int_end, whole);
  constexpr uint64_t kLimit = uint64_t{1} << 63;
  if (ec != std::errc() || whole >= kLimit / scale) return Status::Error(flag + " is too large: '" + s + "'");
  uint64_t bytes = whole * scale;
  double fraction = 0, place = 0.1;  // the digits after '.'
  for (size_t i = int_end + 1; i < frac_end; ++i, place /= 10) fraction += (s[i] - '0') * place;
  bytes += static_cast<uint64_t>(std::floor(fraction * static_cast<double>(scale)));
  if (bytes == 0) return Status::Error(flag + " must be more than 0 bytes; got '" + s + "'");
  return bytes;
}

}  // namespace glmv::app
