// AVX512-BF16 helpers shared by the files whose loops use the intrinsics (attention_bf16.cc,
// vision_attention_bf16.cc). Include only from .cc files: it brings in <immintrin.h>. Each function carries
// the target attribute itself, so the build needs no -mavx512bf16; callers check BestBF16Dot() first.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <cstddef>

#define GLMV_HAVE_BF16_INTRINSICS 1
#define GLMV_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace glmv::simd::bf16_native {

// The first n lanes of sixteen (all of them from 16 on).
GLMV_BF16_TARGET inline __mmask16 FirstLanes(size_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1);
}

// acc + a·b over bf16 pairs (VDPBF16PS).
GLMV_BF16_TARGET inline __m512 Dot(__m512 acc, __m512i a, __m512i b) {
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(a), reinterpret_cast<__m512bh>(b));
}

}  // namespace glmv::simd::bf16_native
#endif
