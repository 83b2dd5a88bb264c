// Shared by preprocess_cli_test.cc and preprocess_cli_shared_test.cc: the glmv binary as users run it.
#pragma once

#include <filesystem>
#include <string>

#include "io/npy.h"
#include "tests/test_util.h"

namespace glmv::test {

// `glmv <args>` with the binary built alongside the tests (GLMV_BIN): exit status, stdout and stderr.
CommandResult Glmv(const std::string& args);

bool Contains(const std::string& text, const std::string& part);

// An .npy file the binary wrote; fails the test when it cannot be read.
NpyArray Npy(const std::filesystem::path& path);

}  // namespace glmv::test
