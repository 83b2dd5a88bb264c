// Shared by golden_check_test.cc and golden_check_shared_test.cc.
#pragma once

#include <filesystem>

namespace glmv::app {

// Checks one golden set: no case FAILs and at least `min_pass` cases pass; prints every case's line.
void ExpectGoldenSetPasses(const std::filesystem::path& dir, int min_pass);

}  // namespace glmv::app
