// glmv info: what this build is and what it will use on this machine.
#include <fmt/core.h>

#include "apps/commands.h"
#include "lib/base/onednn.h"
#include "lib/base/parallel.h"
#include "lib/base/simd_info.h"

#ifndef GLMV_VERSION
#define GLMV_VERSION "unknown"
#endif

namespace glmv::app {

int RunInfo(int argc, char** argv) {
  if (argc > 2 && (std::string(argv[2]) == "--help" || std::string(argv[2]) == "-h")) {
    fmt::print("usage: glmv info\n\nPrints the glmv version, the Highway SIMD target chosen for this CPU (and the\n"
               "targets compiled in), oneDNN's version and the ISA it dispatches to, and the thread count.\n");
    return 0;
  }
  fmt::print("glmv {}\n", GLMV_VERSION);
  fmt::print("simd target: {}\n", SimdTargetName());
  std::string targets;
  for (const auto& t : SimdTargetsUsable()) targets += (targets.empty() ? "" : " ") + t;
  fmt::print("simd targets usable here: {}\n", targets);
  fmt::print("onednn: {} (isa {})\n", OneDnnVersion(), OneDnnIsa());
  fmt::print("threads: {}\n", NumThreads());
  return 0;
}

}  // namespace glmv::app
