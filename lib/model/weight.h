// Weights as views: one tensor of a checkpoint seen as f32, packed int4/int8 or bf16, straight in the mapped
// file when it can be, widened once at load into WeightStorage when it cannot; and the binding that checks a
// tensor's name, shape and dtype before pointing a view at it. Shared by the text decoder and the vision tower.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "io/status.h"
#include "lib/model/checkpoint.h"
#include "simd/quant_layout.h"

namespace glmv {

// The kernels' layout of a packed dtype (IsPacked(t) must hold).
inline simd::QuantKind PackedKind(DType t) {
  return t == DType::kQ4G32 ? simd::QuantKind::kQ4 : t == DType::kQ4NLG32 ? simd::QuantKind::kQ4NL : simd::QuantKind::kQ8;
}

// A view of one tensor; `shape` as in the checkpoint ([out, in] for linears). Either f32 (`data`); or, for
// matrices of a converted .glmv model, packed int4/int8 (`packed`, layout simd/quant_layout.h, dtype
// kQ4G32, kQ4NLG32 or kQ8G32) straight in the mapped file; or, for the vision tower's matrices, bf16 bit
// patterns (`bf16`) straight in the mapped file, widened to f32 by the linear layer as it runs.
struct Weight {
  const float* data = nullptr;
  const uint8_t* packed = nullptr;
  const uint16_t* bf16 = nullptr;
  DType dtype = DType::kF32;  // kF32 (data), a packed dtype (packed) or kBF16 (bf16)
  std::vector<int64_t> shape;
  bool is_packed() const { return packed != nullptr; }
  bool is_bf16() const { return bf16 != nullptr; }
  int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
  int64_t cols() const { return shape.size() < 2 ? 1 : shape[1]; }
};

struct MlpWeights {  // SwiGLU: down · (silu(gate · x) ⊙ (up · x)), no biases
  Weight gate;  // *.gate_proj.weight [width, H]
  Weight up;    // *.up_proj.weight   [width, H]
  Weight down;  // *.down_proj.weight [H, width]
};

// Owns widened copies (and keeps the checkpoint mapped) for as long as the views are used.
struct WeightStorage {
  std::unique_ptr<Checkpoint> checkpoint;
  std::vector<std::vector<float>> widened;
  size_t mapped_bytes = 0;   // f32 tensors used in place
  size_t widened_bytes = 0;  // f32 bytes made from BF16/F16 or unaligned data
  size_t packed_bytes = 0;   // int4/int8 matrices used in place
  size_t bf16_bytes = 0;     // bf16 matrices used in place
};

// What a tensor may be bound as besides f32 (which is always possible, widening if need be).
struct BindAllow {
  bool packed = false;  // a packed int4/int8 matrix in place
  bool bf16 = false;    // a bf16 tensor in place (else widened to f32)
};

// Finds `name`, checks its shape and dtype, and points `w` at its f32 data (mapped, or widened into
// `storage`), at its bf16 data in place (when `allow.bf16` and suitably aligned), or, for a packed int4/int8
// matrix (allowed only when `allow.packed`), at its packed bytes after checking their size against the
// layout. Errors name the file, the tensor, what was expected and what was found.
Status BindWeight(const Checkpoint& ckpt, const std::string& name, const std::vector<int64_t>& shape, Weight& w,
                  WeightStorage& storage, BindAllow allow = {});

// Bytes a packed matrix of `rows` × `cols` takes in the kernels' layout (IsPacked(dtype) must hold).
size_t PackedMatrixBytes(DType dtype, size_t rows, size_t cols);

}  // namespace glmv
