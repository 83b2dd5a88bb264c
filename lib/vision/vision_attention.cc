#include "lib/vision/vision_attention.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "lib/base/onednn.h"
#include "lib/base/parallel.h"
#include "simd/kernels.h"

namespace glmv {
namespace {

// Below this many tokens the GEMM setup costs more than it saves.
constexpr size_t kMinGemmTokens = 64;
// Scores of one query block: at most this many floats (64 MiB), whatever the image size.
constexpr size_t kMaxScoreFloats = size_t{16} << 20;

}  // namespace

void VisionSegmentAttentionRows(const float* qkv, size_t begin, size_t end, size_t D, size_t hd, float* out,
                                std::vector<float>& scratch) {
  const size_t heads = D / hd, len = end - begin, stride = 3 * D;
  const size_t threads = static_cast<size_t>(NumThreads());
  if (scratch.size() < threads * len) scratch.resize(threads * len);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  ParallelFor(len * heads, 1, [&](size_t lo, size_t hi, size_t thread) {
    float* scores = scratch.data() + thread * len;
    for (size_t item = lo; item < hi; ++item) {
      const size_t i = begin + item / heads, h = item % heads;
      const float* q = qkv + i * stride + h * hd;
      for (size_t j = 0; j < len; ++j) scores[j] = simd::Dot(q, qkv + (begin + j) * stride + D + h * hd, hd);
      simd::SoftmaxInPlace(scores, len, scale);
      float* o = out + i * D + h * hd;
      std::fill(o, o + hd, 0.0f);
      for (size_t j = 0; j < len; ++j) simd::Axpy(scores[j], qkv + (begin + j) * stride + 2 * D + h * hd, o, hd);
    }
  });
}

namespace {

// The query-block GEMMs of one segment, over q, k and v of element type T (float, or bf16 bits as uint16_t:
// bf16 GEMMs summed in f32). Per head and block: S = Q_block · K_hᵀ (K's rows are W-style [len, hd] rows of
// the qkv matrix), the softmax of each row (in place in f32; into bf16 `weights` for bf16), then
// O_block = P · V_h, written straight into this head's columns of `out`. An error if oneDNN refuses.
template <typename T>
Status BlockedAttention(OneDnnCache& onednn, const T* qkv, size_t begin, size_t end, size_t D, size_t hd, float* out,
                        std::vector<float>& scratch, std::vector<uint16_t>* weights) {
  constexpr bool kBF16 = std::is_same_v<T, uint16_t>;
  const size_t len = end - begin, stride = 3 * D, heads = D / hd;
  if (len == 0) return Status::Ok();
  const size_t block = std::clamp<size_t>(kMaxScoreFloats / len, 16, len);
  if (scratch.size() < block * len) scratch.resize(block * len);
  if (kBF16 && weights->size() < block * len) weights->resize(block * len);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const T* base = qkv + begin * stride;
  float* s = scratch.data();
  const void* p = kBF16 ? static_cast<const void*>(weights->data()) : s;
  for (size_t h = 0; h < heads; ++h) {
    for (size_t q0 = 0; q0 < len; q0 += block) {
      const size_t rows = std::min(block, len - q0);
      GLMV_RETURN_IF_ERROR(GemmOneDnn(onednn, {base + q0 * stride + h * hd, rows, hd, stride, base + D + h * hd, len,
                                               stride, true, nullptr, s, len, kBF16}));
      ParallelFor(rows, 4, [&](size_t b, size_t e, size_t) {
        for (size_t r = b; r < e; ++r) {
          if constexpr (kBF16) {
            simd::SoftmaxToBF16(s + r * len, len, scale, weights->data() + r * len);
          } else {
            simd::SoftmaxInPlace(s + r * len, len, scale);
          }
        }
      });
      GLMV_RETURN_IF_ERROR(GemmOneDnn(onednn, {p, rows, len, len, base + 2 * D + h * hd, hd, stride, false, nullptr,
                                               out + (begin + q0) * D + h * hd, D, kBF16}));
    }
  }
  return Status::Ok();
}

}  // namespace

void VisionSegmentAttention(OneDnnCache& onednn, const float* qkv, size_t begin, size_t end, size_t D, size_t hd, float* out,
                            std::vector<float>& scratch) {
  if (end - begin < kMinGemmTokens || !BlockedAttention(onednn, qkv, begin, end, D, hd, out, scratch, nullptr).ok()) {
    VisionSegmentAttentionRows(qkv, begin, end, D, hd, out, scratch);  // short, or oneDNN refused
  }
}

Status VisionSegmentAttentionBF16(OneDnnCache& onednn, const uint16_t* qkv_bf16, size_t begin, size_t end, size_t D,
                                  size_t hd, float* out, std::vector<float>& scratch, std::vector<uint16_t>& weights) {
  return BlockedAttention(onednn, qkv_bf16, begin, end, D, hd, out, scratch, &weights);
}

}  // namespace glmv
