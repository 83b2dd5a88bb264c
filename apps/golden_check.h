// Comparison of the runtime with a golden set computed by the reference implementation
// (the ../shared/golden format: cases.json, <case>__<key>.npy, and the model beside them).
#pragma once

#include <string>
#include <vector>

#include "io/status.h"

namespace glmv::app {

constexpr double kGoldenTolerance = 1e-4;  // absolute, on f32 logits and activations (golden README)

struct GoldenCaseResult {
  std::string name;
  std::string verdict;        // PASS, FAIL or SKIP
  double logits_err = -1;     // worst absolute logit error; < 0 when not compared
  double hidden_err = -1;     // worst absolute error over all compared intermediates
  std::string ids = "-";      // match / mismatch for generation cases
  std::string reason;         // why it failed or was skipped
};

struct GoldenReport {
  std::vector<GoldenCaseResult> cases;
  int passed = 0, failed = 0, skipped = 0;
};

// Runs every case of the set in `dir`. Errors only when the set itself cannot be read; a model that fails
// to load fails every case with the loader's message. verbose: per-tensor errors to stderr.
Result<GoldenReport> CheckGoldenSet(const std::string& dir, bool verbose);

// "<case> PASS logits=2.56e-06 hidden=4.65e-06 ids=-"
std::string FormatCaseLine(const GoldenCaseResult& r);

}  // namespace glmv::app
