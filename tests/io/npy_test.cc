#include <doctest/doctest.h>

#include "io/npy.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

TEST_CASE("npy: f32 and i64 round trip, golden files read, bad files rejected") {
  test::TempDir dir;
  const std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  REQUIRE(WriteNpyF32((dir / "f.npy").string(), {2, 3}, f.data()).ok());
  auto a = ReadNpy((dir / "f.npy").string());
  REQUIRE(a.ok());
  CHECK(a->shape == std::vector<int64_t>{2, 3});
  CHECK(a->ToFloat() == f);
  const std::vector<int64_t> i = {-1, 5, 1LL << 40};
  REQUIRE(WriteNpyI64((dir / "i.npy").string(), {3}, i.data()).ok());
  auto b = ReadNpy((dir / "i.npy").string());
  REQUIRE(b.ok());
  CHECK(b->ToInt64() == i);

  auto ids = ReadNpy((test::DataDir() / "tiny-glm4v-moe" / "case1_text__input_ids.npy").string());
  REQUIRE(ids.ok());
  CHECK(ids->shape == std::vector<int64_t>{1, 12});
  CHECK(ids->ToInt64()[0] == 282);  // [gMASK]

  test::WriteBytes(dir / "bad.npy", {1, 2, 3});
  CHECK(!ReadNpy((dir / "bad.npy").string()).ok());
  auto bytes = test::ReadBytes(dir / "f.npy");
  bytes.resize(bytes.size() - 4);
  test::WriteBytes(dir / "short.npy", bytes);
  auto short_read = ReadNpy((dir / "short.npy").string());
  REQUIRE(!short_read.ok());
  CHECK(short_read.status().message().find("truncated") != std::string::npos);
}

}  // namespace
}  // namespace glmv

namespace glmv {
namespace {

TEST_CASE("npy: Fortran-ordered arrays are reordered to C order") {
  // np.save(np.arange(6, dtype='<i8').reshape(2, 3).T) — shape (3, 2), stored column-major.
  std::string header = "{'descr': '<i8', 'fortran_order': True, 'shape': (3, 2), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<uint8_t>(header.size()), 0};
  bytes.insert(bytes.end(), header.begin(), header.end());
  // Column-major data of [[0, 3], [1, 4], [2, 5]] is 0 1 2 3 4 5.
  for (int64_t v = 0; v < 6; ++v) {
    for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<uint8_t>(v >> (8 * b)));
  }
  test::TempDir dir;
  test::WriteBytes(dir / "f.npy", bytes);
  auto a = ReadNpy((dir / "f.npy").string());
  REQUIRE_MESSAGE(a.ok(), a.status().message());
  CHECK(a->shape == std::vector<int64_t>{3, 2});
  CHECK(a->ToInt64() == std::vector<int64_t>{0, 3, 1, 4, 2, 5});
}

}  // namespace
}  // namespace glmv
