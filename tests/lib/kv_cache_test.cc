// KV pages: the pool hands out, recycles and caps pages; a sequence reserves whole pages per layer, takes
// nothing when the pool cannot hold the request, shares pages with another and copies a shared partial
// page before writing into it; a single-sequence cache can be replaced by another.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "io/dtype.h"
#include "lib/text/text_model.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

TEST_CASE("pages: reserve per layer, recycle, refuse past the cap without taking anything") {
  auto pool = KvPool::Create(/*kv_heads=*/2, /*head_dim=*/4, /*page_tokens=*/4, /*max_bytes=*/6 * 2 * 2 * 4 * 4 * sizeof(float));
  REQUIRE(pool.ok());
  CHECK(pool->capacity_pages() == 6);
  KvSequence a(&*pool, /*layers=*/2, /*max_tokens=*/100);
  REQUIRE(a.Reserve(5).ok());  // 2 pages per layer
  CHECK(pool->pages_in_use() == 4);
  a.Advance(5);
  KvSequence b(&*pool, 2, 100);
  const Status full = b.Reserve(5);  // needs 4 more pages, 2 left
  REQUIRE(!full.ok());
  CHECK(full.message().find("context full") != std::string::npos);
  CHECK(pool->pages_in_use() == 4);  // nothing taken
  KvSequence capped(&*pool, 2, 3);
  CHECK(!capped.Reserve(4).ok());  // past its own max_tokens
  a.Truncate(4);                   // the second page of each layer goes back
  CHECK(pool->pages_in_use() == 2);
  CHECK(b.Reserve(5).ok());
  CHECK(pool->pages_in_use() == 6);
}

TEST_CASE("shared pages: held by both, a partial last page copied by whoever writes first") {
  auto pool = KvPool::Create(1, 2, 4, 64 * 1 * 4 * 2 * 2 * sizeof(float));
  REQUIRE(pool.ok());
  KvSequence a(&*pool, 1, 100);
  REQUIRE(a.Reserve(6).ok());
  for (size_t pos = 0; pos < 6; ++pos) {
    const float k[2] = {static_cast<float>(pos), -1.0f}, v[2] = {0.0f, static_cast<float>(10 + pos)};
    a.Store(0, pos, k, v);
  }
  a.Advance(6);
  KvSequence b(&*pool, 1, 100);
  REQUIRE(b.ShareFrom(a, 6).ok());
  CHECK(pool->pages_in_use() == 2);
  CHECK(b.page(0, 1) == a.page(0, 1));  // the same memory
  REQUIRE(b.Reserve(1).ok());           // writes into the shared partial page: b copies it first
  CHECK(pool->pages_in_use() == 3);
  CHECK(b.page(0, 1) != a.page(0, 1));
  CHECK(b.Key(0, 5, 0, 0) == 5.0f);     // the copy holds what was there
  CHECK(b.Key(0, 5, 0, 1) == -1.0f);
  CHECK(b.Value(0, 4, 0, 1) == 14.0f);
  CHECK(b.page(0, 0) == a.page(0, 0));  // the full page stays shared
  const float k6[2] = {99.0f, 0.0f}, v6[2] = {0.0f, 0.0f};
  b.Store(0, 6, k6, v6);
  CHECK(a.Key(0, 5, 0, 0) == 5.0f);  // b's write went to its copy
  CHECK(a.Reserve(1).ok());                 // a holds its partial page alone again: no copy
  CHECK(pool->pages_in_use() == 3);
}

TEST_CASE("a single-sequence cache replaced by another returns its pages to its own pool first") {
  auto m = TextModel::Load((test::DataDir() / "tiny-glm4v-moe").string());
  REQUIRE(m.ok());
  auto first = (*m)->NewCache(32);
  REQUIRE(first.ok());
  KvCache cache = std::move(first).value();
  REQUIRE(cache.seq.Reserve(20).ok());
  cache.seq.Advance(20);
  auto second = (*m)->NewCache(32);
  REQUIRE(second.ok());
  cache = std::move(second).value();  // under ASan, a release into the freed old pool would fail here
  CHECK(cache.length() == 0);
  CHECK(cache.pool->pages_in_use() == 0);
}

TEST_CASE("bf16 pages: half the bytes, values rounded to nearest even, odd sizes padded, copies keep them") {
  // head_dim 5 (odd: a zero pad per key) and pages of 3 tokens (odd: half a value pair unused).
  auto f32 = KvPool::Create(2, 5, 3, 1 << 20);
  auto pool = KvPool::Create(2, 5, 3, 1 << 20, KvType::kBF16);
  REQUIRE(f32.ok());
  REQUIRE(pool.ok());
  CHECK(pool->type() == KvType::kBF16);
  CHECK(pool->k_head_bytes() == 3 * 3 * 4);  // ⌈5/2⌉ pair rows × 3 keys
  CHECK(pool->v_head_bytes() == 2 * 5 * 4);  // ⌈3/2⌉ pair rows × 5 dims
  CHECK(pool->page_bytes() == KvPageBytes(KvType::kBF16, 2, 5, 3));
  CHECK(pool->page_bytes() < f32->page_bytes());
  KvSequence a(&*pool, 2, 100);
  REQUIRE(a.Reserve(7).ok());
  std::vector<float> k(10), v(10);
  for (size_t pos = 0; pos < 7; ++pos) {
    for (size_t i = 0; i < 10; ++i) {
      k[i] = 1.0f + static_cast<float>(pos * 10 + i) / 256.0f;  // 1 + x/256 needs 9 bits: rounds in bf16
      v[i] = -static_cast<float>(pos * 10 + i) - 0.5f;
    }
    a.Store(1, pos, k.data(), v.data());
  }
  a.Advance(7);
  double worst = 0;
  for (size_t pos = 0; pos < 7; ++pos) {
    for (size_t h = 0; h < 2; ++h) {
      for (size_t e = 0; e < 5; ++e) {
        const float want_k = 1.0f + static_cast<float>(pos * 10 + h * 5 + e) / 256.0f;
        const float want_v = -static_cast<float>(pos * 10 + h * 5 + e) - 0.5f;
        CHECK(a.Key(1, pos, h, e) == BF16ToF32(F32ToBF16(want_k)));
        CHECK(a.Value(1, pos, h, e) == BF16ToF32(F32ToBF16(want_v)));
        worst = std::max(worst, std::fabs(double(a.Key(1, pos, h, e)) - want_k));
      }
    }
  }
  MESSAGE("bf16 keys: worst rounding " << worst);
  CHECK(worst > 0);           // some did round
  CHECK(worst <= 1.0 / 256);  // to within half a unit of bf16's last place at 1..2
  KvSequence b(&*pool, 2, 100);
  REQUIRE(b.ShareFrom(a, 7).ok());
  REQUIRE(b.Reserve(1).ok());  // copies the shared partial page
  CHECK(b.page(1, 2) != a.page(1, 2));
  CHECK(b.Key(1, 6, 1, 4) == a.Key(1, 6, 1, 4));
  CHECK(b.Value(1, 6, 0, 3) == a.Value(1, 6, 0, 3));
}

