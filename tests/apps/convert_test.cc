// glmv convert and glmv inspect as users run them, on the tiny golden model (tests/data/tiny-glm4v-moe):
// the float recipe reproduces the golden set exactly through the .glmv container; q8, mixed and q4 load
// without copying a weight byte and are judged by KL (figures printed); experts are 4 KiB-aligned units;
// an existing output is not overwritten; a truncated or corrupted file is refused with a clear message.
#include <doctest/doctest.h>
#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "apps/golden_check.h"
#include "io/model_file.h"
#include "io/npy.h"
#include "lib/model/linear.h"
#include "lib/text/text_model.h"
#include "lib/vision/vision_model.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;
const fs::path kTiny = test::DataDir() / "tiny-glm4v-moe";

struct Run {
  int status = -1;
  std::string out;  // stdout and stderr
};

Run Glmv(const std::string& args) {
  const test::CommandResult r = test::RunCommand(std::string(GLMV_BIN) + " " + args);
  return {r.status, r.out + r.err};
}

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Converts the tiny model; the file is checked to exist and the command's summary printed.
fs::path Convert(const test::TempDir& dir, const std::string& recipe, const std::string& extra = "") {
  const fs::path out = dir / (recipe + (extra.empty() ? "" : "-x") + ".glmv");
  const Run r = Glmv(fmt::format("convert {} -o {} --recipe {} {}", kTiny.string(), out.string(), recipe, extra));
  MESSAGE(r.out);
  REQUIRE(r.status == 0);
  REQUIRE(fs::exists(out));
  CHECK(!fs::exists(out.string() + ".partial"));
  CHECK(Contains(r.out, "convert: "));
  return out;
}

// The text's quantization is judged with the vision tower's f32 arithmetic: bf16 arithmetic is judged by its
// own test below. (Together they flip a near-tie in case 6's teacher-forced generation, whose routing the
// golden set does not record: KL 0.05 under q8 with bf16 vision arithmetic, 2e-5 under the float recipe.)
app::GoldenReport CheckWith(const fs::path& model, ActPrecision precision = ActPrecision::kAuto) {
  app::GoldenOptions options;
  options.model = model.string();
  options.act_precision = precision;
  options.vision_math = VisionMath::kF32;
  auto report = app::CheckGoldenSet(kTiny.string(), options);
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  for (const auto& c : report->cases) MESSAGE(app::FormatCaseLine(c));
  MESSAGE(fmt::format("{}: kl_mean={:.3g} kl_max={:.3g} top1={:.4g} over {} positions", model.filename().string(),
                      report->kl_mean, report->kl_max, report->top1, report->positions));
  return *report;
}

TEST_CASE("the float recipe reproduces every golden case exactly through a .glmv file") {
  test::TempDir dir;
  const fs::path model = Convert(dir, "float");
  const auto report = CheckWith(model);
  CHECK(!report.quantized);
  CHECK(report.passed == 6);
  CHECK(report.failed == 0);
  double worst = 0;
  for (const auto& c : report.cases) worst = std::max({worst, c.logits_err, c.hidden_err});
  MESSAGE("worst absolute error " << worst << " (tolerance " << app::kGoldenTolerance << ")");
  CHECK(worst <= app::kGoldenTolerance);
  CHECK(report.kl_max < 1e-9);
  CHECK(report.top1 == 1.0);
}

