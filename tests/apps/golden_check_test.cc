// The runtime against the reference's golden vectors: the tiny set copied into tests/data and the variant sets
// with other dimensions (tests/data/variants, made by tests/tools/make_variant_golden.py); ../shared/golden is
// golden_check_shared_test.cc. Tolerance: 1e-4 absolute on logits and every intermediate.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <vector>

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

TEST_CASE("int8 keys and values: every forward case within the quantized bar along the reference's routing") {
  // int8 KV is judged as quantized weights are (KL ≤ 1e-3 mean per case, by its rerun along the reference's
  // expert choices where a router near-tie flipped). Generation cases are teacher-forced and their routing is
  // not recorded, so a flip there cannot be rerun: they must keep the reference's ids and top-1 at every step,
  // and their KL is printed. (case6_generate_image measures 0.052 under int8 KV, one flipped near-tie: the same
  // 0.052 that q8 text weights with bf16 vision arithmetic give it; bf16 KV gives 2.6e-6.)
  std::vector<fs::path> sets = {test::DataDir() / "tiny-glm4v-moe"};
  for (const auto& entry : fs::directory_iterator(test::DataDir() / "variants")) {
    if (fs::exists(entry.path() / "cases.json")) sets.push_back(entry.path());
  }
  size_t forward = 0;
  for (const fs::path& dir : sets) {
    GoldenOptions options;
    options.judge_by_kl = true;
    options.reference_routing = true;
    options.kv_type = KvType::kInt8;
    auto report = CheckGoldenSet(dir.string(), options);
    REQUIRE(report.ok());
    for (const auto& c : report->cases) {
      MESSAGE(dir.filename().string() << ": " << FormatCaseLine(c));
      if (c.ids != "-") {
        CHECK_MESSAGE(c.ids == "match", FormatCaseLine(c));
        CHECK(c.top1 == 1.0);
        continue;
      }
      ++forward;
      const double kl = c.kl_mean_ref_routing >= 0 ? c.kl_mean_ref_routing : c.kl_mean;
      CHECK(kl > 0);  // int8 does perturb the arithmetic
      CHECK_MESSAGE(kl <= 1e-3, FormatCaseLine(c));
    }
  }
  CHECK(forward >= 7);
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
