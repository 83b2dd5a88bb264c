#include "lib/linear.h"

#include "lib/onednn.h"
#include "lib/parallel.h"
#include "simd/kernels.h"
#include "simd/kernels_quant.h"

namespace glmv {

namespace {

// Packed int4/int8 weights: activations quantized to int8 per group once, then tiles of 16 rows split
// across threads (simd/kernels_quant.h).
void LinearPacked(const Weight& w, const float* b, const float* x, size_t n, float* y) {
  const size_t out = static_cast<size_t>(w.rows()), in = static_cast<size_t>(w.cols());
  const auto kind = PackedKind(w.dtype);
  const size_t G = simd::QuantGroups(in);
  // Grown to the largest batch seen, then reused: the decode loop does not allocate.
  thread_local std::vector<int8_t> q;
  thread_local std::vector<float> scale;
  thread_local std::vector<int32_t> sum;
  if (q.size() < n * G * simd::kQuantGroup) q.resize(n * G * simd::kQuantGroup);
  if (scale.size() < n * G) scale.resize(n * G), sum.resize(n * G);
  simd::QuantizeActs(x, n, in, in, q.data(), scale.data(), sum.data());
  const simd::QuantizedActs acts{q.data(), scale.data(), sum.data(), G};
  ParallelFor(simd::QuantTiles(out), 1, [&](size_t begin, size_t end, size_t) {
    simd::MatMulQuant(kind, w.packed, out, in, begin, end, acts, n, b, y, out);
  });
}

}  // namespace

void Linear(const Weight& w, const Weight* bias, const float* x, size_t n, float* y) {
  const size_t out = static_cast<size_t>(w.rows()), in = static_cast<size_t>(w.cols());
  const float* b = (bias && bias->data) ? bias->data : nullptr;
  if (w.is_packed()) return LinearPacked(w, b, x, n, y);
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
