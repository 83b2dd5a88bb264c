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

Status VisionSegmentAttentionBlockedBF16(OneDnnCache& onednn, const uint16_t* qkv_bf16, size_t begin, size_t end,
                                         size_t D, size_t hd, float* out, VisionAttentionBuffers& buffers) {
  return BlockedAttention(onednn, qkv_bf16, begin, end, D, hd, out, buffers.scores, &buffers.weights);
}

void VisionSegmentAttentionFused(simd::BF16Dot how, const uint16_t* qkv_bf16, size_t begin, size_t end, size_t D,
                                 size_t hd, float* out, VisionAttentionBuffers& buffers) {
  const size_t len = end - begin, stride = 3 * D, heads = D / hd;
  if (len == 0) return;
  const size_t tiles = simd::VisionKeyTiles(len);
  const size_t blocks = (len + simd::kVisionQueryBlock - 1) / simd::kVisionQueryBlock;
  const size_t key_words = tiles * simd::VisionKeyTileWords(hd), value_words = tiles * simd::VisionValueTileWords(hd);
  // Every head's keys and values packed at once (about the size of k and v in bf16), so the whole segment
  // takes two parallel regions: each costs a wait for every thread, long on a loaded machine.
  buffers.keys.resize(heads * key_words);
  buffers.values.resize(heads * value_words);
  buffers.blocks.resize(static_cast<size_t>(NumThreads()));
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const uint16_t* base = qkv_bf16 + begin * stride;
  ParallelFor(heads * tiles, 4, [&](size_t b, size_t e, size_t) {
    for (size_t item = b; item < e; ++item) {
      const size_t h = item / tiles, t = item % tiles;
      simd::PackVisionKeys(base + D + h * hd, stride, len, hd, t, t + 1, buffers.keys.data() + h * key_words);
      simd::PackVisionValues(base + 2 * D + h * hd, stride, len, hd, t, t + 1, buffers.values.data() + h * value_words);
    }
  });
  ParallelFor(heads * blocks, 1, [&](size_t b, size_t e, size_t thread) {
    for (size_t item = b; item < e; ++item) {
      const size_t h = item / blocks, q0 = item % blocks * simd::kVisionQueryBlock;
      const size_t rows = std::min(simd::kVisionQueryBlock, len - q0);
      simd::VisionAttentionBlock(how, base + q0 * stride + h * hd, stride, rows, buffers.keys.data() + h * key_words,
                                 buffers.values.data() + h * value_words, len, hd, scale,
                                 out + (begin + q0) * D + h * hd, D, buffers.blocks[thread]);
    }
  });
}

Status VisionSegmentAttentionBF16(OneDnnCache& onednn, const uint16_t* qkv_bf16, size_t begin, size_t end, size_t D,
                                  size_t hd, float* out, VisionAttentionBuffers& buffers) {
  if (simd::BestBF16Dot() == simd::BF16Dot::kNative) {
    VisionSegmentAttentionFused(simd::BF16Dot::kNative, qkv_bf16, begin, end, D, hd, out, buffers);
    return Status::Ok();
  }
  return VisionSegmentAttentionBlockedBF16(onednn, qkv_bf16, begin, end, D, hd, out, buffers);
}

}  // namespace glmv
