// f32 linear layers: the Highway row kernels against oneDNN's GEMM at GLM-4.5V's shapes, for several token
// counts, to pick the crossover (lib/linear.h kOneDnnMinTokens). One JSON line per (shape, tokens, path):
// GFLOP/s, and for one token the weight bandwidth as a fraction of the read bandwidth measured first.
//
//   bench_linear [--threads N]
#include <cstring>
#include <vector>

#include "benchmarks/bench_util.h"
#include "lib/base/onednn.h"
#include "lib/base/parallel.h"
#include "simd/kernels.h"

using namespace glmv;

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) SetNumThreads(std::atoi(argv[i + 1]));
  }
  const double bw = bench::MeasureReadBandwidth();
  bench::Emit({{"bench", "read_bandwidth"}, {"bytes_per_s", bw}, {"threads", NumThreads()}});
  struct Shape { const char* name; size_t out, in; };
  const Shape shapes[] = {{"vision_qkv", 4608, 1536}, {"vision_mlp_up", 4096, 1536}, {"vision_mlp_down", 1536, 4096},
                          {"text_q", 12288, 4096}, {"expert_up", 1408, 4096}};
  OneDnnCache onednn;
  for (const auto& s : shapes) {
    // Enough distinct copies of the weights that one pass streams ≥ 1 GiB (no cache flattery at 1 token).
    const size_t per = s.out * s.in;
    const size_t copies = std::max<size_t>(1, (size_t{1} << 28) / per);
    std::vector<float> w(per * copies, 0.01f), x(s.in * 512, 0.5f), y(s.out * 512);
    for (size_t tokens : {size_t{1}, size_t{8}, size_t{64}, size_t{512}}) {
      for (const char* path : {"highway", "onednn"}) {
        const bool dnn = !std::strcmp(path, "onednn");
        const int reps = tokens == 1 ? static_cast<int>(copies) : 3;
        double best = 1e30;
        for (int rep = 0; rep < (tokens == 1 ? 3 : 2); ++rep) {
          const double t0 = bench::Now();
          for (int r = 0; r < reps; ++r) {
            const float* wr = w.data() + (static_cast<size_t>(r) % copies) * per;
            if (dnn) {
              (void)GemmOneDnn(onednn, {x.data(), tokens, s.in, s.in, wr, s.out, s.in, true, nullptr, y.data(), s.out});
            } else {
              ParallelFor(s.out, 16, [&](size_t b, size_t e, size_t) {
                simd::MatMulF32(wr, s.in, nullptr, b, e, x.data(), tokens, s.in, y.data(), s.out);
              });
            }
          }
          best = std::min(best, (bench::Now() - t0) / reps);
        }
        const double flops = 2.0 * static_cast<double>(per) * static_cast<double>(tokens);
        nlohmann::ordered_json line = {{"bench", "linear_f32"}, {"shape", s.name}, {"out", s.out}, {"in", s.in},
                                       {"tokens", tokens}, {"path", path}, {"seconds", best}, {"gflop_per_s", flops / best / 1e9}};
        if (tokens == 1) {
          const double gbs = static_cast<double>(per * sizeof(float)) / best;
          line["weight_bytes_per_s"] = gbs;
          line["ratio_to_read_bandwidth"] = gbs / bw;
        }
        bench::Emit(line);
      }
    }
  }
  return 0;
}
