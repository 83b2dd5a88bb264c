#include "benchmarks/bench_util.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <vector>

#include "lib/parallel.h"
#include "simd/kernels.h"

namespace glmv::bench {

void Emit(const nlohmann::ordered_json& line) {
  std::printf("%s\n", line.dump().c_str());
  std::fflush(stdout);
}

namespace {
size_t StatusField(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string key;
  while (f >> key) {
    if (key == field) {
      size_t kb = 0;
      f >> kb;
      return kb * 1024;
    }
    std::getline(f, key);
  }
  return 0;
}
}  // namespace

size_t PeakRssBytes() { return StatusField("VmHWM:"); }
size_t RssBytes() { return StatusField("VmRSS:"); }

namespace {
// Sum of x[0, n) in 2 KiB chunks, each prefetched 4 KiB ahead: the way the quantized kernels stream their
// weights. Hardware prefetchers alone leave some bandwidth unused; without this loop the yardstick would
// sit below what a prefetching kernel reaches and flatter every ratio. (Prefetches past the end are
// harmless hints.)
float SumPrefetched(const float* x, size_t n) {
  constexpr size_t kChunk = 512;
  float acc = 0;
  for (size_t i = 0; i < n; i += kChunk) {
    const size_t len = std::min(kChunk, n - i);
    for (size_t j = 0; j < len; j += 16) __builtin_prefetch(x + i + j + 2 * kChunk);
    acc += simd::Sum(x + i, len);
  }
  return acc;
}
}  // namespace

double MeasureReadBandwidth(size_t bytes, int passes) {
  const size_t n = bytes / sizeof(float);
  std::vector<float> buf(n);
  // First touch from the threads that will read it.
  ParallelFor(n, 1 << 16, [&](size_t b, size_t e, size_t) {
    for (size_t i = b; i < e; ++i) buf[i] = static_cast<float>(i & 1023);
  });
  double best = 0;
  volatile float sink = 0;
  // Best of both loops (plain vector loads, and with software prefetch) over all passes.
  for (int p = 0; p < 2 * passes; ++p) {
    const bool prefetch = p % 2 == 1;
    std::vector<float> partial(static_cast<size_t>(NumThreads()), 0.0f);
    const double t0 = Now();
    ParallelFor(n, 1 << 16, [&](size_t b, size_t e, size_t t) {
      partial[t] += prefetch ? SumPrefetched(buf.data() + b, e - b) : simd::Sum(buf.data() + b, e - b);
    });
    const double dt = Now() - t0;
    for (float v : partial) sink = sink + v;
    best = std::max(best, static_cast<double>(bytes) / dt);
  }
  return best;
}

}  // namespace glmv::bench
