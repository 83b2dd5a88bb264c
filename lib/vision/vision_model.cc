#include "lib/vision/vision_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "lib/model/linear.h"
#include "lib/vision/vision_attention.h"
#include "lib/base/parallel.h"
#include "simd/kernels.h"

namespace glmv {
namespace {

constexpr double kVisionRopeTheta = 10000.0;  // not a config key; fixed in the reference code
constexpr float kMergerLayerNormEps = 1e-5f;  // PyTorch LayerNorm default, not the config's rms_norm_eps

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Adds the wall time of its scope to `total` (VisionTimes).
struct AddSeconds {
  double& total;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  ~AddSeconds() { total += Seconds(start); }
};

// fn(i) for every row i in [0, n), the rows split across threads.
template <typename Fn>
void ForRows(size_t n, Fn&& fn) {
  ParallelFor(n, 16, [&](size_t begin, size_t end, size_t) {
    for (size_t i = begin; i < end; ++i) fn(i);
  });
}

}  // namespace

Result<VisionMath> ParseVisionMath(std::string_view name) {
  if (name == "auto") return VisionMath::kAuto;
  if (name == "f32") return VisionMath::kF32;
  if (name == "bf16") return VisionMath::kBF16;
  return Status::Error("unknown vision arithmetic '" + std::string(name) + "' (use auto, f32 or bf16)");
}

Result<std::unique_ptr<VisionModel>> VisionModel::Create(const ModelConfig& config, const Checkpoint& ckpt, VisionMath math) {
  if (!config.has_vision) return Status::Error(ckpt.dir() + ": config.json has no vision_config");
  std::unique_ptr<VisionModel> m(new VisionModel());
  m->config_ = config.vision;
  const auto& v = m->config_;
  if (v.out_hidden_size != config.text.hidden_size) {
    return Status::Error("vision_config.out_hidden_size (" + std::to_string(v.out_hidden_size) +
                         ") must equal the text hidden_size (" + std::to_string(config.text.hidden_size) + ")");
  }
  if ((v.hidden_size / v.num_heads) % 4 != 0) return Status::Error("vision head_dim must be a multiple of 4 (2-D rope)");
  GLMV_RETURN_IF_ERROR(BindVisionWeights(v, ckpt, m->w_, m->storage_));
  bool stored_bf16 = true;
  ForEachVisionTensor(v, m->w_, [&](const std::string& name, const std::vector<int64_t>& shape, Weight& w) {
    if (IsVisionMatrix(name, shape) && !w.is_bf16()) stored_bf16 = false;
  });
  if (math == VisionMath::kBF16 && !stored_bf16) {
    return Status::Error(ckpt.dir() + ": bf16 vision arithmetic needs a tower stored bf16 (glmv convert --vision bf16)");
  }
  const bool bf16 = math == VisionMath::kBF16 || (math == VisionMath::kAuto && stored_bf16 && OneDnnHasNativeBF16());
  m->math_ = bf16 ? BF16Math::kBF16 : BF16Math::kF32;
  return m;
}

int64_t VisionModel::patch_values() const {
  return config_.in_channels * config_.temporal_patch_size * config_.patch_size * config_.patch_size;
}

void VisionModel::Block(LinearContext& cx, const VisionBlockWeights& b, VisionEncoding& e) const {
  const size_t D = static_cast<size_t>(config_.hidden_size), n = e.starts.back();
  const size_t hd = D / static_cast<size_t>(config_.num_heads), half = hd / 2;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  float* z = e.z.data();
  e.normed.resize(n * D), e.qkv.resize(n * 3 * D), e.attn.resize(n * D), e.delta.resize(n * D);
  std::vector<float>&a = e.normed, &qkv = e.qkv, &attn = e.attn, &delta = e.delta;
  ForRows(n, [&](size_t i) { simd::RmsNorm(z + i * D, b.norm1.data, eps, a.data() + i * D, D); });
  {
    AddSeconds timed{e.times.linear};
    Linear(cx, b.qkv, config_.attention_bias ? &b.qkv_bias : nullptr, a.data(), n, qkv.data(), {}, math_);
  }
  ForRows(n, [&](size_t i) {  // 2-D rope on every q and k head, over the whole head
    for (size_t h = 0; h < D / hd; ++h) {
      simd::RotateHalf(qkv.data() + i * 3 * D + h * hd, e.cos.data() + i * half, e.sin.data() + i * half, half);
      simd::RotateHalf(qkv.data() + i * 3 * D + D + h * hd, e.cos.data() + i * half, e.sin.data() + i * half, half);
    }
  });
  {
    AddSeconds timed{e.times.attention};
    bool done = false;
    if (math_ == BF16Math::kBF16) {
      // q, k and v rounded to bf16 once; the softmax weights are rounded inside the attention.
      std::vector<uint16_t>& qkv_bf16 = e.qkv_bf16;
      qkv_bf16.resize(n * 3 * D);
      ForRows(n, [&](size_t i) { simd::NarrowToBF16(qkv.data() + i * 3 * D, 3 * D, qkv_bf16.data() + i * 3 * D); });
      done = true;
      for (size_t s = 0; done && s + 1 < e.starts.size(); ++s) {
        done = VisionSegmentAttentionBF16(cx.onednn, qkv_bf16.data(), e.starts[s], e.starts[s + 1], D, hd, attn.data(),
                                          e.attention_bf16).ok();
      }
    }
    if (!done) {  // f32 arithmetic, or oneDNN refused bf16
      for (size_t s = 0; s + 1 < e.starts.size(); ++s) {
        VisionSegmentAttention(cx.onednn, qkv.data(), e.starts[s], e.starts[s + 1], D, hd, attn.data(), e.scratch);
      }
    }
  }
  {
    AddSeconds timed{e.times.linear};
    Linear(cx, b.proj, nullptr, attn.data(), n, delta.data(), {}, math_);
  }
  ForRows(n, [&](size_t i) {
    for (size_t c = 0; c < D; ++c) z[i * D + c] += delta[i * D + c];
    simd::RmsNorm(z + i * D, b.norm2.data, eps, a.data() + i * D, D);
  });
  {
    AddSeconds timed{e.times.linear};
    SwiGlu(cx, b.mlp, a.data(), n, delta.data(), e.scratch, {}, math_);
  }
  ForRows(n, [&](size_t i) {
    for (size_t c = 0; c < D; ++c) z[i * D + c] += delta[i * D + c];
  });
}

Result<std::vector<float>> VisionModel::Encode(std::span<const float> pixels, std::span<const VisionGrid> grids,
                                               VisionTrace* trace) const {
  GLMV_ASSIGN_OR_RETURN(VisionEncoding e, BeginEncode(std::vector<float>(pixels.begin(), pixels.end()),
                                                      std::vector<VisionGrid>(grids.begin(), grids.end())));
  LinearContext cx;  // one encode alone; an engine passes its own context to EncodeStage
  while (!e.done()) EncodeStage(e, cx, trace);
  return std::move(e.features);
}

Result<VisionEncoding> VisionModel::BeginEncode(std::vector<float> pixels, std::vector<VisionGrid> grids) const {
  const VisionConfig& c = config_;
  const int64_t m = c.spatial_merge_size;
  const size_t P = static_cast<size_t>(patch_values());
  VisionEncoding e;
  // Segments: one per frame pair; patch positions in merge-block order, restarting per segment.
  e.starts = {0};
  for (const auto& g : grids) {
    if (g.t < 1 || g.h < m || g.w < m || g.h % m || g.w % m) {
      return Status::Error("vision grid (" + std::to_string(g.t) + ", " + std::to_string(g.h) + ", " +
                           std::to_string(g.w) + ") is not a positive multiple of the merge size " + std::to_string(m));
    }
    for (int64_t f = 0; f < g.t; ++f) {
      AppendPatchPositions(g.h, g.w, m, e.rc);
      e.starts.push_back(e.starts.back() + static_cast<size_t>(g.h * g.w));
      e.segment_hw.emplace_back(g.h, g.w);
    }
  }
  const size_t n = e.starts.back();
  if (pixels.size() != n * P) {
    return Status::Error("vision input has " + std::to_string(pixels.size() / std::max<size_t>(P, 1)) +
                         " patch rows of " + std::to_string(P) + " values; the grids need " + std::to_string(n));
  }
  e.pixels = std::move(pixels);
  e.grids = std::move(grids);
  e.stages = stage_count();
  return e;
}

void VisionModel::EncodeStage(VisionEncoding& e, LinearContext& cx, VisionTrace* trace) const {
  const VisionConfig& c = config_;
  const size_t D = static_cast<size_t>(c.hidden_size), O = static_cast<size_t>(c.out_hidden_size);
  const int64_t m = c.spatial_merge_size;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const size_t n = e.starts.back();
  const size_t stage = e.next_stage++;
  std::vector<float>& z = e.z;
  const auto stage_start = std::chrono::steady_clock::now();
  const double counted = e.times.linear + e.times.attention;  // "other" is the rest of this stage's time
  struct CountOther {
    VisionTimes& times;
    std::chrono::steady_clock::time_point start;
    double counted;
    ~CountOther() { times.other += Seconds(start) - (times.linear + times.attention - counted); }
  } count_other{e.times, stage_start, counted};
  if (stage == 0) {  // patch embedding, its norm, the interpolated positions and the rope tables
    z.assign(n * D, 0.0f);
    {
      AddSeconds timed{e.times.linear};
      Linear(cx, w_.patch_embed, &w_.patch_bias, e.pixels.data(), n, z.data(), {}, math_);
    }
    e.pixels = {};
    if (trace) trace->patch_embed = z;
    ForRows(n, [&](size_t i) { simd::RmsNorm(z.data() + i * D, w_.post_conv_norm.data, eps, z.data() + i * D, D); });
    if (trace) trace->post_conv_norm = z;
    const int64_t S = c.image_size / c.patch_size;
    const size_t hd = D / static_cast<size_t>(c.num_heads), half = hd / 2;
    e.cos.resize(n * half);
    e.sin.resize(n * half);
    for (size_t s = 0; s + 1 < e.starts.size(); ++s) {
      const auto [h, w] = e.segment_hw[s];
      const size_t first = e.starts[s];
      ForRows(e.starts[s + 1] - first, [&](size_t r) {
        const size_t i = first + r;
        AddInterpolatedPosEmbed(w_.pos_embed.data, S, static_cast<int64_t>(D), h, w, e.rc[2 * i], e.rc[2 * i + 1],
                                z.data() + i * D);
        VisionRopeAngles(static_cast<int64_t>(hd), kVisionRopeTheta, e.rc[2 * i], e.rc[2 * i + 1],
                         e.cos.data() + i * half, e.sin.data() + i * half);
      });
    }
    if (trace) {
      trace->position_ids = e.rc;
      trace->with_pos_embed = z;
      trace->block_out.clear();
    }
    return;
  }
  if (stage <= w_.blocks.size()) {
    Block(cx, w_.blocks[stage - 1], e);
    if (trace) trace->block_out.push_back(z);
    return;
  }
  ForRows(n, [&](size_t i) { simd::RmsNorm(z.data() + i * D, w_.post_norm.data, eps, z.data() + i * D, D); });
  if (trace) trace->post_norm = z;

  // Downsample: the m² tokens of a block are consecutive rows; each block is transposed to channel-major
  // [D, m²], the column order of the convolution's weight viewed as a matrix (see VisionWeights).
  const size_t mm = static_cast<size_t>(m * m), tokens = n / mm;
  std::vector<float> down(tokens * O), u(tokens * O), merged(tokens * O);
  {
    std::vector<float> blocks(n * D);
    ForRows(tokens, [&](size_t b) {
      for (size_t k = 0; k < mm; ++k) {
        const float* src = z.data() + (b * mm + k) * D;
        float* dst = blocks.data() + b * mm * D + k;
        for (size_t ch = 0; ch < D; ++ch) dst[ch * mm] = src[ch];
      }
    });
    AddSeconds timed{e.times.linear};
    Linear(cx, w_.downsample, &w_.downsample_bias, blocks.data(), tokens, down.data(), {}, math_);
  }
  if (trace) trace->downsample = down;
  {
    AddSeconds timed{e.times.linear};
    Linear(cx, w_.merger_proj, nullptr, down.data(), tokens, u.data(), {}, math_);
  }
  ForRows(tokens, [&](size_t i) {
    simd::LayerNorm(u.data() + i * O, w_.merger_norm.data, w_.merger_norm_bias.data, kMergerLayerNormEps, u.data() + i * O, O);
    simd::GeluErfInPlace(u.data() + i * O, O);
  });
  {
    AddSeconds timed{e.times.linear};
    SwiGlu(cx, w_.merger_mlp, u.data(), tokens, merged.data(), e.scratch, {}, math_);
  }
  if (trace) trace->merged = merged;
  e.features = std::move(merged);
  // Free what a finished encode no longer needs (a 1024² image's hidden states are ~35 MB).
  e.z = {}, e.cos = {}, e.sin = {}, e.scratch = {}, e.attention_bf16 = {};
  e.normed = {}, e.qkv = {}, e.attn = {}, e.delta = {}, e.qkv_bf16 = {};
  e.rc = {}, e.starts = {}, e.segment_hw = {}, e.grids = {};
}

}  // namespace glmv
