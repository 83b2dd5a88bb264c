#include "lib/base/hash.h"

#include <cstring>

namespace glmv {
namespace {

constexpr uint64_t kLaneSeeds[4] = {0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull,
                                    0xD6E8FEB86659FD93ull};

inline uint64_t Mix(uint64_t h, uint64_t v, uint64_t k) {
  h ^= v * k;
  h = (h << 31) | (h >> 33);
  return h * 0xFF51AFD7ED558CCDull + k;
}

inline uint64_t Finish(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

Hash256 HashBytes(std::span<const uint8_t> bytes, const Hash256& seed) {
  Hash256 h;
  for (int l = 0; l < 4; ++l) h[l] = seed[l] ^ kLaneSeeds[l];
  const size_t words = bytes.size() / 8;
  for (size_t i = 0; i < words; ++i) {
    uint64_t v;
    std::memcpy(&v, bytes.data() + 8 * i, 8);
    for (int l = 0; l < 4; ++l) h[l] = Mix(h[l], v, kLaneSeeds[l] | 1);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, bytes.data() + 8 * words, bytes.size() % 8);
  for (int l = 0; l < 4; ++l) h[l] = Finish(Mix(h[l], tail ^ bytes.size(), kLaneSeeds[(l + 1) % 4] | 1));
  return h;
}

}  // namespace glmv
