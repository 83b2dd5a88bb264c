#include "lib/onednn.h"

#include <oneapi/dnnl/dnnl.hpp>

namespace glmv {

std::string OneDnnVersion() {
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

std::string OneDnnIsa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::all: return "all";
    case dnnl::cpu_isa::sse41: return "SSE4.1";
    case dnnl::cpu_isa::avx: return "AVX";
    case dnnl::cpu_isa::avx2: return "AVX2";
    case dnnl::cpu_isa::avx2_vnni: return "AVX2+VNNI";
    case dnnl::cpu_isa::avx512_core: return "AVX-512";
    case dnnl::cpu_isa::avx512_core_vnni: return "AVX-512+VNNI";
    case dnnl::cpu_isa::avx512_core_bf16: return "AVX-512+VNNI+BF16";
    case dnnl::cpu_isa::avx512_core_amx: return "AVX-512+AMX";
    default: return "other";
  }
}

}  // namespace glmv
