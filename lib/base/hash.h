// A 256-bit content hash for recognising identical inputs (the same preprocessed image in two prompts).
// Four independent 64-bit lanes of a multiply–xorshift mix over 8-byte words: fast (a 1024² image's 25 MB of
// pixels in a few ms) and with ~2^-128 chance of an accidental collision, but not cryptographic — a prefix
// cache keyed by it must not be shared between mutually hostile tenants.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace glmv {

using Hash256 = std::array<uint64_t, 4>;

// Hash of `bytes`, continuing from `seed` (chain several spans by passing the previous result).
Hash256 HashBytes(std::span<const uint8_t> bytes, const Hash256& seed = {});

}  // namespace glmv
