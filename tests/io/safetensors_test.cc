// The safetensors reader: a valid file round-trips, and every malformed variant is a clear error that
// names the file and the problem (never a crash; these also run under ASan/UBSan in CI).
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "io/safetensors.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using test::TempDir;

// A file made of an 8-byte length, `header` and `data_bytes` zero bytes of data.
std::vector<uint8_t> RawFile(const std::string& header, size_t data_bytes, uint64_t declared_len = UINT64_MAX) {
  const uint64_t len = declared_len == UINT64_MAX ? header.size() : declared_len;
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(len >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_bytes, 0);
  return out;
}

// Opens `bytes` written to a temp file and returns the error message ("" when it opened).
std::string OpenError(const std::vector<uint8_t>& bytes) {
  TempDir dir;
  const auto path = dir / "m.safetensors";
  test::WriteBytes(path, bytes);
  auto f = SafetensorsFile::Open(path.string());
  if (f.ok()) return "";
  const std::string msg = f.status().message();
  CHECK_MESSAGE(msg.find(path.string()) != std::string::npos, "message names the file: " << msg);
  return msg;
}

TEST_CASE("a written file reads back with names, dtypes, shapes, bytes and metadata") {
  TempDir dir;
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  const std::vector<uint16_t> b = {0x3f80, 0x4000};  // bf16 1.0, 2.0
  const auto path = (dir / "x.safetensors").string();
  REQUIRE(WriteSafetensors(path,
                           {{"a", DType::kF32, {2, 3}, {reinterpret_cast<const uint8_t*>(a.data()), 24}},
                            {"b", DType::kBF16, {2}, {reinterpret_cast<const uint8_t*>(b.data()), 4}}},
                           {{"format", "pt"}})
              .ok());
  auto f = SafetensorsFile::Open(path);
  REQUIRE(f.ok());
  REQUIRE(f->tensors().size() == 2);
  const TensorView& ta = f->tensors()[0];
  CHECK(ta.name == "a");
  CHECK(ta.dtype == DType::kF32);
  CHECK(ta.shape == std::vector<int64_t>{2, 3});
  float back[6];
  std::memcpy(back, ta.bytes.data(), 24);
  CHECK(back[5] == 6.0f);
  float widened[2];
  WidenToF32(f->tensors()[1].dtype, f->tensors()[1].bytes.data(), 2, widened);
  CHECK(widened[0] == 1.0f);
  CHECK(widened[1] == 2.0f);
  CHECK(f->metadata().at("format") == "pt");
  // the writer left no temporary file behind
  CHECK(!std::filesystem::exists(path + ".tmp"));
}

