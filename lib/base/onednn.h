// oneDNN lives behind this file alone (its exceptions never leave it): what `glmv info` reports, and the
// large f32 GEMMs (prefill and vision linears, vision attention tiles). Primitives are created once per
// shape and cached; they run on the same OpenMP threads as everything else.
#pragma once

#include <cstddef>
#include <string>

#include "io/status.h"

namespace glmv {

// "2.6.3" and the instruction set oneDNN dispatches to ("AVX-512+VNNI+BF16").
std::string OneDnnVersion();
std::string OneDnnIsa();

// C[i, j] = Σ_p A[i, p] · B[p, j] (+ bias[j]) for i < m, j < n, p < k, all f32, row-major with the given
// row strides (in elements). B is either [k, n] (b_is_nk = false; row stride ldb) or given as its transpose
// W [n, k] (b_is_nk = true; row stride ldb) — PyTorch's Linear layout.
struct GemmArgs {
  const float* a = nullptr;
  size_t m = 0, k = 0, lda = 0;
  const float* b = nullptr;
  size_t n = 0, ldb = 0;
  bool b_is_nk = true;
  const float* bias = nullptr;
  float* c = nullptr;
  size_t ldc = 0;
};
Status GemmOneDnn(const GemmArgs& args);

}  // namespace glmv
