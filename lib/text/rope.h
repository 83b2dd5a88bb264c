// Text-side rotary embedding: 3-D (t, h, w) positions per token and the M-RoPE cos/sin tables
// (spec §2.3). Frequency j of the rotary_dim/2 takes its position from section t, h or w in order
// (mrope_section, contiguous "TTT…HHH…WWW"); the rotation pairs dims j and j + rotary_dim/2.
#pragma once

#include <cstdint>
#include <vector>

#include "lib/model/config.h"

namespace glmv {

// Positions of n tokens on the three M-RoPE axes.
struct MRopePositions {
  std::vector<int64_t> t, h, w;
  size_t size() const { return t.size(); }
  void Append(int64_t pt, int64_t ph, int64_t pw) {
    t.push_back(pt);
    h.push_back(ph);
    w.push_back(pw);
  }
  // Text tokens at positions start, start+1, ... on all three axes.
  static MRopePositions Text(int64_t start, size_t n);
};

// cos/sin per token for the rotary_dim/2 frequencies: cos[i * half + j].
struct RopeTable {
  size_t half = 0;
  std::vector<float> cos, sin;
  std::vector<float> inv_freq;  // [half], kept so a table rebuilt in place does not allocate
  std::vector<int> axis;        // [half]: 0 = t, 1 = h, 2 = w
};

// Computed in f32 the way the reference does (inv_freq = 1 / θ^(2j/rd), angle = pos · inv_freq).
RopeTable BuildTextRope(const TextConfig& config, const MRopePositions& positions);
// The same into `table`, reusing its memory (the decode loop's way).
void BuildTextRope(const TextConfig& config, const MRopePositions& positions, RopeTable& table);

}  // namespace glmv
