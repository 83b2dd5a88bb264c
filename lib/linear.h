// Linear layers and the SwiGLU MLP over a batch of tokens, split across threads by output rows.
#pragma once

#include <cstddef>
#include <vector>

#include "lib/text_weights.h"

namespace glmv {

// Batches of at least this many tokens go through oneDNN's GEMM; smaller ones (decode) through the
// Highway matrix-vector kernels.
constexpr size_t kOneDnnMinTokens = 8;

// y[t, :] = W · x[t, :] (+ bias) for t in [0, n). x: [n, W.cols()], y: [n, W.rows()], both dense.
void Linear(const Weight& w, const Weight* bias, const float* x, size_t n, float* y);

// out[t, :] = down · (silu(gate · x[t]) ⊙ (up · x[t])). `scratch` grows to 2·n·width floats and is reused.
void SwiGlu(const MlpWeights& mlp, const float* x, size_t n, float* out, std::vector<float>& scratch);

}  // namespace glmv
