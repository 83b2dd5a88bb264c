// The runtime against ../shared/golden/tiny-glm4v-moe, the reference's own copy of the tiny golden set (the
// executable skips, exit 77, without ../shared). Tolerance: 1e-4 absolute on logits and every intermediate.
#include <doctest/doctest.h>

#include <filesystem>

#include "tests/apps/golden_check_test_util.h"
#include "tests/test_util.h"

namespace glmv::app {
namespace {

namespace fs = std::filesystem;

TEST_CASE("../shared golden set") {
  const fs::path dir = test::SharedDir() / "golden" / "tiny-glm4v-moe";
  REQUIRE_MESSAGE(fs::exists(dir / "cases.json"), (dir / "cases.json").string() << " is missing from ../shared");
  ExpectGoldenSetPasses(dir, 6);
}

}  // namespace
}  // namespace glmv::app
