// Linear layers and the SwiGLU MLP over a batch of tokens, split across threads by output rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "io/status.h"
#include "lib/model/weight.h"

namespace glmv {

// Batches of at least this many tokens go through oneDNN's GEMM; smaller ones (decode) through the
// Highway matrix-vector kernels.
constexpr size_t kOneDnnMinTokens = 8;

// How packed (int4/int8) weights see their activations, process-wide. kInt8: quantized to int8 per group of
// 32 (llama.cpp's choice; the VNNI dot products take them as they are). kInt8x2: quantized twice — the
// value, then what the first quantization left — and run as two tokens through the same kernels, which
// read each weight tile once for both: ~14-bit activations for twice the dot-product work. On the tiny
// golden model kInt8x2 cuts the q8 recipe's KL 2.5× (to that of f32 activations). kAuto (the default):
// kInt8x2 for calls of at most kAutoTwiceMaxTokens tokens — decode, bound by memory bandwidth, where the
// extra dot products cost nothing measurable (bench_decode: 11.7 → 12.0 tokens/s, noise) — and kInt8 for
// larger batches, bound by arithmetic (prefill of 512 tokens: 0.65× the speed with kInt8x2).
enum class ActPrecision : uint8_t { kInt8, kInt8x2, kAuto };
constexpr size_t kAutoTwiceMaxTokens = 4;
void SetActPrecision(ActPrecision p);
ActPrecision GetActPrecision();
// "int8" / "int8x2" / "auto".
Result<ActPrecision> ParseActPrecision(std::string_view name);
const char* ActPrecisionName(ActPrecision p);

// y[t, :] = W · x[t, :] (+ bias) for t in [0, n). x: [n, W.cols()], y: [n, W.rows()], both dense.
void Linear(const Weight& w, const Weight* bias, const float* x, size_t n, float* y);

// One packed (int4/int8) linear layer of a batch run by LinearPackedBatch: y [n, W.rows()] = W · x [n, W.cols()]
// (+ bias), x and y dense.
struct PackedLinearJob {
  const Weight* w = nullptr;
  const float* x = nullptr;
  size_t n = 0;
  float* y = nullptr;
  const float* bias = nullptr;
};

// Several packed linear layers in one parallel pass over all their tiles — one fork/join instead of one
// per layer, and each thread's weight stream runs on from one matrix into the next: the experts of a
// decode step (Linear runs a packed layer as a batch of one). Each job's result is exactly Linear()'s. Consecutive jobs with the same x, n and width
// (gate and up) share one quantization of x. Every job's weight must be packed, and no job's x may be
// another job's y (all inputs are quantized before any output is written).
void LinearPackedBatch(std::span<const PackedLinearJob> jobs);

// out[t, :] = down · (silu(gate · x[t]) ⊙ (up · x[t])). `scratch` grows to 2·n·width floats and is reused.
void SwiGlu(const MlpWeights& mlp, const float* x, size_t n, float* out, std::vector<float>& scratch);

}  // namespace glmv
