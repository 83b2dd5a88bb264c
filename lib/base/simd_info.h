// Which SIMD target the kernels dispatch to on this CPU, for `glmv info` and benchmark reports (apps see
// simd/ only through lib/).
#pragma once

#include <string>
#include <vector>

namespace glmv {

std::string SimdTargetName();                  // e.g. "AVX3_DL"
std::vector<std::string> SimdTargetsUsable();  // compiled in and supported by this CPU, best first

}  // namespace glmv
