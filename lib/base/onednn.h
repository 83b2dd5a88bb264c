// oneDNN lives behind this file alone (its exceptions never leave it): what `glmv info` reports, and the
// large f32 GEMMs (prefill and vision linears, vision attention tiles). Primitives are created once per
// shape and kept in a cache that belongs to whoever runs the GEMMs (an engine's runtime context), never to
// the process; they run on the same OpenMP threads as everything else.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "io/status.h"

namespace glmv {

// "2.6.3" and the instruction set oneDNN dispatches to ("AVX-512+VNNI+BF16").
std::string OneDnnVersion();
std::string OneDnnIsa();

// Whether oneDNN runs bf16 GEMMs in hardware here (AVX512-BF16 or AMX), not emulated.
bool OneDnnHasNativeBF16();

// C[i, j] = Σ_p A[i, p] · B[p, j] (+ bias[j]) for i < m, j < n, p < k, row-major with the given row strides
// (in elements). B is either [k, n] (b_is_nk = false; row stride ldb) or given as its transpose W [n, k]
// (b_is_nk = true; row stride ldb) — PyTorch's Linear layout. A and B are f32, or both bf16 bit patterns
// (bf16 = true: exact bf16 products summed in f32); bias and C are f32.
struct GemmArgs {
  const void* a = nullptr;
  size_t m = 0, k = 0, lda = 0;
  const void* b = nullptr;
  size_t n = 0, ldb = 0;
  bool b_is_nk = true;
  const float* bias = nullptr;
  float* c = nullptr;
  size_t ldc = 0;
  bool bf16 = false;
};

// oneDNN's engine and stream (made on first use), and the matmul primitives made so far, one per shape. Used
// by one thread at a time: an engine's runtime context has its own, used by the thread that runs its steps.
class OneDnnCache {
 public:
  OneDnnCache();
  ~OneDnnCache();
  OneDnnCache(OneDnnCache&&) noexcept;
  OneDnnCache& operator=(OneDnnCache&&) noexcept;
  size_t primitives() const;  // shapes cached so far

 private:
  friend Status GemmOneDnn(OneDnnCache& cache, const GemmArgs& args);
  struct State;
  std::unique_ptr<State> state_;
};

// An error (and nothing written) when oneDNN refuses; callers fall back to their own kernels.
Status GemmOneDnn(OneDnnCache& cache, const GemmArgs& args);

}  // namespace glmv
