// The one place threads come from (OpenMP). Kernels are passive; callers split work into ranges here.
#pragma once

#include <cstddef>
#include <type_traits>

namespace glmv {

// Threads used by ParallelFor (OpenMP's default unless SetNumThreads was called).
int NumThreads();
void SetNumThreads(int n);

// Splits [0, n) into at most NumThreads() contiguous ranges of at least `min_chunk` items and calls
// fn(begin, end, thread_index) for each, concurrently; returns when all are done. thread_index is in
// [0, NumThreads()) and identifies a per-thread scratch slot.
// Any callable, called through one plain function pointer: no std::function, so a call never allocates
// (the decode loop runs dozens of these per token).
template <typename Fn>
void ParallelFor(size_t n, size_t min_chunk, Fn&& fn);

// The type-erased core (parallel.cc, the only place that includes omp.h): fn(ctx, begin, end, thread).
void ParallelForRaw(size_t n, size_t min_chunk, void (*fn)(void*, size_t, size_t, size_t), void* ctx);

template <typename Fn>
void ParallelFor(size_t n, size_t min_chunk, Fn&& fn) {
  using F = std::remove_reference_t<Fn>;
  ParallelForRaw(n, min_chunk, [](void* ctx, size_t b, size_t e, size_t t) { (*static_cast<F*>(ctx))(b, e, t); },
                 const_cast<void*>(static_cast<const void*>(&fn)));
}

}  // namespace glmv