TEST_CASE("quantized recipes load without copying weights and stay close to the reference") {
  test::TempDir dir;
  // Bounds are loose multiples of what was measured (2026-11-24, search quantizer): q8 kl_mean 0.0082 and
  // top1 0.92, mixed 0.017 / 0.79, q4 0.11 / 0.54. The tiny random model's routers have near-ties (top-2
  // margins down to 0.004 in logits) that any 8-bit perturbation can flip, so some cases exceed 1e-3.
  struct Expect { const char* recipe; double max_kl_mean, min_top1; };
  for (const Expect e : {Expect{"q8", 0.02, 0.85}, Expect{"mixed", 0.05, 0.7}, Expect{"q4", 0.3, 0.4}}) {
    CAPTURE(e.recipe);
    const fs::path model = Convert(dir, e.recipe);
    auto loaded = TextModel::Load(model.string());
    REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
    const WeightStorage& storage = (*loaded)->storage();
    CHECK(storage.widened_bytes == 0);  // every text weight is used in place from the mapping
    CHECK(storage.packed_bytes > 0);
    const auto report = CheckWith(model);
    CHECK(report.quantized);
    CHECK(report.positions == 103);
    CHECK(report.kl_mean <= e.max_kl_mean);
    CHECK(report.top1 >= e.min_top1);
    for (const auto& c : report.cases) CHECK(c.positions > 0);
    if (std::string(e.recipe) == "q8") {
      // Issue 5's bar, on the quantization's arithmetic: along the reference's routing where a near-tie
      // flipped (bf16 rounding of the same weights flips case 2 too: KL 0.007), every case within 1e-3.
      for (const auto& c : report.cases) {
        const double kl = c.kl_mean_ref_routing >= 0 ? c.kl_mean_ref_routing : c.kl_mean;
        CHECK_MESSAGE(kl <= 1e-3, app::FormatCaseLine(c));
      }
    }
  }
}

// A golden case's pictures through the vision tower of `model`: the worst absolute error of the merged output
// against the golden one, and how the tower holds its weights.
struct VisionRun {
  double merged_err = -1;
  WeightStorage storage;
  std::string math;
};
VisionRun RunVisionCase(const fs::path& model, const std::string& name = "case2_image",
                        VisionMath math = VisionMath::kAuto) {
  auto ckpt = Checkpoint::Open(model.string());
  REQUIRE_MESSAGE(ckpt.ok(), ckpt.status().message());
  auto vision = VisionModel::Create((*ckpt)->config(), **ckpt, math);
  REQUIRE_MESSAGE(vision.ok(), vision.status().message());
  const bool video = fs::exists(kTiny / (name + "__pixel_values_videos.npy"));
  auto pixels = ReadNpy((kTiny / (name + (video ? "__pixel_values_videos.npy" : "__pixel_values.npy"))).string());
  auto thw = ReadNpy((kTiny / (name + (video ? "__video_grid_thw.npy" : "__image_grid_thw.npy"))).string());
  auto want = ReadNpy((kTiny / (name + "__vision_merged.npy")).string());
  REQUIRE((pixels.ok() && thw.ok() && want.ok()));
  const auto g = thw->ToInt64();
  REQUIRE(g.size() % 3 == 0);
  std::vector<VisionGrid> grids;
  for (size_t i = 0; i < g.size(); i += 3) grids.push_back({g[i], g[i + 1], g[i + 2]});
  auto merged = (*vision)->Encode(pixels->ToFloat(), grids);
  REQUIRE_MESSAGE(merged.ok(), merged.status().message());
  const WeightStorage& s = (*vision)->storage();
  VisionRun r;
  r.merged_err = test::MaxAbsDiff(*merged, want->ToFloat());
  r.storage.mapped_bytes = s.mapped_bytes, r.storage.widened_bytes = s.widened_bytes;
  r.storage.packed_bytes = s.packed_bytes, r.storage.bf16_bytes = s.bf16_bytes;
  r.math = (*vision)->math_name();
  return r;
}

