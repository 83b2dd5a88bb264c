#include "benchmarks/bench_util.h"

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "lib/base/onednn.h"
#include "lib/base/parallel.h"
#include "quant/quantize.h"
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

std::vector<int64_t> RandomTextPrompt(size_t n, const ModelConfig& m, uint64_t seed) {
  int64_t limit = m.text.vocab_size;
  for (int64_t id : {m.image_token_id, m.video_token_id, m.image_start_token_id, m.image_end_token_id,
                     m.video_start_token_id, m.video_end_token_id}) {
    if (id >= 0) limit = std::min(limit, id);
  }
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int64_t>(Hash(seed * 1000003 + i) % static_cast<uint64_t>(limit));
  return ids;
}

size_t PeakRssBytes() { return StatusField("VmHWM:"); }
size_t RssBytes() { return StatusField("VmRSS:"); }

namespace {
// Sum of x[0, n) read as `streams` interleaved sequential streams (the range cut into that many parts,
// read 1 KiB from each in turn), each 1 KiB step prefetched `prefetch_ahead` bytes in front (0: none).
// Several streams per core keep more cache-line requests in flight than one: the quantized kernels read
// 2–4 tiles at once and, on some CPUs, reach more bandwidth than a single stream does. The yardstick
// must be the best of these loops, or it would flatter every ratio. (Prefetches past the end are hints.)
float SumStreams(const float* x, size_t n, size_t streams, size_t prefetch_ahead) {
  constexpr size_t kStep = 256;  // floats: 1 KiB
  const size_t part = n / streams;
  float acc = 0;
  for (size_t off = 0; off < part; off += kStep) {
    const size_t len = std::min(kStep, part - off);
    for (size_t s = 0; s < streams; ++s) {
      const float* p = x + s * part + off;
      if (prefetch_ahead) {
        for (size_t j = 0; j < len; j += 16) __builtin_prefetch(reinterpret_cast<const char*>(p + j) + prefetch_ahead);
      }
      acc += simd::Sum(p, len);
    }
  }
  return acc + simd::Sum(x + streams * part, n - streams * part);
}
}  // namespace

double MeasureReadBandwidth(size_t bytes, int passes, std::vector<ReadLoop>* loops) {
  const size_t n = bytes / sizeof(float);
  std::vector<float> buf(n);
  // First touch from the threads that will read it.
  ParallelFor(n, 1 << 16, [&](size_t b, size_t e, size_t) {
    for (size_t i = b; i < e; ++i) buf[i] = static_cast<float>(i & 1023);
  });
  struct Loop { size_t streams, prefetch_ahead; };
  constexpr Loop kLoops[] = {{1, 0}, {1, 4096}, {4, 0}, {4, 2048}, {8, 0}};
  double best = 0;
  std::vector<double> loop_best(std::size(kLoops), 0.0);
  volatile float sink = 0;
  // Each thread reads one contiguous share (as the kernels split rows), in each loop's way; best of all.
  const size_t threads = static_cast<size_t>(NumThreads());
  const size_t share = (n + threads - 1) / threads;
  for (int p = 0; p < passes; ++p) {
    for (size_t l = 0; l < std::size(kLoops); ++l) {
      const Loop& loop = kLoops[l];
      std::vector<float> partial(threads, 0.0f);
      const double t0 = Now();
      ParallelFor(threads, 1, [&](size_t b, size_t e, size_t) {
        for (size_t t = b; t < e; ++t) {
          const size_t begin = std::min(n, t * share), end = std::min(n, begin + share);
          partial[t] += SumStreams(buf.data() + begin, end - begin, loop.streams, loop.prefetch_ahead);
        }
      });
      const double dt = Now() - t0;
      for (float v : partial) sink = sink + v;
      loop_best[l] = std::max(loop_best[l], static_cast<double>(bytes) / dt);
      best = std::max(best, loop_best[l]);
    }
  }
  if (loops) {
    loops->clear();
    for (size_t l = 0; l < std::size(kLoops); ++l) loops->push_back({kLoops[l].streams, kLoops[l].prefetch_ahead, loop_best[l]});
  }
  return best;
}

uint32_t Hash(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return static_cast<uint32_t>(x ^ (x >> 31));
}

void FillPackedTiles(simd::QuantKind kind, size_t cols, size_t tiles, uint8_t* out) {
  const size_t G = simd::QuantGroups(cols), tile_bytes = simd::QuantTileBytes(kind, cols);
  constexpr size_t kPool = 8;
  std::vector<uint8_t> pool(kPool * tile_bytes);
  std::vector<uint8_t> codes(simd::kQuantTileRows * G * simd::kQuantGroup);
  std::vector<uint16_t> scales(simd::kQuantTileRows * G);
  const int lo = simd::QuantMinCode(kind), span = simd::QuantMaxCode(kind) - lo + 1;
  for (size_t p = 0; p < kPool; ++p) {
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>(lo + Hash(p * 1000003 + i) % span);
    for (size_t i = 0; i < scales.size(); ++i) {
      scales[i] = quant::FloatToHalf(0.01f * (0.5f + static_cast<float>(Hash(~(p * 1000003 + i)) % 1000) / 1000.0f));
    }
    simd::PackQuantTile(kind, cols, codes.data(), scales.data(), pool.data() + p * tile_bytes);
  }
  ParallelFor(tiles, 64, [&](size_t b, size_t e, size_t) {
    for (size_t i = b; i < e; ++i) std::memcpy(out + i * tile_bytes, pool.data() + Hash(i) % kPool * tile_bytes, tile_bytes);
  });
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : (v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]));
}

double MeasureGemmGflops(bool bf16) {
  OneDnnCache onednn;
  struct Shape {
    size_t m, k, n;
  };
  double best = 0;
  for (const Shape s : {Shape{2048, 2048, 2048}, Shape{4096, 1536, 4608}}) {
    std::vector<float> a(s.m * s.k, 0.5f), b(s.n * s.k, 0.25f), c(s.m * s.n, 0.0f);
    std::vector<uint16_t> a16(bf16 ? a.size() : 0, 0x3f00), b16(bf16 ? b.size() : 0, 0x3e80);  // 0.5, 0.25
    const void* pa = bf16 ? static_cast<const void*>(a16.data()) : a.data();
    const void* pb = bf16 ? static_cast<const void*>(b16.data()) : b.data();
    for (int rep = 0; rep < 5; ++rep) {
      const double t0 = Now();
      if (!GemmOneDnn(onednn, {pa, s.m, s.k, s.k, pb, s.n, s.k, true, nullptr, c.data(), s.n, bf16}).ok()) return 0;
      best = std::max(best, 2.0 * s.m * s.k * s.n / (Now() - t0) / 1e9);
    }
  }
  return best;
}

}  // namespace glmv::bench
