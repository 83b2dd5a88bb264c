#include "tests/apps/preprocess_cli_test_util.h"

#include <doctest/doctest.h>

#include <utility>

namespace glmv::test {

CommandResult Glmv(const std::string& args) { return RunCommand(std::string(GLMV_BIN) + " " + args); }

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

NpyArray Npy(const std::filesystem::path& path) {
  auto a = ReadNpy(path.string());
  REQUIRE_MESSAGE(a.ok(), a.status().message());
  return std::move(a).value();
}

}  // namespace glmv::test