TEST_CASE("the vision tower is stored bf16 by default and used in place; f32 is exact, int8 costs accuracy") {
  test::TempDir dir;
  const fs::path bf16 = Convert(dir, "q8"), f32 = Convert(dir, "q8", "--vision f32");
  const fs::path q8 = dir / "q8-vision-q8.glmv";
  REQUIRE(Glmv(fmt::format("convert {} -o {} --recipe q8 --vision q8", kTiny.string(), q8.string())).status == 0);
  auto file = ModelFile::Open(bf16.string());
  REQUIRE(file.ok());
  CHECK(Contains(file->metadata().at("glmv.recipe"), "\"vision\":\"bf16\""));
  const Run inspect = Glmv("inspect " + bf16.string());
  CHECK(Contains(inspect.out, "model.visual.blocks.0.attn.qkv.weight"));
  CHECK(Contains(inspect.out, "BF16"));

  const VisionRun exact = RunVisionCase(f32), half = RunVisionCase(bf16, "case2_image", VisionMath::kF32),
                  int8 = RunVisionCase(q8);
  MESSAGE(fmt::format("case2 vision_merged max abs error: f32 {:.3g}, bf16 {:.3g}, q8 {:.3g}", exact.merged_err,
                      half.merged_err, int8.merged_err));
  for (const VisionRun* r : {&exact, &half, &int8}) CHECK(r->storage.widened_bytes == 0);  // nothing copied at load
  CHECK(half.storage.bf16_bytes > 0);
  CHECK(int8.storage.packed_bytes > 0);
  CHECK(exact.merged_err <= app::kGoldenTolerance);
  // Measured 2026-12-02: f32 9.5e-7, bf16 5.1e-3, q8 1.9e-2 (the tiny model's weights are f32, so bf16 rounds
  // them; GLM-V's own are bf16 already).
  CHECK(half.merged_err < 2e-2);
  CHECK(int8.merged_err > 2 * half.merged_err);
  CHECK(Glmv(fmt::format("convert {} -o {} --vision int4", kTiny.string(), (dir / "v.glmv").string())).status != 0);
}

TEST_CASE("bf16 vision arithmetic on a tower stored bf16: within 2x the error of f32 arithmetic, KL <= 1e-3") {
  // Issue 15's bar: on golden cases 2-4 converted with --vision bf16 (the float recipe: the tower's rounding
  // is the file's only one), vision_merged's worst error under bf16 arithmetic is at most twice that of f32
  // arithmetic on the same file, and the logits' KL at most 1e-3 — along the reference's routing where the
  // tiny model's router near-ties flipped, as for q8 (the f32 arithmetic on this file flips case 3 too).
  test::TempDir dir;
  const fs::path model = Convert(dir, "float", "--vision bf16");
  for (const char* name : {"case2_image", "case3_two_images", "case4_video"}) {
    CAPTURE(name);
    const VisionRun f32 = RunVisionCase(model, name, VisionMath::kF32);
    const VisionRun bf16 = RunVisionCase(model, name, VisionMath::kBF16);
    MESSAGE(fmt::format("{} vision_merged max abs error: f32 arithmetic {:.3g}, bf16 arithmetic {:.3g} ({:.2f}x)", name,
                        f32.merged_err, bf16.merged_err, bf16.merged_err / f32.merged_err));
    CHECK(f32.math == "f32");
    CHECK(bf16.math == "bf16");
    CHECK(bf16.merged_err != f32.merged_err);  // a different arithmetic ran
    CHECK(bf16.merged_err <= 2 * f32.merged_err);
  }
  app::GoldenOptions options;
  options.model = model.string();
  options.vision_math = VisionMath::kBF16;
  options.judge_by_kl = true;  // and so the KL along the reference's routing where a choice flipped
  auto report = app::CheckGoldenSet(kTiny.string(), options);
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  CHECK(report->vision_math == "bf16");
  for (const auto& c : report->cases) {
    MESSAGE(app::FormatCaseLine(c));
    const double kl = c.kl_mean_ref_routing >= 0 ? c.kl_mean_ref_routing : c.kl_mean;
    CHECK_MESSAGE(kl <= 1e-3, app::FormatCaseLine(c));
  }
  // A tower not stored bf16 is refused bf16 arithmetic, by name.
  auto ckpt = Checkpoint::Open(kTiny.string());
  REQUIRE(ckpt.ok());
  auto refused = VisionModel::Create((*ckpt)->config(), **ckpt, VisionMath::kBF16);
  REQUIRE(!refused.ok());
  CHECK(Contains(refused.status().message(), "stored bf16"));
  const Run bad = Glmv(fmt::format("check-golden {} --vision-math bf8", kTiny.string()));
  CHECK(bad.status == 2);
  CHECK(Contains(bad.out, "--vision-math"));
}

