// The allowed include directions of the source tree (../shared/guide/STYLE.md, ARCHITECTURE.md), checked
// include by include: apps → lib, io; lib → quant, io, simd; quant → simd; io and simd → none of ours; inside
// lib/, each sub-folder only towards the ones below it; lib/tools only from apps, tests and benchmarks.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace glmv::test {

struct IncludeViolation {
  std::string file;     // relative to the root, e.g. "lib/text/moe.cc"
  int line = 0;         // 1-based
  std::string target;   // the included path, e.g. "lib/engine/engine.h"
  std::string why;      // which rule it breaks
};

// Scans every .h/.cc/-inl.h under root/{apps,lib,simd,quant,io} for #include "…" lines and returns the ones
// that point the wrong way, plus one entry per lib/ sub-folder that has no rule yet.
std::vector<IncludeViolation> FindLayeringViolations(const std::filesystem::path& root);

}  // namespace glmv::test
