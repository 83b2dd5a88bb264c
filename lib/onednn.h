// oneDNN lives behind this file alone (its exceptions never leave it). For now: what `glmv info` reports;
// the large dense GEMMs (prefill, vision) move here once measured faster than the Highway kernels.
#pragma once

#include <string>

namespace glmv {

// "2.6.3 (cpu isa: AVX-512 with ...)" — version and the instruction set oneDNN dispatches to.
std::string OneDnnVersion();
std::string OneDnnIsa();

}  // namespace glmv