TEST_CASE("int8x2 activations bring the q8 recipe closer to the reference") {
  test::TempDir dir;
  const fs::path model = Convert(dir, "q8");
  // Per case, the KL of the quantization's arithmetic: along the reference's routing where a choice flipped.
  auto arithmetic_kl = [&](ActPrecision precision) {
    double sum = 0;
    for (const auto& c : CheckWith(model, precision).cases) sum += c.kl_mean_ref_routing >= 0 ? c.kl_mean_ref_routing : c.kl_mean;
    return sum;
  };
  const double once = arithmetic_kl(ActPrecision::kInt8);
  const double twice = arithmetic_kl(ActPrecision::kInt8x2);
  MESSAGE("q8, summed over the cases: KL " << once << " with int8 activations, " << twice << " with int8x2");
  CHECK(twice < 0.7 * once);  // measured 2026-12-02: ~0.4×
  const Run bad = Glmv(fmt::format("check-golden {} --model {} --act-precision int16", kTiny.string(), model.string()));
  CHECK(bad.status == 2);
  CHECK(Contains(bad.out, "int16"));
}

TEST_CASE("round-to-nearest is selectable, and the search quantizer's error is lower") {
  test::TempDir dir;
  const Run search = Glmv(fmt::format("convert {} -o {} --recipe q4 -v", kTiny.string(), (dir / "s.glmv").string()));
  const Run rtn = Glmv(fmt::format("convert {} -o {} --recipe q4 --quantizer rtn -v", kTiny.string(), (dir / "r.glmv").string()));
  REQUIRE(search.status == 0);
  REQUIRE(rtn.status == 0);
  CHECK(Contains(rtn.out, "quantizer rtn"));
  // The routed experts' mean SNR, from the summary line of each.
  auto snr = [](const std::string& out) {
    const size_t at = out.find("\nrouted experts");
    REQUIRE(at != std::string::npos);
    const size_t db = out.find(" dB", at);
    const size_t begin = out.rfind(' ', db - 1);
    return std::stod(out.substr(begin + 1, db - begin - 1));
  };
  MESSAGE("routed experts q4 mean SNR: search " << snr(search.out) << " dB, round-to-nearest " << snr(rtn.out) << " dB");
  CHECK(snr(search.out) > snr(rtn.out) + 0.2);
  // The default int4 grid is the non-uniform one; --int4-grid uniform and rtn keep Q4_0's.
  CHECK(Contains(search.out, "Q4NLG32×"));
  CHECK(Contains(rtn.out, "Q4G32×"));
  const Run uniform = Glmv(fmt::format("convert {} -o {} --recipe q4 --int4-grid uniform", kTiny.string(), (dir / "u.glmv").string()));
  CHECK(uniform.status == 0);
  CHECK(Contains(uniform.out, "Q4G32×"));
  CHECK(!Contains(uniform.out, "Q4NLG32"));
  MESSAGE("routed experts q4 mean SNR: uniform grid searched " << snr(uniform.out) << " dB");
  CHECK(snr(search.out) > snr(uniform.out));
}

TEST_CASE("routed experts are 4 KiB-aligned units of three tensors; inspect lists them") {
  test::TempDir dir;
  const fs::path model = Convert(dir, "mixed");
  auto file = ModelFile::Open(model.string());
  REQUIRE(file.ok());
  // tiny: layers 1 and 2 are MoE with 8 experts each.
  CHECK(file->units().size() == 16);
  for (const auto& u : file->units()) {
    CHECK(u.tensor_count == 3);
    CHECK(reinterpret_cast<uintptr_t>(u.bytes.data()) % 4096 == 0);
  }
  CHECK(file->metadata().count("tokenizer.json") == 1);
  CHECK(Contains(file->metadata().at("glmv.recipe"), "\"mixed\""));

  const Run inspect = Glmv("inspect " + model.string());
  CHECK(inspect.status == 0);
  CHECK(Contains(inspect.out, "routed experts"));
  CHECK(Contains(inspect.out, "model.language_model.layers.2.mlp.experts.7.down_proj.weight"));
  CHECK(Contains(inspect.out, "Q4NLG32"));
  CHECK(Contains(inspect.out, "16 expert units"));
  const Run summary = Glmv("inspect --summary " + model.string());
  CHECK(summary.status == 0);
  CHECK(!Contains(summary.out, "experts.7.down_proj"));
  const Run config = Glmv("inspect --metadata config.json " + model.string());
  CHECK(config.status == 0);
  CHECK(Contains(config.out, "\"text_config\""));
}

