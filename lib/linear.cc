#include "lib/linear.h"

#include "lib/onednn.h"
#include "lib/parallel.h"
#include "simd/kernels.h"

namespace glmv {

void Linear(const Weight& w, const Weight* bias, const float* x, size_t n, float* y) {
  const size_t out = static_cast<size_t>(w.rows()), in = static_cast<size_t>(w.cols());
  const float* b = (bias && bias->data) ? bias->data : nullptr;
  if (n >= kOneDnnMinTokens) {
    // Many tokens: a blocked GEMM reuses each weight tile across tokens; oneDNN's is far faster than
    // the row-by-row kernel there (benchmarks/bench_linear). Fall back to it if oneDNN refuses.
    if (GemmOneDnn({x, n, in, in, w.data, out, in, true, b, y, out}).ok()) return;
  }
  // Chunks of ≥ 16 rows keep threads busy without splitting tiny matrices.
  ParallelFor(out, 16, [&](size_t begin, size_t end, size_t) {
    simd::MatMulF32(w.data, in, b, begin, end, x, n, in, y, out);
  });
}

void SwiGlu(const MlpWeights& mlp, const float* x, size_t n, float* out, std::vector<float>& scratch) {
  const size_t width = static_cast<size_t>(mlp.gate.rows());
  if (scratch.size() < 2 * n * width) scratch.resize(2 * n * width);
  float* gate = scratch.data();
  float* up = gate + n * width;
  Linear(mlp.gate, nullptr, x, n, gate);
  Linear(mlp.up, nullptr, x, n, up);
  simd::SiluMul(gate, up, gate, n * width);
  Linear(mlp.down, nullptr, gate, n, out);
}

}  // namespace glmv