TEST_CASE("malformed files give clear errors") {
  const std::string good = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  CHECK(OpenError(RawFile(good, 16)).empty());

  SUBCASE("empty and truncated files") {
    CHECK(OpenError({}).find("truncated") != std::string::npos);
    CHECK(OpenError({1, 2, 3}).find("truncated") != std::string::npos);
    auto whole = RawFile(good, 16);
    whole.resize(whole.size() - 5);  // cut into the data section
    CHECK(OpenError(whole).find("out of range") != std::string::npos);
  }
  SUBCASE("header length past the end of the file") {
    CHECK(OpenError(RawFile(good, 16, 1u << 20)).find("past the end") != std::string::npos);
    CHECK(OpenError(RawFile(good, 16, UINT64_MAX - 1)).find("past the end") != std::string::npos);
  }
  SUBCASE("invalid JSON") {
    CHECK(OpenError(RawFile("{\"w\": [", 16)).find("not valid JSON") != std::string::npos);
    CHECK(OpenError(RawFile("[1, 2]", 0)).find("not a JSON object") != std::string::npos);
    CHECK(OpenError(RawFile(std::string("{\"a\xff\":1}"), 0)).find("JSON") != std::string::npos);
  }
  SUBCASE("unknown dtype") {
    const auto msg = OpenError(RawFile(R"({"w":{"dtype":"F8_E9","shape":[2],"data_offsets":[0,2]}})", 2));
    CHECK(msg.find("unknown dtype 'F8_E9'") != std::string::npos);
    CHECK(msg.find("'w'") != std::string::npos);
  }
  SUBCASE("offsets that disagree with the shape") {
    CHECK(OpenError(RawFile(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", 16))
              .find("needs 16") != std::string::npos);
  }
  SUBCASE("offsets out of range, reversed or negative") {
    CHECK(OpenError(RawFile(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})", 16))
              .find("out of range") != std::string::npos);
    CHECK(OpenError(RawFile(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 16))
              .find("out of range") != std::string::npos);
    CHECK(OpenError(RawFile(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", 16))
              .find("non-negative") != std::string::npos);
  }
  SUBCASE("overlapping tensors") {
    const auto msg = OpenError(RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                       16));
    CHECK(msg.find("overlap") != std::string::npos);
  }
  SUBCASE("bad shapes and entries") {
    CHECK(OpenError(RawFile(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0))
              .find("negative") != std::string::npos);
    CHECK(OpenError(RawFile(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0))
              .find("overflow") != std::string::npos);
    CHECK(OpenError(RawFile(R"({"w":{"dtype":"F32","data_offsets":[0,0]}})", 0)).find("missing shape") !=
          std::string::npos);
    CHECK(OpenError(RawFile(R"({"w":3})", 0)).find("not an object") != std::string::npos);
  }
}

TEST_CASE("a directory or a missing path is an error, not a crash") {
  TempDir dir;
  CHECK(!SafetensorsFile::Open(dir.path().string()).ok());
  auto missing = SafetensorsFile::Open((dir / "nope.safetensors").string());
  REQUIRE(!missing.ok());
  CHECK(missing.status().message().find("cannot open") != std::string::npos);
}

}  // namespace
}  // namespace glmv

namespace glmv {
namespace {

TEST_CASE("the streaming writer produces a readable file and refuses misuse") {
  test::TempDir dir;
  const auto path = (dir / "s.safetensors").string();
  auto w = SafetensorsWriter::Create(path, {{"a", DType::kF32, {2}}, {"b", DType::kBF16, {3}}});
  REQUIRE(w.ok());
  const float a[2] = {1, 2};
  const uint16_t b[3] = {0x3f80, 0, 0x4000};
  CHECK(!(*w)->Append({reinterpret_cast<const uint8_t*>(a), 4}).ok());  // wrong size
  REQUIRE((*w)->Append({reinterpret_cast<const uint8_t*>(a), 8}).ok());
  CHECK(!(*w)->Finish().ok());  // b missing
  CHECK(!std::filesystem::exists(path));
  auto w2 = SafetensorsWriter::Create(path, {{"a", DType::kF32, {2}}, {"b", DType::kBF16, {3}}});
  REQUIRE((*w2)->Append({reinterpret_cast<const uint8_t*>(a), 8}).ok());
  REQUIRE((*w2)->Append({reinterpret_cast<const uint8_t*>(b), 6}).ok());
  REQUIRE((*w2)->Finish().ok());
  auto f = SafetensorsFile::Open(path);
  REQUIRE(f.ok());
  CHECK(f->tensors().size() == 2);
  CHECK(f->tensors()[1].shape == std::vector<int64_t>{3});
  {  // an abandoned writer leaves nothing behind
    auto w3 = SafetensorsWriter::Create((dir / "x.safetensors").string(), {{"a", DType::kF32, {2}}});
    REQUIRE(w3.ok());
  }
  CHECK(!std::filesystem::exists(dir / "x.safetensors.tmp"));
}

TEST_CASE("the streaming writer takes a tensor in parts and predicts its file size") {
  test::TempDir dir;
  const auto path = (dir / "p.safetensors").string();
  const std::vector<SafetensorsWriter::Spec> specs = {{"a", DType::kF32, {3}}, {"b", DType::kBF16, {2}}};
  const std::map<std::string, std::string> meta = {{"format", "pt"}};
  auto w = SafetensorsWriter::Create(path, specs, meta);
  REQUIRE(w.ok());
  const float a[3] = {1, 2, 3};
  const uint16_t b[2] = {0x3f80, 0x4000};
  const auto* ab = reinterpret_cast<const uint8_t*>(a);
  REQUIRE((*w)->AppendPart({ab, 4}).ok());
  CHECK(!(*w)->Append({reinterpret_cast<const uint8_t*>(b), 4}).ok());   // 'a' is half written
  CHECK(!(*w)->AppendPart({ab + 4, 12}).ok());                             // runs past 'a'
  REQUIRE((*w)->AppendPart({ab + 4, 8}).ok());
  REQUIRE((*w)->AppendPart({reinterpret_cast<const uint8_t*>(b), 2}).ok());
  REQUIRE((*w)->AppendPart({reinterpret_cast<const uint8_t*>(b) + 2, 2}).ok());
  CHECK(!(*w)->AppendPart({ab, 1}).ok());  // nothing left to write
  REQUIRE((*w)->Finish().ok());
  CHECK(std::filesystem::file_size(path) == SafetensorsWriter::FileBytes(specs, meta));
  auto f = SafetensorsFile::Open(path);
  REQUIRE(f.ok());
  REQUIRE(f->tensors().size() == 2);
  float got[3];
  std::memcpy(got, f->tensors()[0].bytes.data(), 12);
  CHECK(got[2] == 3.0f);
  CHECK(f->metadata().at("format") == "pt");
}

}  // namespace
}  // namespace glmv