TEST_CASE("compare: a float conversion agrees exactly, a q4 one departs measurably") {
  test::TempDir dir;
  const fs::path exact = Convert(dir, "float"), q4 = Convert(dir, "q4");
  const Run same = Glmv(fmt::format("compare {} {} --random 24 -n 6", kTiny.string(), exact.string()));
  MESSAGE(same.out);
  REQUIRE(same.status == 0);
  CHECK(Contains(same.out, "compare: positions=24 "));
  CHECK(Contains(same.out, "top1=1 "));
  CHECK(Contains(same.out, "first_difference=none"));
  const Run differs = Glmv(fmt::format("compare {} {} --random 24 -n 6", kTiny.string(), q4.string()));
  MESSAGE(differs.out);
  REQUIRE(differs.status == 0);
  const size_t at = differs.out.find("kl_mean=");
  REQUIRE(at != std::string::npos);
  const double kl = std::stod(differs.out.substr(at + 8));
  CHECK(kl > 1e-4);  // q4 on the tiny model: ~0.1 against the golden logits
  CHECK(kl < 1.0);
  const size_t margin_at = differs.out.find("base_top1_margin_median=");
  REQUIRE(margin_at != std::string::npos);
  CHECK(std::stod(differs.out.substr(margin_at + 24)) > 0.0);
  CHECK(Glmv(fmt::format("compare {} {} --prompt-ids 1,x", kTiny.string(), q4.string())).status != 0);
}

TEST_CASE("an existing output is kept unless --force; bad arguments are clear errors") {
  test::TempDir dir;
  const fs::path out = dir / "exists.glmv";
  test::WriteBytes(out, std::vector<uint8_t>{'k', 'e', 'e', 'p'});
  const Run r = Glmv(fmt::format("convert {} -o {}", kTiny.string(), out.string()));
  CHECK(r.status != 0);
  CHECK(Contains(r.out, "--force"));
  CHECK(test::ReadBytes(out).size() == 4);
  CHECK(Glmv(fmt::format("convert {} -o {} --recipe q3", kTiny.string(), (dir / "x.glmv").string())).out.find("unknown recipe") !=
        std::string::npos);
  const Run not_model = Glmv(fmt::format("convert {} -o {}", dir.path().string(), (dir / "y.glmv").string()));
  CHECK(not_model.status != 0);
  CHECK(!fs::exists(dir / "y.glmv"));
  CHECK(!fs::exists(dir / "y.glmv.partial"));
  CHECK(Glmv("convert --help").status == 0);
  CHECK(Glmv("inspect --help").status == 0);
}

TEST_CASE("a truncated or corrupted model file is refused before use, naming the file") {
  test::TempDir dir;
  const fs::path model = Convert(dir, "q8");
  auto bytes = test::ReadBytes(model);
  const fs::path truncated = dir / "truncated.glmv";
  test::WriteBytes(truncated, std::vector<uint8_t>(bytes.begin(), bytes.end() - 5000));
  for (const std::string& cmd : {"run -m " + truncated.string() + " --prompt-ids 1,2,3 -n 2", "inspect " + truncated.string()}) {
    const Run r = Glmv(cmd);
    MESSAGE(cmd << " → " << r.out);
    CHECK(r.status != 0);
    CHECK(Contains(r.out, truncated.string()));
  }
  auto corrupt = bytes;
  corrupt[20] ^= 0x40;  // file_bytes in the header
  const fs::path flipped = dir / "flipped.glmv";
  test::WriteBytes(flipped, corrupt);
  const Run r = Glmv("run -m " + flipped.string() + " --prompt-ids 1,2,3 -n 2");
  MESSAGE(r.out);
  CHECK(r.status != 0);
  CHECK(Contains(r.out, flipped.string()));
  // The intact file runs.
  const Run ok = Glmv("run -m " + model.string() + " --prompt-ids 1,2,3 -n 2");
  CHECK_MESSAGE(ok.status == 0, ok.out);
}

}  // namespace
}  // namespace glmv
