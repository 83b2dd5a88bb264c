#include "lib/base/simd_info.h"

#include "simd/kernels.h"

namespace glmv {

std::string SimdTargetName() { return simd::CurrentTargetName(); }
std::vector<std::string> SimdTargetsUsable() { return simd::CompiledTargetNames(); }

}  // namespace glmv
