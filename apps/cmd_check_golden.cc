// glmv check-golden DIR: one line per case of a golden set, then "check-golden: N passed, N failed,
// N skipped". Exit status 1 on any FAIL, 2 when the set cannot be read.
#include <fmt/core.h>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/golden_check.h"
#include "lib/parallel.h"

namespace glmv::app {
namespace {
const std::vector<OptionSpec> kOptions = {
    {"--verbose", "-v", false, "print the error of every compared tensor to stderr"},
    {"--threads", "-t", true, "N  threads (default: all cores)"},
    {"--help", "-h", false, "show this help"},
};
}  // namespace

int RunCheckGolden(int argc, char** argv) {
  auto args = Args::Parse(kOptions, argc, argv, 2);
  if (!args.ok()) {
    fmt::print(stderr, "glmv check-golden: {}\n", args.status().message());
    return 2;
  }
  if (args->Has("--help") || args->positional().size() != 1) {
    fmt::print("usage: glmv check-golden DIR [-v]\n\n"
               "Runs every case of a golden set (DIR/cases.json, the .npy files it lists, and the model in DIR:\n"
               "config.json + safetensors) and compares with the reference: logits and every given\n"
               "intermediate within {:g} absolute; token ids, positions and expert choices equal.\n"
               "Prints one line per case,\n"
               "  <case> PASS|FAIL|SKIP logits=<worst abs error> hidden=<worst abs error> ids=<match|mismatch|-> [reason]\n"
               "then a summary. Exit status 1 if any case FAILs. Cases that need parts not built yet are\n"
               "SKIPped with the reason.\n\n{}",
               kGoldenTolerance, OptionsHelp(kOptions));
    return args->Has("--help") ? 0 : 2;
  }
  auto threads = args->GetInt("--threads", 0);
  if (!threads.ok()) {
    fmt::print(stderr, "glmv check-golden: {}\n", threads.status().message());
    return 2;
  }
  SetNumThreads(static_cast<int>(*threads));
  auto report = CheckGoldenSet(args->positional()[0], args->Has("--verbose"));
  if (!report.ok()) {
    fmt::print(stderr, "glmv check-golden: {}\n", report.status().message());
    return 2;
  }
  for (const auto& c : report->cases) fmt::print("{}\n", FormatCaseLine(c));
  fmt::print("check-golden: {} passed, {} failed, {} skipped\n", report->passed, report->failed, report->skipped);
  return report->failed ? 1 : 0;
}

}  // namespace glmv::app
