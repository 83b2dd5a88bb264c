#include "apps/byte_size.h"

#include <cmath>
#include <cstdlib>

namespace glmv::app {

Result<uint64_t> ParseByteSize(std::string_view text, const std::string& flag) {
  const std::string s(text);
  auto bad = [&]() {
    return Status::Error(flag + " expects a size: bytes, or a number with K, M, G, T (powers of 1000) or KiB, "
                                "MiB, GiB, TiB (powers of 1024), e.g. 8G or 8GiB; got '" + s + "'");
  };
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.')) return bad();
  char* end = nullptr;
  const double number = std::strtod(s.c_str(), &end);
  const std::string unit(end);
  double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  const char* units[] = {"K", "M", "G", "T"};
  double dec = 1, bin = 1;
  for (const char* u : units) {
    dec *= 1000, bin *= 1024;
    if (unit == u || unit == std::string(u) + "B") scale = dec;
    if (unit == std::string(u) + "iB") scale = bin;
  }
  if (scale == 0 || !std::isfinite(number)) return bad();
  const double bytes = std::floor(number * scale);
  if (bytes < 1) return Status::Error(flag + " must be more than 0 bytes; got '" + s + "'");
  if (bytes >= 9.2e18) return Status::Error(flag + " is too large: '" + s + "'");
  if (unit.empty() && number != std::floor(number)) return bad();  // "1.5" bytes
  return static_cast<uint64_t>(bytes);
}

}  // namespace glmv::app
