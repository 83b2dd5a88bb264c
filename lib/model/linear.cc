#include "lib/model/linear.h"

#include <algorithm>
#include <string>

#include "lib/base/onednn.h"
#include "lib/base/parallel.h"
#include "simd/kernels.h"
#include "simd/kernels_bf16.h"
#include "simd/kernels_quant.h"

namespace glmv {

namespace {

bool AnyTwice(const ActRows& acts, size_t n) {
  if (!acts.per_row) return acts.all == ActQuant::kTwice;
  for (size_t t = 0; t < n; ++t) {
    if (acts.per_row[t] == ActQuant::kTwice) return true;
  }
  return false;
}

bool SameActRows(const ActRows& a, const ActRows& b) { return a.all == b.all && a.per_row == b.per_row; }

// Kernel rows of a call: n, plus one more for each kTwice row.
size_t KernelRows(const ActRows& acts, size_t n) {
  size_t rows = 0;
  for (size_t t = 0; t < n; ++t) rows += acts.At(t) == ActQuant::kTwice ? 2 : 1;
  return rows;
}

// Activations of one packed layer, quantized for the kernels: n tokens of width `in` become kernel rows in
// token order, one per kOnce token and two per kTwice token (the value, then what its quantization lost,
// quantized again). q/scale/sum are sized by the caller for KernelRows(acts, n) rows of P, G and G entries.
void QuantizeForKernels(const float* x, size_t n, size_t in, const ActRows& acts, int8_t* q, float* scale,
                        int32_t* sum, std::vector<float>& rest) {
  const size_t G = simd::QuantGroups(in), P = G * simd::kQuantGroup;
  if (!AnyTwice(acts, n)) return simd::QuantizeActs(x, n, in, in, q, scale, sum);
  if (rest.size() < in) rest.resize(in);
  size_t r = 0;
  for (size_t t = 0; t < n; ++t) {
    const float* xt = x + t * in;
    int8_t* qt = q + r * P;
    float* st = scale + r * G;
    simd::QuantizeActs(xt, 1, in, in, qt, st, sum + r * G);
    ++r;
    if (acts.At(t) != ActQuant::kTwice) continue;
    for (size_t i = 0; i < in; ++i) rest[i] = xt[i] - st[i / simd::kQuantGroup] * static_cast<float>(qt[i]);
    simd::QuantizeActs(rest.data(), 1, in, in, qt + P, st + G, sum + r * G);
    ++r;
  }
}

// When some rows ran twice, the kernels wrote every kernel row to `rows_out` ([kernel rows, out]):
// y = main (+ rest) + bias per token.
void SumKernelRows(const float* rows_out, size_t n, const ActRows& acts, size_t out, const float* b, float* y) {
  size_t r = 0;
  for (size_t t = 0; t < n; ++t) {
    const float* main_y = rows_out + r * out;
    if (acts.At(t) == ActQuant::kTwice) {
      const float* rest_y = main_y + out;
      for (size_t i = 0; i < out; ++i) y[t * out + i] = main_y[i] + rest_y[i] + (b ? b[i] : 0.0f);
      r += 2;
    } else {
      for (size_t i = 0; i < out; ++i) y[t * out + i] = main_y[i] + (b ? b[i] : 0.0f);
      r += 1;
    }
  }
}

// bf16 weights (the vision tower's, in place in a .glmv file). Few tokens: the Highway bf16 kernels, which
// widen as they stream. Many: the matrix is widened once into a scratch buffer and multiplied by oneDNN's
// f32 GEMM — the same f32 arithmetic as weights widened at load, for one pass over the weights (vision
// batches are hundreds of tokens or more, so the pass is a few percent of the GEMM's time).
// Under BF16Math::kBF16, any n: x is rounded to bf16 (threads split the rows) and oneDNN multiplies it with the
// weights as they lie in the file; the f32 ways below are the fallback if oneDNN refuses.
void LinearBF16(LinearContext& cx, const Weight& w, const float* b, const float* x, size_t n, float* y, BF16Math math) {
  const size_t out = static_cast<size_t>(w.rows()), in = static_cast<size_t>(w.cols());
  if (math == BF16Math::kBF16 && n > 0) {
    if (cx.x_bf16.size() < n * in) cx.x_bf16.resize(n * in);
    uint16_t* xb = cx.x_bf16.data();
    ParallelFor(n, 16, [&](size_t begin, size_t end, size_t) {
      simd::NarrowToBF16(x + begin * in, (end - begin) * in, xb + begin * in);
    });
    if (GemmOneDnn(cx.onednn, {xb, n, in, in, w.bf16, out, in, true, b, y, out, /*bf16=*/true}).ok()) return;
  }
  if (n >= kOneDnnMinTokens) {
    std::vector<float>& widened = cx.widened;  // grown to the largest matrix, then reused
    if (widened.size() < out * in) widened.resize(out * in);
    float* dst = widened.data();
    const uint16_t* src = w.bf16;
    ParallelFor(out, 64, [&](size_t begin, size_t end, size_t) {
      WidenToF32(DType::kBF16, reinterpret_cast<const uint8_t*>(src + begin * in), (end - begin) * in, dst + begin * in);
    });
    if (GemmOneDnn(cx.onednn, {x, n, in, in, dst, out, in, true, b, y, out}).ok()) return;
  }
  ParallelFor(out, 16, [&](size_t begin, size_t end, size_t) {
    simd::MatMulBF16(w.bf16, in, b, begin, end, x, n, in, y, out);
  });
}

}  // namespace

void LinearPackedBatch(LinearContext& cx, std::span<const PackedLinearJob> jobs) {
  // Activations are quantized to int8 per group once (or twice, see ActQuant) on this thread, then the
  // tiles of 16 rows are split across threads (simd/kernels_quant.h). Buffers are the context's, grown to
  // the largest batch seen and reused (decode does not allocate); the workers get pointers, never the names.
  // Per job: its activations' place in the shared buffers (a job with the same input as the one before —
  // gate and up of one expert — shares its quantization), its output (or pair buffer) and its first tile.
  using Plan = LinearContext::PackedPlan;
  std::vector<Plan>& plans = cx.plans;
  std::vector<int8_t>& q = cx.q;
  std::vector<float>& scale = cx.scale;
  std::vector<float>& pair_out = cx.pair_out;
  std::vector<int32_t>& sum = cx.sum;
  plans.assign(jobs.size(), Plan{});
  size_t g_size = 0, pair_size = 0, tiles = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const auto& job = jobs[j];
    Plan& p = plans[j];
    const size_t in = static_cast<size_t>(job.w->cols()), out = static_cast<size_t>(job.w->rows());
    p.groups = simd::QuantGroups(in);
    p.twice = AnyTwice(job.acts, job.n);
    p.rows = p.twice ? KernelRows(job.acts, job.n) : job.n;
    p.shares = j > 0 && jobs[j - 1].x == job.x && jobs[j - 1].n == job.n && jobs[j - 1].w->cols() == job.w->cols() &&
               SameActRows(jobs[j - 1].acts, job.acts);
    if (p.shares) {
      p.acts = plans[j - 1].acts;
    } else {
      p.acts = g_size;
      g_size += p.rows * p.groups;
    }
    p.pairs = pair_size;
    if (p.twice) pair_size += p.rows * out;
    p.first_tile = tiles;
    tiles += simd::QuantTiles(out);
  }
  if (q.size() < g_size * simd::kQuantGroup) q.resize(g_size * simd::kQuantGroup);
  if (scale.size() < g_size) scale.resize(g_size), sum.resize(g_size);
  if (pair_out.size() < pair_size) pair_out.resize(pair_size);
  for (size_t j = 0; j < jobs.size(); ++j) {
    const Plan& p = plans[j];
    if (p.shares) continue;
    QuantizeForKernels(jobs[j].x, jobs[j].n, static_cast<size_t>(jobs[j].w->cols()), jobs[j].acts,
                       q.data() + p.acts * simd::kQuantGroup, scale.data() + p.acts, sum.data() + p.acts, cx.rest);
  }
  const Plan* plan = plans.data();
  int8_t* qp = q.data();
  float* sp = scale.data();
  int32_t* up = sum.data();
  float* pp = pair_out.data();
  // One pass over every job's tiles: each thread's range runs on from one matrix into the next.
  ParallelFor(tiles, 1, [&](size_t begin, size_t end, size_t) {
    size_t j = 0;
    while (j + 1 < jobs.size() && plan[j + 1].first_tile <= begin) ++j;
    for (; j < jobs.size() && plan[j].first_tile < end; ++j) {
      const auto& job = jobs[j];
      const Plan& p = plan[j];
      const size_t out = static_cast<size_t>(job.w->rows()), in = static_cast<size_t>(job.w->cols());
      const size_t job_tiles = simd::QuantTiles(out);
      const size_t tb = std::max(begin, p.first_tile) - p.first_tile;
      const size_t te = std::min(end, p.first_tile + job_tiles) - p.first_tile;
      if (tb >= te) continue;
      const simd::QuantizedActs acts{qp + p.acts * simd::kQuantGroup, sp + p.acts, up + p.acts, p.groups};
      simd::MatMulQuant(PackedKind(job.w->dtype), job.w->packed, out, in, tb, te, acts, p.rows,
                        p.twice ? nullptr : job.bias, p.twice ? pp + p.pairs : job.y, out);
    }
  });
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (plans[j].twice) {
      SumKernelRows(pair_out.data() + plans[j].pairs, jobs[j].n, jobs[j].acts, static_cast<size_t>(jobs[j].w->rows()),
                    jobs[j].bias, jobs[j].y);
    }
  }
}

