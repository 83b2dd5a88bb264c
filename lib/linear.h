// Linear layers and the SwiGLU MLP over a batch of tokens, split across threads by output rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "io/status.h"
#include "lib/text_weights.h"

namespace glmv {

// Batches of at least this many tokens go through oneDNN's GEMM; smaller ones (decode) through the
// Highway matrix-vector kernels.
constexpr size_t kOneDnnMinTokens = 8;

// How packed (int4/int8) weights see their activations, process-wide. kInt8: quantized to int8 per group of
// 32 (llama.cpp's choice; the VNNI dot products take them as they are). kInt8x2: quantized twice — the
// value, then what the first quantization left — and run as two tokens through the same kernels, which
// read each weight tile once for both: ~14-bit activations for twice the dot-product work. On the tiny
// golden model kInt8x2 cuts the q8 recipe's KL 2.5× (to that of f32 activations).
enum class ActPrecision : uint8_t { kInt8, kInt8x2 };
void SetActPrecision(ActPrecision p);
ActPrecision GetActPrecision();
// "int8" / "int8x2".
Result<ActPrecision> ParseActPrecision(std::string_view name);
const char* ActPrecisionName(ActPrecision p);

// y[t, :] = W · x[t, :] (+ bias) for t in [0, n). x: [n, W.cols()], y: [n, W.rows()], both dense.
void Linear(const Weight& w, const Weight* bias, const float* x, size_t n, float* y);

// out[t, :] = down · (silu(gate · x[t]) ⊙ (up · x[t])). `scratch` grows to 2·n·width floats and is reused.
void SwiGlu(const MlpWeights& mlp, const float* x, size_t n, float* out, std::vector<float>& scratch);

}  // namespace glmv
