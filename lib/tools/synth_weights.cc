#include "lib/tools/synth_weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "io/safetensors.h"
#include "lib/base/parallel.h"
#include "lib/text/text_weights.h"
#include "lib/vision/vision_weights.h"

namespace glmv {
namespace {

constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;  // splitmix64's Weyl increment

// splitmix64's output function: a strong 64-bit mixer, so Mix(key + n·kGamma) is a counter-based
// generator (element i's value is computable without generating elements 0..i-1).
inline uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t NameHash(const std::string& s) {  // FNV-1a, 64 bit: fixed across platforms and runs
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

uint64_t TensorKey(uint64_t seed, const std::string& name) { return Mix(Mix(seed + kGamma) ^ NameHash(name)); }

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// By name and rank: the tables' vectors are norm weights, biases (".bias", including the merger's
// LayerNorm bias) and the router correction bias; everything of rank ≥ 2 multiplies activations.
SynthInit InitFor(const std::string& name, const std::vector<int64_t>& shape) {
  if (EndsWith(name, "e_score_correction_bias")) return SynthInit::kCorrectionBias;
  if (EndsWith(name, ".bias")) return SynthInit::kBias;
  if (shape.size() == 1) return SynthInit::kNorm;
  return SynthInit::kLinear;
}

SynthTensor Make(const std::string& name, const std::vector<int64_t>& shape, DType dtype) {
  SynthTensor t{name, dtype, shape, InitFor(name, shape)};
  if (t.init == SynthInit::kCorrectionBias) t.dtype = DType::kF32;  // the checkpoint keeps it f32 always
  return t;
}

struct Range {  // values are center + half_width · v, v uniform in (-1, 1); or bell-shaped (below)
  float center = 0, half_width = 0;
  float stddev = 0;  // > 0: a bell-shaped draw with this standard deviation instead
};

Range RangeFor(const SynthTensor& t) {
  switch (t.init) {
    case SynthInit::kNorm: return {1.0f, 0.05f};
    case SynthInit::kBias: return {0.0f, 0.02f};
    case SynthInit::kCorrectionBias: return {0.0f, 0.01f};
    case SynthInit::kLinear: break;
  }
  const uint64_t rows = t.shape.empty() ? 1 : std::max<int64_t>(t.shape[0], 1);
  const double fan_in = std::max<double>(1.0, static_cast<double>(t.NumElements() / rows));
  return {0.0f, 0.0f, static_cast<float>(std::sqrt(1.0 / fan_in))};
}

// Bell-shaped: element i is the sum of the four 16-bit lanes of Mix(key + i·kGamma), centred — the
// Irwin–Hall distribution of 4 uniforms, close to a normal one within ±3.46σ. Linear weights get it because
// trained weights are bell-shaped, not uniform, and quantizers are measured on these models (a uniform
// distribution favours a uniform int4 grid over the non-uniform grids that suit real weights).
template <typename T, typename Convert>
void FillBell(uint64_t key, float stddev, uint64_t first, uint64_t count, T* out, Convert convert) {
  // Each lane is uniform on {0..65535}: variance (65536² − 1)/12; the sum of four, (65536² − 1)/3.
  const float scale = stddev * static_cast<float>(std::sqrt(3.0 / (65536.0 * 65536.0 - 1.0)));
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t bits = Mix(key + (first + i) * kGamma);
    const uint32_t sum = static_cast<uint32_t>(bits & 0xffff) + static_cast<uint32_t>((bits >> 16) & 0xffff) +
                         static_cast<uint32_t>((bits >> 32) & 0xffff) + static_cast<uint32_t>(bits >> 48);
    out[i] = convert(scale * (static_cast<float>(sum) - 131070.0f));
  }
}

// Element i takes 16 bits (lane i mod 4) of Mix(key + (i / 4)·kGamma): a uniform on 65536 levels, ample
// for bf16's 8-bit mantissa and for random test weights in f32.
template <typename T, typename Convert>
void FillRange(uint64_t key, Range r, uint64_t first, uint64_t count, T* out, Convert convert) {
  const float scale = r.half_width * (2.0f / 65536.0f);
  const float offset = r.center - r.half_width + 0.5f * scale;
  auto value = [&](uint64_t bits, int lane) {
    return convert(offset + scale * static_cast<float>(static_cast<uint32_t>(bits >> (16 * lane)) & 0xffff));
  };
  const uint64_t end = first + count;
  uint64_t i = first;
  for (; i < end && (i & 3) != 0; ++i) out[i - first] = value(Mix(key + (i >> 2) * kGamma), static_cast<int>(i & 3));
  // Whole groups of four: one mix each, the lanes unrolled (the hot loop; ~1 ns per element).
  T* o = out + (i - first);
  const uint64_t full_end = end >> 2;
  for (uint64_t w = i >> 2; w < full_end; ++w, o += 4) {
    const uint64_t bits = Mix(key + w * kGamma);
    o[0] = value(bits, 0);
    o[1] = value(bits, 1);
    o[2] = value(bits, 2);
    o[3] = value(bits, 3);
  }
  i = std::max(i, full_end * 4);
  for (; i < end; ++i) out[i - first] = value(Mix(key + (i >> 2) * kGamma), static_cast<int>(i & 3));
}

uint64_t SaturatingMul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<uint64_t>::max() : r;
}

}  // namespace

uint64_t SynthTensor::NumElements() const {
  uint64_t n = 1;
  for (int64_t d : shape) n = SaturatingMul(n, static_cast<uint64_t>(std::max<int64_t>(d, 0)));
  return n;
}

uint64_t SynthTensor::NumBytes() const { return SaturatingMul(NumElements(), DTypeSize(dtype)); }

