#include "benchmarks/bench_util.h"

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

double MeasureReadBandwidth(size_t bytes, int passes) {
  const size_t n = bytes / sizeof(float);
  std::vector<float> buf(n);
  // First touch from the threads that will read it.
  ParallelFor(n, 1 << 16, [&](size_t b, size_t e, size_t) {
    for (size_t i = b; i < e; ++i) buf[i] = static_cast<float>(i & 1023);
  });
  double best = 0;
  volatile float sink = 0;
  for (int p = 0; p < passes; ++p) {
    std::vector<float> partial(static_cast<size_t>(NumThreads()), 0.0f);
    const double t0 = Now();
    ParallelFor(n, 1 << 16, [&](size_t b, size_t e, size_t t) { partial[t] += simd::Sum(buf.data() + b, e - b); });
    const double dt = Now() - t0;
    for (float v : partial) sink = sink + v;
    best = std::max(best, static_cast<double>(bytes) / dt);
  }
  return best;
}

}  // namespace glmv::bench
