// Long-context attention (issue 15): the flash-style CausalAttention (simd::FlashAttention per (sequence,
// kv-head, query tile)) at GLM-4.5V's real width (96 query heads, 8 kv-heads, head_dim 128; one layer of f32
// KV in pages of the engine's default size). Cases: decode of one row at contexts 512, 4096, 16384, and a
// 512-row prefill ending at 4096. Prints one JSON line per case: the best time, decode's KV bytes/s as a
// fraction of the read bandwidth measured in the same run, and the largest difference from the per-(row,
// head) loop FlashAttention replaced (run once, untimed: since keys are stored transposed it gathers each key
// row, so its speed says nothing). To compare two builds, alternate their binaries (the JSON lines carry
// `new_ms`). Each case also runs over bf16 keys and values (the same numbers rounded, --kv-type bf16) and
// prints its time, its KV bytes/s over the same yardstick, its speed-up over f32 in the same run and its
// largest difference from the f32 reference; and over int8 keys and values (--kv-type int8), with its speed-up
// over bf16.
//
//   bench_attention [--page-tokens 32] [--min-seconds 1]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "benchmarks/bench_util.h"
#include "lib/base/parallel.h"
#include "lib/engine/engine.h"
#include "lib/text/attention.h"
#include "simd/attention_bf16.h"
#include "simd/attention_int8.h"
#include "simd/kernels.h"