std::vector<SynthTensor> SynthTextTensors(const TextConfig& config, DType dtype) {
  std::vector<SynthTensor> out;
  TextWeights unused;  // the visitor's slots; nothing is bound
  ForEachTextTensor(config, unused, [&](const std::string& name, const std::vector<int64_t>& shape, Weight&) {
    out.push_back(Make(name, shape, dtype));
  });
  return out;
}

std::vector<SynthTensor> SynthVisionTensors(const VisionConfig& config, DType dtype) {
  std::vector<SynthTensor> out;
  VisionWeights unused;
  ForEachVisionTensor(config, unused, [&](const std::string& name, const std::vector<int64_t>& shape, Weight&) {
    out.push_back(Make(name, shape, dtype));
  });
  return out;
}

std::vector<SynthTensor> SynthModelTensors(const ModelConfig& config, DType dtype) {
  std::vector<SynthTensor> out = SynthTextTensors(config.text, dtype);
  if (config.has_vision) {
    auto vision = SynthVisionTensors(config.vision, dtype);
    out.insert(out.end(), std::make_move_iterator(vision.begin()), std::make_move_iterator(vision.end()));
  }
  return out;
}

void FillSynthTensor(const SynthTensor& t, uint64_t seed, uint64_t first, uint64_t count, uint8_t* out) {
  const uint64_t key = TensorKey(seed, t.name);
  const Range r = RangeFor(t);
  // Chunks of ≥ 32K elements: small tensors stay on one thread; the values do not depend on the split.
  ParallelFor(count, size_t{1} << 15, [&](size_t begin, size_t end, size_t) {
    if (r.stddev > 0) {
      if (t.dtype == DType::kBF16) {
        FillBell(key, r.stddev, first + begin, end - begin, reinterpret_cast<uint16_t*>(out) + begin,
                 [](float f) { return F32ToBF16(f); });
      } else {
        FillBell(key, r.stddev, first + begin, end - begin, reinterpret_cast<float*>(out) + begin, [](float f) { return f; });
      }
    } else if (t.dtype == DType::kBF16) {
      FillRange(key, r, first + begin, end - begin, reinterpret_cast<uint16_t*>(out) + begin,
                [](float f) { return F32ToBF16(f); });
    } else {
      FillRange(key, r, first + begin, end - begin, reinterpret_cast<float*>(out) + begin, [](float f) { return f; });
    }
  });
}

void FillSkewedCorrectionBias(const std::string& name, size_t experts, double skew, uint64_t seed, float* bias) {
  // A permutation by Fisher–Yates on a key of its own (not the uniform values' key), so rank r's expert is
  // order[r - 1].
  const uint64_t key = Mix(TensorKey(seed, name) ^ 0x736b6577ull /* "skew" */);
  std::vector<size_t> order(experts);
  for (size_t i = 0; i < experts; ++i) order[i] = i;
  for (size_t i = experts; i > 1; --i) std::swap(order[i - 1], order[Mix(key + i * kGamma) % i]);
  std::vector<double> value(experts);
  double mean = 0;
  for (size_t r = 0; r < experts; ++r) {
    value[order[r]] = -kExpertSkewScale * skew * std::log(static_cast<double>(r + 1));
    mean += value[order[r]] / static_cast<double>(experts);
  }
  for (size_t e = 0; e < experts; ++e) bias[e] = static_cast<float>(value[e] - mean);
}

namespace {

const std::map<std::string, std::string> kMetadata = {{"format", "pt"}};  // what transformers writes

std::vector<SafetensorsWriter::Spec> Specs(std::span<const SynthTensor> tensors) {
  std::vector<SafetensorsWriter::Spec> specs;
  specs.reserve(tensors.size());
  for (const auto& t : tensors) specs.push_back({t.name, t.dtype, t.shape});
  return specs;
}

}  // namespace

uint64_t SynthSafetensorsBytes(std::span<const SynthTensor> tensors) {
  return SafetensorsWriter::FileBytes(Specs(tensors), kMetadata);
}

Status WriteSynthSafetensors(const std::string& path, std::span<const SynthTensor> tensors, uint64_t seed,
                             const SynthProgress& progress) {
  for (const auto& t : tensors) {
    if (t.dtype != DType::kBF16 && t.dtype != DType::kF32) {
      return Status::Error(path + ": tensor '" + t.name + "': random weights are written as BF16 or F32 only");
    }
  }
  GLMV_ASSIGN_OR_RETURN(auto writer, SafetensorsWriter::Create(path, Specs(tensors), kMetadata));
  // One 8 MiB buffer, reused: large enough that the writes run at disk speed, small enough that the
  // model's size never shows in memory use.
  constexpr uint64_t kChunkBytes = uint64_t{8} << 20;
  uint64_t largest = 0;
  for (const auto& t : tensors) largest = std::max(largest, t.NumBytes());
  std::vector<uint8_t> buf(static_cast<size_t>(std::min(largest, kChunkBytes)));
  uint64_t done = 0;
  for (const auto& t : tensors) {
    const uint64_t n = t.NumElements(), elem = DTypeSize(t.dtype), per_chunk = kChunkBytes / elem;
    if (n == 0) GLMV_RETURN_IF_ERROR(writer->AppendPart({}));
    for (uint64_t first = 0; first < n; first += per_chunk) {
      const uint64_t count = std::min(per_chunk, n - first);
      FillSynthTensor(t, seed, first, count, buf.data());
      GLMV_RETURN_IF_ERROR(writer->AppendPart({buf.data(), static_cast<size_t>(count * elem)}));
      done += count * elem;
      if (progress) GLMV_RETURN_IF_ERROR(progress(done));
    }
  }
  return writer->Finish();
}

}  // namespace glmv
