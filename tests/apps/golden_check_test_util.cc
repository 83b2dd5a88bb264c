#include "tests/apps/golden_check_test_util.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "apps/golden_check.h"

namespace glmv::app {

void ExpectGoldenSetPasses(const std::filesystem::path& dir, int min_pass) {
  auto report = CheckGoldenSet(dir.string(), false);
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  double worst = 0;
  for (const auto& c : report->cases) {
    MESSAGE(FormatCaseLine(c));
    CHECK_MESSAGE(c.verdict != "FAIL", FormatCaseLine(c));
    worst = std::max({worst, c.logits_err, c.hidden_err});
  }
  MESSAGE(dir.filename().string() << ": worst absolute error " << worst << " (tolerance " << kGoldenTolerance << ")");
  CHECK(report->failed == 0);
  CHECK(report->passed >= min_pass);
}

}  // namespace glmv::app
