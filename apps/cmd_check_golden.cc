// glmv check-golden DIR: one line per case of a golden set, then "check-golden: N passed, N failed,
// N skipped". Exit status 1 on any FAIL, 2 when the set cannot be read.
#include <fmt/core.h>

#include "apps/act_precision_flag.h"
#include "apps/kv_type_flag.h"
#include "apps/vision_math_flag.h"
#include "apps/args.h"
#include "apps/commands.h"
#include "apps/golden_check.h"
#include "lib/base/parallel.h"

namespace glmv::app {
namespace {
const std::vector<OptionSpec> kCheckGoldenOptions = {
    {"--verbose", "-v", false, "print the error of every compared tensor to stderr"},
    {"--model", "-m", true, "MODEL  run this model (.glmv file or directory) instead of the set's own"},
    {"--max-kl", "", true, "X  PASS rule for quantized models: mean KL per case ≤ X (default 1e-3)"},
    {"--routing", "", true, "free|reference  quantized models: judge a case whose expert choices flipped by its own KL"
                            " (free, default) or by its rerun along the reference's choices"},
    {"--judge", "", true, "exact|kl  how to judge a float model: the exact rule (default) or by KL as a quantized one"
                          " is (for weights perturbed outside glmv convert)"},
    {"--threads", "-t", true, "N  threads (default: all cores)"},
    ActPrecisionOption(),
    KvTypeOption(),
    VisionMathOption(),
    {"--help", "-h", false, "show this help"},
};
}  // namespace

int RunCheckGolden(int argc, char** argv) {
  auto args = Args::Parse(kCheckGoldenOptions, argc, argv, 2);
  if (!args.ok()) {
    fmt::print(stderr, "glmv check-golden: {}\n", args.status().message());
    return 2;
  }
  if (args->Has("--help") || args->positional().size() != 1) {
    fmt::print("usage: glmv check-golden DIR [-v] [--model MODEL.glmv [--max-kl X] [--routing free|reference]]\n\n"
               "Runs every case of a golden set (DIR/cases.json, the .npy files it lists, and the model in DIR:\n"
               "config.json + safetensors) and compares with the reference: logits and every given\n"
               "intermediate within {:g} absolute; token ids, positions and expert choices equal.\n"
               "Prints one line per case,\n"
               "  <case> PASS|FAIL|SKIP logits=<worst abs error> hidden=<worst abs error> ids=<match|mismatch|->\n"
               "         kl_mean=<x> kl_max=<x> top1=<fraction> [reason]\n"
               "then a summary. kl_* is KL(reference softmax ‖ ours) over the positions with logits, top1 the\n"
               "fraction of them whose largest logit is the same token. Exit status 1 if any case FAILs.\n\n"
               "With --model, the set's inputs run through another model, typically `glmv convert`'s output of\n"
               "the set's directory. A float model is held to the exact rule above. A quantized one cannot be:\n"
               "its cases PASS when mean KL ≤ --max-kl and positions and token types are equal; intermediates,\n"
               "expert choices and ids are reported, and generation steps are fed the reference's tokens so\n"
               "every step's logits are compared. When a forward case's expert choices differ from the\n"
               "reference's (routing_flips=N (layer, token) pairs: a near-tie in the reference's router flips\n"
               "under any rounding, bf16 weights included), the case runs again along the reference's choices\n"
               "and prints kl_mean_ref_routing, the KL of the quantized arithmetic alone; --routing reference\n"
               "judges by it.\n"
               "A preprocessing set (golden/preprocess) runs our image preprocessing on its files instead.\n\n{}",
               kGoldenTolerance, OptionsHelp(kCheckGoldenOptions));
    return args->Has("--help") ? 0 : 2;
  }
  auto threads = args->GetInt("--threads", 0);
  if (!threads.ok()) {
    fmt::print(stderr, "glmv check-golden: {}\n", threads.status().message());
    return 2;
  }
  SetNumThreads(static_cast<int>(*threads));
  auto precision = ReadActPrecision(*args);
  if (!precision.ok()) {
    fmt::print(stderr, "glmv check-golden: {}\n", precision.status().message());
    return 2;
  }
  GoldenOptions options;
  options.act_precision = *precision;
  options.verbose = args->Has("--verbose");
  options.model = args->Get("--model");
  auto max_kl = args->GetDouble("--max-kl", options.max_kl);
  if (!max_kl.ok() || *max_kl < 0) {
    fmt::print(stderr, "glmv check-golden: --max-kl: {}\n", max_kl.ok() ? "must not be negative" : max_kl.status().message());
    return 2;
  }
  options.max_kl = *max_kl;
  auto kv_type = ReadKvType(*args, options.model.empty() ? args->positional()[0] : options.model);
  if (!kv_type.ok()) {
    fmt::print(stderr, "glmv check-golden: {}\n", kv_type.status().message());
    return 2;
  }
  options.kv_type = *kv_type;
  auto vision_math = ReadVisionMath(*args);
  if (!vision_math.ok()) {
    fmt::print(stderr, "glmv check-golden: {}\n", vision_math.status().message());
    return 2;
  }
  options.vision_math = *vision_math;
  const std::string routing = args->Has("--routing") ? args->Get("--routing") : "free";
  if (routing != "free" && routing != "reference") {
    fmt::print(stderr, "glmv check-golden: --routing: '{}' is neither free nor reference\n", routing);
    return 2;
  }
  options.reference_routing = routing == "reference";
  const std::string judge = args->Has("--judge") ? args->Get("--judge") : "exact";
  if (judge != "exact" && judge != "kl") {
    fmt::print(stderr, "glmv check-golden: --judge: '{}' is neither exact nor kl\n", judge);
    return 2;
  }
  options.judge_by_kl = judge == "kl";
  auto report = CheckGoldenSet(args->positional()[0], options);
  if (!report.ok()) {
    fmt::print(stderr, "glmv check-golden: {}\n", report.status().message());
    return 2;
  }
  for (const auto& c : report->cases) fmt::print("{}\n", FormatCaseLine(c));
  fmt::print("check-golden: {} passed, {} failed, {} skipped (kv-type {}{}{})", report->passed, report->failed,
             report->skipped, KvTypeName(options.kv_type), report->vision_math.empty() ? "" : ", vision-math ",
             report->vision_math);
  if (report->positions) {
    fmt::print("; over {} positions: kl_mean={:.3g} kl_max={:.3g} top1={:.4g}{}", report->positions, report->kl_mean,
               report->kl_max, report->top1, report->quantized ? " (judged by KL)" : "");
  }
  fmt::print("\n");
  return report->failed ? 1 : 0;
}

}  // namespace glmv::app
