#include "lib/text/rope.h"

#include <cmath>

namespace glmv {

MRopePositions MRopePositions::Text(int64_t start, size_t n) {
  MRopePositions p;
  for (size_t i = 0; i < n; ++i) p.Append(start + static_cast<int64_t>(i), start + static_cast<int64_t>(i),
                                          start + static_cast<int64_t>(i));
  return p;
}

RopeTable BuildTextRope(const TextConfig& config, const MRopePositions& positions) {
  RopeTable table;
  BuildTextRope(config, positions, table);
  return table;
}

void BuildTextRope(const TextConfig& config, const MRopePositions& positions, RopeTable& table) {
  const int64_t rd = config.rotary_dim();
  table.half = static_cast<size_t>(rd / 2);
  table.inv_freq.resize(table.half);
  table.axis.resize(table.half);
  size_t j = 0;
  for (size_t s = 0; s < config.mrope_section.size(); ++s) {
    for (int64_t k = 0; k < config.mrope_section[s]; ++k, ++j) table.axis[j] = static_cast<int>(s);
  }
  for (size_t i = 0; i < table.half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(rd);
    table.inv_freq[i] = 1.0f / std::pow(static_cast<float>(config.rope_theta), exponent);
  }
  const size_t n = positions.size();
  table.cos.resize(n * table.half);
  table.sin.resize(n * table.half);
  for (size_t t = 0; t < n; ++t) {
    const int64_t pos[3] = {positions.t[t], positions.h[t], positions.w[t]};
    for (size_t i = 0; i < table.half; ++i) {
      const float angle = static_cast<float>(pos[table.axis[i]]) * table.inv_freq[i];
      table.cos[t * table.half + i] = std::cos(angle);
      table.sin[t * table.half + i] = std::sin(angle);
    }
  }
}

}  // namespace glmv