namespace glmv {
namespace {

// lib/text/attention.cc before issue 15 but for its name and the key gather: per (row, query head) one
// simd::Dot per past position into a full score row, softmax, then one simd::Axpy per position. The reference.
void OldCausalAttention(const TextConfig& c, const float* q, std::span<const AttentionRows> groups, size_t layer,
                        float* out, std::vector<float>& scratch) {
  const size_t heads = static_cast<size_t>(c.num_attention_heads);
  const size_t group = heads / static_cast<size_t>(c.num_key_value_heads);
  const size_t hd = static_cast<size_t>(c.head_dim);
  const size_t q_width = heads * hd;
  size_t rows = 0, ctx = 0;
  for (const auto& g : groups) {
    rows += g.n;
    ctx = std::max({ctx, g.start + g.n, g.kv->max_tokens()});
  }
  const size_t threads = static_cast<size_t>(NumThreads());
  if (scratch.size() < threads * ctx) scratch.resize(threads * ctx);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  ParallelFor(rows * heads, 1, [&](size_t begin, size_t end, size_t thread) {
    float* scores = scratch.data() + thread * ctx;
    size_t gi = 0, group_end = groups.empty() ? 0 : groups[0].n;
    for (size_t item = begin; item < end; ++item) {
      const size_t row = item / heads, h = item % heads;
      while (row >= group_end) group_end += groups[++gi].n;
      const AttentionRows& g = groups[gi];
      const KvSequence& kv = *g.kv;
      const size_t P = kv.pool().page_tokens();
      const size_t head_offset = (h / group) * P * hd;
      const size_t i = row - (group_end - g.n);
      const float* qh = q + (g.row_begin + i) * q_width + h * hd;
      const size_t visible = g.start + i + 1;
      const auto pages = kv.pages(layer);
      float key[1024];  // one key row gathered from the page's transposed [hd][P] block (hd ≤ 1024)
      for (size_t first = 0, p = 0; first < visible; first += P, ++p) {
        const float* kt = reinterpret_cast<const float*>(kv.pool().K(pages[p])) + (h / group) * hd * P;
        const size_t count = std::min(P, visible - first);
        for (size_t o = 0; o < count; ++o) {
          for (size_t e = 0; e < hd; ++e) key[e] = kt[e * P + o];
          scores[first + o] = simd::Dot(qh, key, hd) * scale;
        }
      }
      simd::SoftmaxInPlace(scores, visible);
      float* oh = out + (g.row_begin + i) * q_width + h * hd;
      std::fill(oh, oh + hd, 0.0f);
      for (size_t first = 0, p = 0; first < visible; first += P, ++p) {
        const float* v = reinterpret_cast<const float*>(kv.pool().V(pages[p])) + head_offset;
        const size_t count = std::min(P, visible - first);
        for (size_t o = 0; o < count; ++o) simd::Axpy(scores[first + o], v + o * hd, oh, hd);
      }
    }
  });
}

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

// Seconds per call of fn: repeated until `min_seconds` have passed (at least 3 calls), best of the calls.
template <typename Fn>
double TimeBest(Fn&& fn, double min_seconds) {
  double best = 1e30, total = 0;
  for (int calls = 0; calls < 3 || total < min_seconds; ++calls) {
    const double t0 = bench::Now();
    fn();
    const double dt = bench::Now() - t0;
    best = std::min(best, dt);
    total += dt;
  }
  return best;
}

int Run(int argc, char** argv) {
  size_t page_tokens = EngineOptions{}.kv_page_tokens;
  double min_seconds = 1.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--page-tokens")) page_tokens = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--min-seconds")) min_seconds = std::stod(argv[i + 1]);
  }
  TextConfig c;
  c.num_attention_heads = 96;
  c.num_key_value_heads = 8;
  c.head_dim = 128;
  const size_t heads = 96, kv_heads = 8, hd = 128, q_width = heads * hd;
  const std::string cpu = CpuModel();
  // The machine's read bandwidth, measured here: decode streams every key and value once, so the new kernel's
  // KV bytes per second over this is how close decode attention is to memory-bound.
  const double bandwidth = bench::MeasureReadBandwidth(size_t{512} << 20, 3);

  struct BenchCase {
    const char* kind;
    size_t context, rows;
  };
  const BenchCase cases[] = {{"decode", 512, 1}, {"decode", 4096, 1}, {"decode", 16384, 1}, {"prefill", 4096, 512}};
  for (const BenchCase& bc : cases) {
    const size_t kv_bytes = 2 * bc.context * kv_heads * hd * sizeof(float);
    // The same keys and values in an f32 pool and a bf16 one (rounded by Store).
    auto pool = KvPool::Create(kv_heads, hd, page_tokens, kv_bytes + 2 * page_tokens * kv_heads * hd * sizeof(float));
    auto pool_bf16 = KvPool::Create(kv_heads, hd, page_tokens, kv_bytes, KvType::kBF16);
    auto pool_int8 = KvPool::Create(kv_heads, hd, page_tokens, kv_bytes, KvType::kInt8);
    for (const auto* p : {&pool, &pool_bf16, &pool_int8}) {
      if (!p->ok()) {
        std::fprintf(stderr, "bench_attention: %s\n", p->status().message().c_str());
        return 1;
      }
    }
    KvSequence seq(&pool.value(), 1, bc.context), seq_bf16(&pool_bf16.value(), 1, bc.context),
        seq_int8(&pool_int8.value(), 1, bc.context);
    for (KvSequence* s : {&seq, &seq_bf16, &seq_int8}) {
      if (auto st = s->Reserve(bc.context); !st.ok()) {
        std::fprintf(stderr, "bench_attention: %s\n", st.message().c_str());
        return 1;
      }
    }
    // Keys and values in [−1, 1); queries scaled so the softmax is far from uniform.
    std::mt19937 gen(7);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> k_row(kv_heads * hd), v_row(kv_heads * hd);
    for (size_t pos = 0; pos < bc.context; ++pos) {
      for (float& x : k_row) x = dist(gen);
      for (float& x : v_row) x = dist(gen);
      seq.Store(0, pos, k_row.data(), v_row.data());
      seq_bf16.Store(0, pos, k_row.data(), v_row.data());
      seq_int8.Store(0, pos, k_row.data(), v_row.data());
    }
    for (KvSequence* s : {&seq, &seq_bf16, &seq_int8}) s->Advance(bc.context);
    std::vector<float> q(bc.rows * q_width), out_old(q.size()), out_new(q.size()), out_bf16(q.size()),
        out_int8(q.size());
    for (float& x : q) x = 4.0f * dist(gen);
    const AttentionRows rows{&seq, 0, bc.rows, bc.context - bc.rows};
    const AttentionRows rows_bf16{&seq_bf16, 0, bc.rows, bc.context - bc.rows};
    const AttentionRows rows_int8{&seq_int8, 0, bc.rows, bc.context - bc.rows};
    const std::span<const AttentionRows> groups(&rows, 1), groups_bf16(&rows_bf16, 1), groups_int8(&rows_int8, 1);
    std::vector<float> old_scratch;
    AttentionScratch new_scratch;
    OldCausalAttention(c, q.data(), groups, 0, out_old.data(), old_scratch);
    const double t_new = TimeBest([&] { CausalAttention(c, q.data(), groups, 0, out_new.data(), new_scratch); },
                                  min_seconds);
    const double t_bf16 = TimeBest(
        [&] { CausalAttention(c, q.data(), groups_bf16, 0, out_bf16.data(), new_scratch); }, min_seconds);
    const double t_int8 = TimeBest(
        [&] { CausalAttention(c, q.data(), groups_int8, 0, out_int8.data(), new_scratch); }, min_seconds);
    double max_diff = 0, max_diff_bf16 = 0, max_diff_int8 = 0;
    for (size_t i = 0; i < q.size(); ++i) {
      max_diff = std::max(max_diff, double(std::fabs(out_old[i] - out_new[i])));
      max_diff_bf16 = std::max(max_diff_bf16, double(std::fabs(out_old[i] - out_bf16[i])));
      max_diff_int8 = std::max(max_diff_int8, double(std::fabs(out_old[i] - out_int8[i])));
    }
    const size_t kv_bytes_bf16 = bc.context * KvBytesPerTokenLayer(KvType::kBF16, kv_heads, hd);
    const size_t kv_bytes_int8 = bc.context * KvBytesPerTokenLayer(KvType::kInt8, kv_heads, hd);
    nlohmann::ordered_json line;
    line["bench"] = "attention";
    line["case"] = bc.kind;
    line["context"] = bc.context;
    line["rows"] = bc.rows;
    line["heads"] = heads;
    line["kv_heads"] = kv_heads;
    line["head_dim"] = hd;
    line["page_tokens"] = page_tokens;
    line["threads"] = NumThreads();
    line["new_ms"] = t_new * 1e3;
    line["kv_gb_per_s_new"] = static_cast<double>(kv_bytes) / t_new / 1e9;
    line["kv_fraction_of_read_bandwidth"] = static_cast<double>(kv_bytes) / t_new / bandwidth;
    line["read_gb_per_s"] = bandwidth / 1e9;
    line["max_abs_diff"] = max_diff;
    line["bf16_ms"] = t_bf16 * 1e3;
    line["bf16_speedup"] = t_new / t_bf16;
    line["kv_fraction_of_read_bandwidth_bf16"] = static_cast<double>(kv_bytes_bf16) / t_bf16 / bandwidth;
    line["max_abs_diff_bf16"] = max_diff_bf16;
    line["bf16_dot"] = simd::BestBF16Dot() == simd::BF16Dot::kNative ? "avx512_bf16" : "emulated";
    line["int8_ms"] = t_int8 * 1e3;
    line["int8_speedup_over_bf16"] = t_bf16 / t_int8;
    line["kv_fraction_of_read_bandwidth_int8"] = static_cast<double>(kv_bytes_int8) / t_int8 / bandwidth;
    line["max_abs_diff_int8"] = max_diff_int8;
    line["int8_dot"] = simd::BestInt8Dot() == simd::Int8Dot::kNative ? "avx512_vnni" : "emulated";
    line["target"] = simd::CurrentTargetName();
    line["cpu"] = cpu;
    bench::Emit(line);
  }
  return 0;
}

}  // namespace
}  // namespace glmv

int main(int argc, char** argv) { return glmv::Run(argc, argv); }
