// The one place threads come from (OpenMP). Kernels are passive; callers split work into ranges here.
#pragma once

#include <cstddef>
#include <functional>

namespace glmv {

// Threads used by ParallelFor (OpenMP's default unless SetNumThreads was called).
int NumThreads();
void SetNumThreads(int n);

// Splits [0, n) into at most NumThreads() contiguous ranges of at least `min_chunk` items and calls
// fn(begin, end, thread_index) for each, concurrently; returns when all are done. thread_index is in
// [0, NumThreads()) and identifies a per-thread scratch slot.
void ParallelFor(size_t n, size_t min_chunk, const std::function<void(size_t, size_t, size_t)>& fn);

}  // namespace glmv
