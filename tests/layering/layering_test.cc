// Includes point one way (tests/layering/layering.h): the real tree has no wrong-way include, and the check
// does catch planted ones, so a clean result means something.
#include "tests/layering/layering.h"

#include <doctest/doctest.h>

#include <fstream>
#include <set>

#include "tests/test_util.h"

namespace glmv::test {
namespace {

void Plant(const TempDir& root, const std::string& rel, const std::string& text) {
  const auto path = root.path() / rel;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string Describe(const std::vector<IncludeViolation>& v) {
  std::string s;
  for (const auto& x : v) s += x.file + ":" + std::to_string(x.line) + " includes " + x.target + ": " + x.why + "\n";
  return s;
}

TEST_CASE("the source tree includes only in the allowed direction") {
  const auto found = FindLayeringViolations(GLMV_SOURCE_DIR);
  INFO(Describe(found));
  CHECK(found.empty());
  MESSAGE("wrong-way includes in the source tree: " << found.size());
}

TEST_CASE("planted wrong-way includes are each caught, and allowed ones pass") {
  TempDir root;
  // Allowed: apps → lib (tools too) and io; lib/engine → lib/text; lib → simd; quant → simd; system headers.
  Plant(root, "apps/ok.cc", "#include \"lib/tools/convert.h\"\n#include \"io/status.h\"\n#include <vector>\n");
  Plant(root, "lib/engine/ok.cc", "#include \"lib/text/text_model.h\"\n#include \"simd/kernels.h\"\n#include \"hwy/highway.h\"\n");
  Plant(root, "quant/ok.cc", "#include \"simd/quant_layout.h\"\n");
  // Wrong-way, one per rule.
  Plant(root, "apps/bad.cc", "// fine\n#include \"simd/kernels.h\"\n");                   // apps → simd
  Plant(root, "io/bad.cc", "#include \"lib/model/config.h\"\n");                           // io → lib
  Plant(root, "simd/bad.h", "  #  include \"quant/quantize.h\"\n");                        // simd → quant
  Plant(root, "lib/text/bad.cc", "#include \"lib/engine/engine.h\"\n");                    // text → engine (upward)
  Plant(root, "lib/engine/bad.cc", "#include \"lib/tools/convert.h\"\n");                  // runtime → tools
  Plant(root, "lib/model/bad.h", "#include \"apps/args.h\"\n");                            // lib → apps
  Plant(root, "quant/bad.cc", "#include \"tests/test_util.h\"\n");                         // → tests
  Plant(root, "lib/newmodule/x.h", "#pragma once\n");                                      // folder with no rule
  const auto found = FindLayeringViolations(root.path());
  MESSAGE(Describe(found));
  REQUIRE(found.size() == 8);
  std::set<std::string> files;
  for (const auto& v : found) files.insert(v.file);
  CHECK(files == std::set<std::string>{"apps/bad.cc", "io/bad.cc", "simd/bad.h", "lib/text/bad.cc", "lib/engine/bad.cc",
                                       "lib/model/bad.h", "quant/bad.cc", "lib/newmodule"});
  for (const auto& v : found) {
    if (v.file == "apps/bad.cc") CHECK(v.line == 2);
  }
}

}  // namespace
}  // namespace glmv::test
