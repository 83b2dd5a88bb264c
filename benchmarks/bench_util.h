// Shared by the benchmarks: wall-clock timing, JSON-line output, the process's peak memory, and the
// machine's memory read bandwidth measured in the same run (the denominator of every bandwidth ratio).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/model/config.h"
#include "simd/quant_layout.h"

namespace glmv::bench {

inline double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Prints one JSON object on its own line (stdout) and flushes.
void Emit(const nlohmann::ordered_json& line);

// Peak resident set size of this process so far, in bytes (VmHWM).
size_t PeakRssBytes();
// Current resident set size, in bytes (VmRSS).
size_t RssBytes();

// Read bandwidth in bytes/s: all threads summing disjoint parts of a `bytes` buffer with wide vector
// loads, as one or several interleaved streams per thread, with and without software prefetch; the best
// of `passes` passes of each loop (a naive loop under-reports by ~3×, a single stream by up to ~15%).
// `loops`, when given, receives each loop's best: which way of reading the machine rewards in this run.
struct ReadLoop {
  size_t streams, prefetch_ahead;
  double bytes_per_s;
};
double MeasureReadBandwidth(size_t bytes = size_t{1} << 30, int passes = 5, std::vector<ReadLoop>* loops = nullptr);

// The median of v (the mean of the middle two for an even count; 0 when empty).
double Median(std::vector<double> v);

// The machine's GEMM rate in this run, GFLOP/s (oneDNN, f32 or bf16 inputs; 2048³ and the vision encoder's own
// QKV shape, 4096 patches × 1536 → 4608; best of 5 each): the yardstick for the encoder's rate. 0 if oneDNN
// refuses (bf16 on a CPU without it).
double MeasureGemmGflops(bool bf16);

// n pseudo-random text token ids for `seed`, below the lowest special (image/video marker) id.
std::vector<int64_t> RandomTextPrompt(size_t n, const ModelConfig& m, uint64_t seed);

// splitmix64's finaliser: cheap, well mixed, deterministic (benchmark inputs).
uint32_t Hash(uint64_t x);

// `tiles` packed tiles of a matrix `cols` wide (simd/quant_layout.h), back to back from `out`: a pool of a
// few tiles packed from random codes and scales, copied in a scattered order (contents do not change the
// bandwidth; distinct addresses do). Written by all threads, so pages are first touched where they are read.
void FillPackedTiles(simd::QuantKind kind, size_t cols, size_t tiles, uint8_t* out);

}  // namespace glmv::bench
