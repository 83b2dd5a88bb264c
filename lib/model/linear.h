// Linear layers and the SwiGLU MLP over a batch of tokens, split across threads by output rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "io/status.h"
#include "lib/base/onednn.h"
#include "lib/model/weight.h"

namespace glmv {

// Batches of at least this many tokens go through oneDNN's GEMM; smaller ones (decode) through the
// Highway matrix-vector kernels.
constexpr size_t kOneDnnMinTokens = 8;

// How packed (int4/int8) weights see one row's activations. kOnce: quantized to int8 per group of 32
// (llama.cpp's choice; the VNNI dot products take them as they are). kTwice: quantized twice — the value,
// then what the first quantization left — and run as two kernel rows through the same kernels, which read
// each weight tile once for both: ~14-bit activations for twice the dot-product work. On the tiny golden
// model kTwice cuts the q8 recipe's KL 2.5× (to that of f32 activations). Unpacked weights ignore it.
enum class ActQuant : uint8_t { kOnce, kTwice };

// The rows of one call: all alike, or one ActQuant per row (a step that mixes prefill and decode rows).
// A row's result depends only on its own ActQuant, never on the other rows of the call.
struct ActRows {
  ActQuant all = ActQuant::kOnce;
  const ActQuant* per_row = nullptr;  // [n] when set; `all` is then ignored
  ActQuant At(size_t t) const { return per_row ? per_row[t] : all; }
};

// The user's choice (--act-precision), applied per kind of row, never by the size of a call, so that a
// sequence's numbers do not depend on who shares its step. kAuto (the default): decode rows kTwice —
// bandwidth-bound, where the extra dot products cost nothing measurable (bench_decode: 11.7 → 12.0
// tokens/s, noise) — and prefill rows kOnce, bound by arithmetic (512 tokens: 0.65× the speed twice).
enum class ActPrecision : uint8_t { kInt8, kInt8x2, kAuto };
inline ActQuant ActQuantFor(ActPrecision p, bool decode_row) {
  return p == ActPrecision::kInt8x2 || (p == ActPrecision::kAuto && decode_row) ? ActQuant::kTwice : ActQuant::kOnce;
}
// How bf16-stored weights (a vision tower stored bf16) multiply. kF32: widened to f32, f32 products, the
// arithmetic of f32 weights. kBF16: the activations are rounded to bf16 too, and the exact bf16 products are
// summed in f32 (oneDNN on AVX512-BF16): twice kF32's rate where the CPU has those instructions (AMD EPYC,
// 2 threads: 740–800 against 350–390 GFLOP/s at the vision tower's shapes). Other weights ignore it.
enum class BF16Math : uint8_t { kF32, kBF16 };

// Batches of experts with at most this many tokens each run in one pass over all their tiles (moe.cc);
// larger ones reuse each matrix across their tokens. A speed choice only: the results are the same.
constexpr size_t kBatchedExpertMaxTokens = 16;
// "int8" / "int8x2" / "auto".
Result<ActPrecision> ParseActPrecision(std::string_view name);
const char* ActPrecisionName(ActPrecision p);

// Where linear layers keep what outlives one call: buffers grown to the largest call seen and reused (so
// decode does not allocate), and oneDNN's primitives. One per engine (its runtime context), used by the
// thread that runs its steps; never process-global.
struct LinearContext {
  struct PackedPlan {  // one job of LinearPackedBatch: where its activations, outputs and tiles are
    size_t acts = 0, groups = 0, rows = 0, pairs = 0, first_tile = 0;
    bool twice = false, shares = false;
  };
  std::vector<PackedPlan> plans;
  std::vector<int8_t> q;           // quantized activations of every job
  std::vector<float> scale, pair_out, rest;
  std::vector<int32_t> sum;
  std::vector<float> widened;      // a bf16 matrix widened for oneDNN
  std::vector<uint16_t> x_bf16;    // activations rounded to bf16 (BF16Math::kBF16)
  OneDnnCache onednn;
};

// y[t, :] = W · x[t, :] (+ bias) for t in [0, n). x: [n, W.cols()], y: [n, W.rows()], both dense.
void Linear(LinearContext& cx, const Weight& w, const Weight* bias, const float* x, size_t n, float* y,
            ActRows acts = {}, BF16Math math = BF16Math::kF32);

// One packed (int4/int8) linear layer of a batch run by LinearPackedBatch: y [n, W.rows()] = W · x [n, W.cols()]
// (+ bias), x and y dense.
struct PackedLinearJob {
  const Weight* w = nullptr;
  const float* x = nullptr;
  size_t n = 0;
  float* y = nullptr;
  const float* bias = nullptr;
  ActRows acts;
};

// Several packed linear layers in one parallel pass over all their tiles — one fork/join instead of one
// per layer, and each thread's weight stream runs on from one matrix into the next: the experts of a
// decode step (Linear runs a packed layer as a batch of one). Each job's result is exactly Linear()'s. Consecutive jobs with the same x, n and width
// (gate and up) share one quantization of x when their ActRows are the same. Every job's weight must be packed, and no job's x may be
// another job's y (all inputs are quantized before any output is written).
void LinearPackedBatch(LinearContext& cx, std::span<const PackedLinearJob> jobs);

// out[t, :] = down · (silu(gate · x[t]) ⊙ (up · x[t])). `scratch` grows to 2·n·width floats and is reused.
void SwiGlu(LinearContext& cx, const MlpWeights& mlp, const float* x, size_t n, float* out, std::vector<float>& scratch,
            ActRows acts = {}, BF16Math math = BF16Math::kF32);

}  // namespace glmv