Result<ActPrecision> ParseActPrecision(std::string_view name) {
  if (name == "int8") return ActPrecision::kInt8;
  if (name == "int8x2") return ActPrecision::kInt8x2;
  if (name == "auto") return ActPrecision::kAuto;
  return Status::Error("unknown activation precision '" + std::string(name) + "' (use int8, int8x2 or auto)");
}

const char* ActPrecisionName(ActPrecision p) {
  return p == ActPrecision::kInt8x2 ? "int8x2" : p == ActPrecision::kAuto ? "auto" : "int8";
}

void Linear(LinearContext& cx, const Weight& w, const Weight* bias, const float* x, size_t n, float* y, ActRows acts,
            BF16Math math) {
  const size_t out = static_cast<size_t>(w.rows()), in = static_cast<size_t>(w.cols());
  const float* b = (bias && bias->data) ? bias->data : nullptr;
  if (w.is_packed()) {
    const PackedLinearJob job{&w, x, n, y, b, acts};
    return LinearPackedBatch(cx, std::span<const PackedLinearJob>(&job, 1));
  }
  if (w.is_bf16()) return LinearBF16(cx, w, b, x, n, y, math);
  if (n >= kOneDnnMinTokens) {
    // Many tokens: a blocked GEMM reuses each weight tile across tokens; oneDNN's is far faster than
    // the row-by-row kernel there (benchmarks/bench_linear). Fall back to it if oneDNN refuses.
    if (GemmOneDnn(cx.onednn, {x, n, in, in, w.data, out, in, true, b, y, out}).ok()) return;
  }
  // Chunks of ≥ 16 rows keep threads busy without splitting tiny matrices.
  ParallelFor(out, 16, [&](size_t begin, size_t end, size_t) {
    simd::MatMulF32(w.data, in, b, begin, end, x, n, in, y, out);
  });
}

void SwiGlu(LinearContext& cx, const MlpWeights& mlp, const float* x, size_t n, float* out, std::vector<float>& scratch,
            ActRows acts, BF16Math math) {
  const size_t width = static_cast<size_t>(mlp.gate.rows());
  if (scratch.size() < 2 * n * width) scratch.resize(2 * n * width);
  float* gate = scratch.data();
  float* up = gate + n * width;
  Linear(cx, mlp.gate, nullptr, x, n, gate, acts, math);
  Linear(cx, mlp.up, nullptr, x, n, up, acts, math);
  ParallelFor(n, 4, [&](size_t begin, size_t end, size_t) {
    simd::SiluMul(gate + begin * width, up + begin * width, gate + begin * width, (end - begin) * width);
  });
  Linear(cx, mlp.down, nullptr, gate, n, out, acts, math);
}

}  // namespace glmv