TEST_CASE("int8 pages: a quarter of f32's bytes plus a scale per token, values within half a step, copies keep them") {
  // head_dim 5 (a pad of three bytes per key quad row) and pages of 3 tokens (a quad of values not full).
  auto f32 = KvPool::Create(2, 5, 3, 1 << 20);
  auto pool = KvPool::Create(2, 5, 3, 1 << 20, KvType::kInt8);
  REQUIRE(f32.ok());
  REQUIRE(pool.ok());
  CHECK(pool->type() == KvType::kInt8);
  CHECK(pool->k_head_bytes() == (2 * 3 + 3) * 4);  // ⌈5/4⌉ quad rows × 3 keys, then 3 scales
  CHECK(pool->v_head_bytes() == (1 * 5 + 3) * 4);  // ⌈3/4⌉ quad rows × 5 dims, then 3 scales
  CHECK(pool->page_bytes() == KvPageBytes(KvType::kInt8, 2, 5, 3));
  CHECK(KvBytesPerTokenLayer(KvType::kInt8, 8, 128) == 8 * (128 + 128 + 8));
  KvSequence a(&*pool, 2, 100);
  REQUIRE(a.Reserve(7).ok());
  std::vector<float> k(10), v(10);
  auto key = [](size_t pos, size_t i) { return std::sin(static_cast<float>(pos * 10 + i)) * static_cast<float>(pos + 1); };
  auto value = [](size_t pos, size_t i) { return std::cos(static_cast<float>(pos * 7 + i)) - 0.25f; };
  for (size_t pos = 0; pos < 7; ++pos) {
    for (size_t i = 0; i < 10; ++i) {
      k[i] = key(pos, i);
      v[i] = value(pos, i);
    }
    a.Store(1, pos, k.data(), v.data());
  }
  a.Advance(7);
  double worst_k = 0, worst_v = 0;
  for (size_t pos = 0; pos < 7; ++pos) {
    for (size_t h = 0; h < 2; ++h) {
      float k_max = 0, v_max = 0;
      for (size_t e = 0; e < 5; ++e) {
        k_max = std::max(k_max, std::fabs(key(pos, h * 5 + e)));
        v_max = std::max(v_max, std::fabs(value(pos, h * 5 + e)));
      }
      for (size_t e = 0; e < 5; ++e) {
        // Relative to the head's largest element: half a step of 1/127.
        worst_k = std::max(worst_k, std::fabs(double(a.Key(1, pos, h, e)) - key(pos, h * 5 + e)) / k_max);
        worst_v = std::max(worst_v, std::fabs(double(a.Value(1, pos, h, e)) - value(pos, h * 5 + e)) / v_max);
      }
    }
  }
  MESSAGE("int8 keys: worst error " << worst_k << ", values " << worst_v << " of each head's largest element");
  CHECK(worst_k > 0);
  CHECK(worst_k <= 0.5 / 127 + 1e-6);
  CHECK(worst_v <= 0.5 / 127 + 1e-6);
  KvSequence b(&*pool, 2, 100);
  REQUIRE(b.ShareFrom(a, 7).ok());
  REQUIRE(b.Reserve(1).ok());  // copies the shared partial page, scales included
  CHECK(b.page(1, 2) != a.page(1, 2));
  CHECK(b.Key(1, 6, 1, 4) == a.Key(1, 6, 1, 4));
  CHECK(b.Value(1, 6, 0, 3) == a.Value(1, 6, 0, 3));
}

TEST_CASE("--kv-type names: f32, bf16 and int8, anything else refused naming them") {
  auto f32 = ParseKvType("f32");
  auto bf16 = ParseKvType("bf16");
  auto int8 = ParseKvType("int8");
  REQUIRE(f32.ok());
  REQUIRE(bf16.ok());
  REQUIRE(int8.ok());
  CHECK(*f32 == KvType::kF32);
  CHECK(*bf16 == KvType::kBF16);
  CHECK(*int8 == KvType::kInt8);
  const auto bad = ParseKvType("int4");
  REQUIRE(!bad.ok());
  CHECK(bad.status().message().find("expected f32, bf16 or int8") != std::string::npos);
  CHECK(std::string(KvTypeName(KvType::kBF16)) == "bf16");
  CHECK(std::string(KvTypeName(KvType::kInt8)) == "int8");
}

}  // namespace
}  // namespace glmv
