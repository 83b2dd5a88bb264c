// The runtime against the reference's golden vectors: the tiny set copied into tests/data and the variant sets
// with other dimensions (tests/data/variants, made by tests/tools/make_variant_golden.py); ../shared/golden is
// golden_check_shared_test.cc. Tolerance: 1e-4 absolute on logits and every intermediate.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>

#include "apps/golden_check.h"
#include "tests/apps/golden_check_test_util.h"
#include "tests/test_util.h"

namespace glmv::app {
namespace {

namespace fs = std::filesystem;

TEST_CASE("tiny golden set: every case passes (text, image, two images, video, generation after text and image)") {
  const fs::path dir = test::DataDir() / "tiny-glm4v-moe";
  auto report = CheckGoldenSet(dir.string(), false);
  REQUIRE(report.ok());
  for (const auto& c : report->cases) {
    MESSAGE(FormatCaseLine(c));
    CHECK_MESSAGE(c.verdict == "PASS", FormatCaseLine(c));
    CHECK(c.logits_err >= 0);
    CHECK(c.logits_err <= kGoldenTolerance);
  }
  CHECK(report->cases.size() == 6);
  CHECK(report->passed == 6);
}

TEST_CASE("judge_by_kl: the set's own float model judged as a quantized one agrees to float rounding") {
  const fs::path dir = test::DataDir() / "tiny-glm4v-moe";
  GoldenOptions options;
  options.judge_by_kl = true;
  auto report = CheckGoldenSet(dir.string(), options);
  REQUIRE(report.ok());
  MESSAGE("kl_mean " << report->kl_mean << ", kl_max " << report->kl_max << ", top1 " << report->top1);
  CHECK(report->quantized);  // reported as judged by KL
  CHECK(report->passed == 6);
  CHECK(report->positions == 103);
  CHECK(report->kl_max < 1e-9);
  CHECK(report->top1 == 1.0);
  for (const auto& c : report->cases) CHECK(c.routing_flips == 0);
}

TEST_CASE("variant golden sets with other dimensions and router settings") {
  const fs::path root = test::DataDir() / "variants";
  REQUIRE(fs::is_directory(root));
  int sets = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!fs::exists(entry.path() / "cases.json")) continue;
    ++sets;
    ExpectGoldenSetPasses(entry.path(), 2);
  }
  CHECK(sets >= 3);
}

TEST_CASE("a golden set that disagrees is reported as FAIL, with the offending tensor") {
  // Point the check at a copy whose logits were perturbed beyond the tolerance.
  test::TempDir dir;
  const fs::path src = test::DataDir() / "tiny-glm4v-moe";
  for (const auto& e : fs::directory_iterator(src)) fs::copy_file(e.path(), dir / e.path().filename().string());
  auto bytes = test::ReadBytes(dir / "case1_text__logits.npy");
  float v;
  std::memcpy(&v, bytes.data() + bytes.size() - 4, 4);
  v += 1e-3f;
  std::memcpy(bytes.data() + bytes.size() - 4, &v, 4);
  test::WriteBytes(dir / "case1_text__logits.npy", bytes);
  auto report = CheckGoldenSet(dir.path().string(), false);
  REQUIRE(report.ok());
  CHECK(report->failed == 1);
  CHECK(report->cases[0].verdict == "FAIL");
  CHECK(report->cases[0].reason.find("logits off by") != std::string::npos);
}

}  // namespace
}  // namespace glmv::app
