// A small .glmv for the expert reader and cache tests: the tiny golden model's config with random weights,
// written by glmv synth --format glmv's writer (mixed recipe: packed int4/int8 experts, one unit each;
// 2 MoE layers × 8 experts of about 3.5 KB).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "tests/test_util.h"

namespace glmv::test {

// Writes it into `dir` and returns its path (REQUIREs success).
std::string WriteTinySynthGlmv(const TempDir& dir, uint64_t seed = 7);

// The same writer for the config.json at `config` (keep it small: the file is written in full), into
// dir/`name`.
std::string WriteSynthGlmv(const TempDir& dir, const std::filesystem::path& config, const std::string& name, uint64_t seed);

}  // namespace glmv::test
