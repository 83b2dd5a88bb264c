// Sizes on the command line, parsed in one place. Two grammars:
//   kAnySize (--kv-memory, --cache-bytes, --max-body-bytes, synth's --shard-size): plain bytes, or a number
//     with K, M, G, T (powers of 1000, with or without a B: 8G, 8GB, and 8gb, as synth always took) or KiB,
//     MiB, GiB, TiB (powers of 1024), e.g. 8G, 8GiB, 8000M, 1.5GiB. A bare lower-case unit (8g) is refused.
//   kMemBudget (--mem-budget, issue 14): exactly plain bytes, or a number with K, M, G (powers of 1000) or
//     KiB, MiB, GiB (powers of 1024): 8G, 8GiB, 8000M. A memory budget is read by people comparing it with
//     RAM sizes, so nothing looser (no B suffix, no T, no lower case) is guessed at.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "io/status.h"

namespace glmv::app {

enum class SizeGrammar { kAnySize, kMemBudget };

// Anything else, a size of 0 or one past 2^63 is an error naming `flag` and saying what is expected.
Result<uint64_t> ParseByteSize(std::string_view text, const std::string& flag,
                               SizeGrammar grammar = SizeGrammar::kAnySize);

}  // namespace glmv::app
