#include "lib/base/parallel.h"

#include <omp.h>

#include <algorithm>

namespace glmv {

int NumThreads() { return omp_get_max_threads(); }

void SetNumThreads(int n) {
  if (n > 0) omp_set_num_threads(n);
}

void ParallelForRaw(size_t n, size_t min_chunk, void (*fn)(void*, size_t, size_t, size_t), void* ctx) {
  if (n == 0) return;
  min_chunk = std::max<size_t>(min_chunk, 1);
  const size_t max_parts = (n + min_chunk - 1) / min_chunk;
  const size_t parts = std::min<size_t>(static_cast<size_t>(NumThreads()), max_parts);
  if (parts <= 1) {
    fn(ctx, 0, n, 0);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(parts))
  {
    const size_t t = static_cast<size_t>(omp_get_thread_num());
    const size_t nt = static_cast<size_t>(omp_get_num_threads());
    const size_t begin = n * t / nt, end = n * (t + 1) / nt;
    if (begin < end) fn(ctx, begin, end, t);
  }
}

}  // namespace glmv
