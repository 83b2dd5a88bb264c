// Sizes on the command line (--kv-memory, later --mem-budget, --cache-bytes): plain bytes, or a number with
// K, M, G, T (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 8G, 8GiB, 8000M, 1.5GiB.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "io/status.h"

namespace glmv::app {

// Anything else, a size of 0 or one past 2^63 is an error naming `flag` and saying what is expected.
Result<uint64_t> ParseByteSize(std::string_view text, const std::string& flag);

}  // namespace glmv::app
