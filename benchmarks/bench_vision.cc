// Vision-encoder speed and memory at GLM-4.5V's real dimensions (spec §3.1), with random weights:
// writes a random-weight vision tower (BF16 safetensors, streamed) to a temporary directory, loads it,
// and encodes synthetic images of 448×448, 1024×1024 and 3840×2160 (or the sizes given), printing one JSON
// line per image: seconds, patches, tokens, GFLOP and GFLOP/s, peak RSS. The weights are deleted at exit.
//
// Each image line also gives the encoder's rate as a fraction of the f32 and bf16 GEMM peaks measured in the
// same run, and the share of its time in linear layers, attention and the rest.
//
//   bench_vision [--sizes 448x448,1024x1024,3840x2160] [--dir /tmp] [--threads N] [--vision-math auto|f32|bf16]
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "benchmarks/bench_util.h"
#include "lib/model/checkpoint.h"
#include "lib/media/image_preprocess.h"
#include "lib/base/onednn.h"
#include "lib/base/parallel.h"
#include "lib/tools/synth_weights.h"
#include "lib/vision/vision_model.h"

namespace fs = std::filesystem;
using namespace glmv;

namespace {

// GLM-4.5V's vision tower (spec §1.3) and enough of a text config to parse.
const char* kConfig = R"({
  "model_type": "glm4v_moe",
  "image_token_id": 151363, "video_token_id": 151364,
  "image_start_token_id": 151339, "image_end_token_id": 151340,
  "video_start_token_id": 151341, "video_end_token_id": 151342,
  "text_config": {"vocab_size": 151552, "hidden_size": 4096, "num_hidden_layers": 1, "num_attention_heads": 96,
    "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 10944, "first_k_dense_replace": 1,
    "moe_intermediate_size": 1408, "n_routed_experts": 128, "num_experts_per_tok": 8, "n_shared_experts": 1,
    "partial_rotary_factor": 0.5, "rope_theta": 10000.0, "rope_scaling": {"rope_type": "default", "mrope_section": [8, 12, 12]}},
  "vision_config": {"depth": 24, "hidden_size": 1536, "num_heads": 12, "intermediate_size": 10944,
    "out_hidden_size": 4096, "patch_size": 14, "temporal_patch_size": 2, "spatial_merge_size": 2,
    "image_size": 336, "in_channels": 3, "rms_norm_eps": 1e-05, "attention_bias": false}
})";

// Random vision weights at real size (lib/synth_weights.h: linears variance 1/fan_in, norms ~1, biases
// small), streamed to disk in small chunks.
Status WriteRandomVision(const fs::path& dir) {
  std::ofstream(dir / "config.json") << kConfig;
  auto cfg = ParseModelConfig(kConfig, "bench config");
  if (!cfg.ok()) return cfg.status();
  const auto tensors = SynthVisionTensors(cfg->vision, DType::kBF16);
  return WriteSynthSafetensors((dir / "model.safetensors").string(), tensors, /*seed=*/1);
}

RgbImage Synthetic(int w, int h) {
  RgbImage img;
  img.width = w, img.height = h;
  img.pixels.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.Row(y) + 3 * x;
      p[0] = static_cast<uint8_t>(x * 255 / w), p[1] = static_cast<uint8_t>(y * 255 / h), p[2] = static_cast<uint8_t>((x ^ y) & 255);
    }
  }
  return img;
}

