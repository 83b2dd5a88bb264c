#include "lib/base/onednn.h"

#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <unordered_map>

namespace glmv {

struct OneDnnCache::State {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  // Key: m, k, n, lda, ldb, ldc, b layout, has bias, bf16 inputs.
  std::map<std::tuple<size_t, size_t, size_t, size_t, size_t, size_t, bool, bool, bool>, dnnl::matmul> cache;
};

// The engine and stream are made on first use: a context that never runs a large GEMM costs nothing.
OneDnnCache::OneDnnCache() = default;
OneDnnCache::~OneDnnCache() = default;
OneDnnCache::OneDnnCache(OneDnnCache&&) noexcept = default;
OneDnnCache& OneDnnCache::operator=(OneDnnCache&&) noexcept = default;

size_t OneDnnCache::primitives() const {
  if (!state_) return 0;
  return state_->cache.size();
}

namespace {

using dnnl::memory;

constexpr size_t kMaxPrimitives = 256;

memory::dims Dims(size_t a, size_t b) { return {static_cast<memory::dim>(a), static_cast<memory::dim>(b)}; }

}  // namespace

std::string OneDnnVersion() {
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

std::string OneDnnIsa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::all: return "all";
    case dnnl::cpu_isa::sse41: return "SSE4.1";
    case dnnl::cpu_isa::avx: return "AVX";
    case dnnl::cpu_isa::avx2: return "AVX2";
    case dnnl::cpu_isa::avx2_vnni: return "AVX2+VNNI";
    case dnnl::cpu_isa::avx512_core: return "AVX-512";
    case dnnl::cpu_isa::avx512_core_vnni: return "AVX-512+VNNI";
    case dnnl::cpu_isa::avx512_core_bf16: return "AVX-512+VNNI+BF16";
    case dnnl::cpu_isa::avx512_core_amx: return "AVX-512+AMX";
    default: return "other";
  }
}

bool OneDnnHasNativeBF16() {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

Status GemmOneDnn(OneDnnCache& cache, const GemmArgs& g) {
  if (g.m == 0 || g.n == 0) return Status::Ok();
  try {
    if (!cache.state_) cache.state_ = std::make_unique<OneDnnCache::State>();
    OneDnnCache::State& ctx = *cache.state_;
    const auto dt = memory::data_type::f32;
    const auto in_dt = g.bf16 ? memory::data_type::bf16 : dt;
    const memory::desc a_md(Dims(g.m, g.k), in_dt, Dims(g.lda, 1));
    // B as [k, n]: a transposed W [n, k] is the same bytes with strides (1, ldb).
    const memory::desc b_md(Dims(g.k, g.n), in_dt, g.b_is_nk ? Dims(1, g.ldb) : Dims(g.ldb, 1));
    const memory::desc c_md(Dims(g.m, g.n), dt, Dims(g.ldc, 1));
    const memory::desc bias_md(Dims(1, g.n), dt, Dims(g.n, 1));
    dnnl::matmul prim;
    {
      const auto key = std::make_tuple(g.m, g.k, g.n, g.lda, g.ldb, g.ldc, g.b_is_nk, g.bias != nullptr, g.bf16);
      auto it = ctx.cache.find(key);
      if (it == ctx.cache.end()) {
        // A server sees prompt chunks and image segments of every length, each a shape with its JIT code:
        // past kMaxPrimitives the cache starts over rather than grow without bound.
        if (ctx.cache.size() >= kMaxPrimitives) ctx.cache.clear();
        const dnnl::matmul::desc desc = g.bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md)
                                               : dnnl::matmul::desc(a_md, b_md, c_md);
        it = ctx.cache.emplace(key, dnnl::matmul(dnnl::matmul::primitive_desc(desc, ctx.engine))).first;
      }
      prim = it->second;
    }
    memory a_mem(a_md, ctx.engine, const_cast<void*>(g.a));
    memory b_mem(b_md, ctx.engine, const_cast<void*>(g.b));
    memory c_mem(c_md, ctx.engine, g.c);
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}};
    if (g.bias) args.emplace(DNNL_ARG_BIAS, memory(bias_md, ctx.engine, const_cast<float*>(g.bias)));
    prim.execute(ctx.stream, args);
    ctx.stream.wait();
  } catch (const dnnl::error& e) {
    return Status::Error(std::string("oneDNN matmul failed: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace glmv