// Multiply-adds × 2 of one encode: linears per patch plus attention (QKᵀ and PV) per frame.
double Gflop(const VisionConfig& c, int64_t patches) {
  const double D = static_cast<double>(c.hidden_size), O = static_cast<double>(c.out_hidden_size);
  const double N = static_cast<double>(patches);
  const double per_patch = 1176 * D + c.depth * (3 * D * D + D * D + 3 * D * O);
  const double tokens = N / 4, merger = tokens * (4 * D * O + O * O + 3 * O * static_cast<double>(c.intermediate_size));
  const double attention = c.depth * 4.0 * N * N * D;
  return 2 * (N * per_patch + merger) / 1e9 + attention / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  std::string sizes = "448x448,1024x1024,3840x2160", base = fs::temp_directory_path().string(), math_name = "auto";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--sizes")) sizes = argv[i + 1];
    if (!std::strcmp(argv[i], "--dir")) base = argv[i + 1];
    if (!std::strcmp(argv[i], "--threads")) SetNumThreads(std::atoi(argv[i + 1]));
    if (!std::strcmp(argv[i], "--vision-math")) math_name = argv[i + 1];
  }
  auto math = ParseVisionMath(math_name);
  if (!math.ok()) {
    std::fprintf(stderr, "bench_vision: --vision-math: %s\n", math.status().message().c_str());
    return 2;
  }
  const fs::path dir = fs::path(base) / ("glmv_bench_vision_" + std::to_string(getpid()));
  fs::create_directories(dir);
  // Streamed in 8 MiB chunks, so writing adds nothing noticeable to the peak RSS reported below.
  if (Status st = WriteRandomVision(dir); !st.ok()) {
    std::fprintf(stderr, "bench_vision: could not write random weights to %s: %s\n", dir.c_str(), st.message().c_str());
    fs::remove_all(dir);
    return 1;
  }
  auto ckpt = Checkpoint::Open(dir.string());
  if (!ckpt.ok()) {
    std::fprintf(stderr, "bench_vision: %s\n", ckpt.status().message().c_str());
    return 1;
  }
  const double t_load = bench::Now();
  auto vision = VisionModel::Create((*ckpt)->config(), **ckpt, *math);
  if (!vision.ok()) {
    std::fprintf(stderr, "bench_vision: %s\n", vision.status().message().c_str());
    return 1;
  }
  bench::Emit({{"bench", "vision_load"}, {"seconds", bench::Now() - t_load}, {"rss_bytes", bench::RssBytes()},
               {"threads", NumThreads()}});
  // The GEMM peaks are measured before and after the encodes, and the better figure kept: one disturbed
  // measurement must not flatter the ratio.
  double gemm = bench::MeasureGemmGflops(false), gemm16 = bench::MeasureGemmGflops(true);
  bench::Emit({{"bench", "gemm_peak"}, {"when", "before"}, {"f32_gflop_per_s", gemm}, {"bf16_gflop_per_s", gemm16},
               {"threads", NumThreads()}});
  struct Encoded {
    std::string image, resized;
    int64_t patches, tokens;
    double seconds, gflop;
    VisionTimes times;
    size_t peak_rss;
  };
  std::vector<Encoded> results;
  ImagePreprocessConfig pre;  // GLM-4.5V defaults: ≤ 6144 tokens per image
  std::stringstream list(sizes);
  std::string item;
  while (std::getline(list, item, ',')) {
    int w = 0, h = 0;
    if (std::sscanf(item.c_str(), "%dx%d", &w, &h) != 2) continue;
    auto p = PreprocessImage(Synthetic(w, h), pre);
    if (!p.ok()) continue;
    const VisionGrid grid{p->grid_t, p->grid_h, p->grid_w};
    const double t0 = bench::Now();
    auto e = (*vision)->BeginEncode(p->pixel_values, {grid});
    if (!e.ok()) {
      std::fprintf(stderr, "bench_vision: %s\n", e.status().message().c_str());
      continue;
    }
    LinearContext cx;
    while (!e->done()) (*vision)->EncodeStage(*e, cx);
    const double dt = bench::Now() - t0;
    results.push_back({item, std::to_string(p->resized_width) + "x" + std::to_string(p->resized_height), p->num_patches(),
                       p->num_tokens, dt, Gflop((*vision)->config(), p->num_patches()), e->times, bench::PeakRssBytes()});
    std::fprintf(stderr, "bench_vision: %s encoded in %.1f s\n", item.c_str(), dt);
  }
  const double gemm_after = bench::MeasureGemmGflops(false), gemm16_after = bench::MeasureGemmGflops(true);
  bench::Emit({{"bench", "gemm_peak"}, {"when", "after"}, {"f32_gflop_per_s", gemm_after},
               {"bf16_gflop_per_s", gemm16_after}, {"threads", NumThreads()}});
  gemm = std::max(gemm, gemm_after);
  gemm16 = std::max(gemm16, gemm16_after);
  for (const Encoded& r : results) {
    const double rate = r.gflop / r.seconds;
    bench::Emit({{"bench", "vision_encode"}, {"image", r.image}, {"resized", r.resized}, {"patches", r.patches},
                 {"tokens", r.tokens}, {"seconds", r.seconds}, {"gflop", r.gflop}, {"gflop_per_s", rate},
                 {"ratio_to_f32_gemm_peak", rate / gemm}, {"ratio_to_bf16_gemm_peak", gemm16 > 0 ? rate / gemm16 : 0.0},
                 {"f32_gemm_peak_gflop_per_s", gemm}, {"bf16_gemm_peak_gflop_per_s", gemm16},
                 {"share_linear", r.times.linear / r.seconds}, {"share_attention", r.times.attention / r.seconds},
                 {"share_other", r.times.other / r.seconds}, {"peak_rss_bytes", r.peak_rss}, {"threads", NumThreads()},
                 {"arithmetic", (*vision)->math_name()}, {"weights", "bf16 in place"}});
  }
  fs::remove_all(dir);
  return 0;
}
