// The .glmv model file: the writer's layout (64-byte tensors, page-aligned units whose pages hold nothing
// else) read back byte for byte, and every damaged, truncated or hostile file an error naming the file and
// the problem, never a crash or a read outside the mapping (these also run under ASan/UBSan).
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <string>

#include "io/model_file.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using test::TempDir;
using Spec = ModelFileWriter::Spec;

// Deterministic bytes, different per seed.
std::vector<uint8_t> Pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(x >> 24);
  }
  return v;
}

// A model with every dtype, two units of three tensors and tensors before, between and after them.
struct Sample {
  std::map<std::string, std::string> metadata = {{"config", R"({"hidden_size": 64})"}, {"tokenizer", "abcdefgh"}};
  std::vector<Spec> specs = {
      {"embed", DType::kF32, {3, 5}, 60},           // 0
      {"norm", DType::kBF16, {7}, 14},              // 1
      {"e0.gate", DType::kQ4G32, {16, 32}, 320},    // 2 unit 0
      {"e0.up", DType::kQ8G32, {16, 32}, 576},      // 3 unit 0
      {"e0.down", DType::kF16, {32, 16}, 1024},     // 4 unit 0
      {"e1.gate", DType::kQ4G32, {16, 32}, 320},    // 5 unit 1, right after unit 0
      {"e1.up", DType::kI8, {16, 32}, 512},         // 6 unit 1
      {"e1.down", DType::kU8, {32, 16}, 512},       // 7 unit 1
      {"head", DType::kI32, {10}, 40},              // 8, after a unit: a new page
      {"mask", DType::kBool, {3}, 3},               // 9
      {"scalar", DType::kF64, {}, 8},               // 10, zero dimensions
      {"empty", DType::kF32, {0, 4}, 0},            // 11, no bytes
      {"ids", DType::kI64, {2, 1, 1, 2}, 32},       // 12, four dimensions
      {"small", DType::kI16, {5}, 10},              // 13
  };
  std::vector<std::string> units = {"experts.0", "experts.1"};
  Sample() {
    for (int i = 2; i < 8; ++i) specs[i].unit = i < 5 ? 0 : 1;
  }
};

Status Write(const std::string& path, const Sample& s) {
  auto w = ModelFileWriter::Create(path, s.metadata, s.specs, s.units);
  if (!w.ok()) return w.status();
  for (size_t i = 0; i < s.specs.size(); ++i) GLMV_RETURN_IF_ERROR((*w)->Append(Pattern(s.specs[i].bytes, i)));
  const uint64_t predicted = (*w)->file_bytes();
  GLMV_RETURN_IF_ERROR((*w)->Finish());
  CHECK(std::filesystem::file_size(path) == predicted);
  return Status::Ok();
}

std::vector<uint8_t> SampleBytes() {
  TempDir dir;
  REQUIRE(Write((dir / "s.glmv").string(), Sample()).ok());
  return test::ReadBytes(dir / "s.glmv");
}

template <typename T>
T Get(const std::vector<uint8_t>& b, uint64_t offset) {
  T v;
  std::memcpy(&v, b.data() + offset, sizeof v);
  return v;
}
template <typename T>
void Put(std::vector<uint8_t>& b, uint64_t offset, const T& v) {
  std::memcpy(b.data() + offset, &v, sizeof v);
}
FileHeader Header(const std::vector<uint8_t>& b) { return Get<FileHeader>(b, 0); }
uint64_t TensorAt(const std::vector<uint8_t>& b, size_t i) { return Header(b).table_offset + i * sizeof(TensorEntry); }
uint64_t UnitAt(const std::vector<uint8_t>& b, size_t u) { return Header(b).unit_offset + u * sizeof(UnitEntry); }

// Reads every byte the file hands out, after checking each view lies in the data section: under ASan and
// on a short mapping a bad view would fault here.
uint64_t TouchAll(const ModelFile& f) {
  const auto data = f.data();
  uint64_t sum = 0;
  auto inside = [&](std::span<const uint8_t> s) {
    return s.empty() || (s.data() >= data.data() && s.data() + s.size() <= data.data() + data.size());
  };
  for (const auto& t : f.tensors()) {
    REQUIRE(inside(t.bytes));
    for (uint8_t b : t.bytes) sum += b;
  }
  for (const auto& u : f.units()) {
    REQUIRE(inside(u.bytes));
    for (uint8_t b : u.bytes) sum += b;
  }
  return sum;
}

// Opens `bytes` as a file and returns the error ("" when it opened, after touching every view).
std::string OpenError(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  // A fresh inode each time: truncating a just-written file makes ext4 flush it (auto_da_alloc), 50× slower.
  std::filesystem::remove(path);
  test::WriteBytes(path, bytes);
  auto f = ModelFile::Open(path.string());
  if (f.ok()) {
    TouchAll(*f);
    return "";
  }
  const std::string msg = f.status().message();
  CHECK_MESSAGE(msg.find(path.string()) != std::string::npos, "message names the file: " << msg);
  return msg;
}
std::string OpenError(const std::vector<uint8_t>& bytes) {
  TempDir dir;
  return OpenError(dir / "m.glmv", bytes);
}
bool Has(const std::string& msg, const std::string& part) {
  const bool found = msg.find(part) != std::string::npos;
  if (!found) MESSAGE("'" << part << "' not in: " << msg);
  return found;
}

TEST_CASE("dtype codes are fixed and round-trip") {
  const std::pair<DType, uint32_t> codes[] = {
      {DType::kF32, 1}, {DType::kF16, 2}, {DType::kBF16, 3}, {DType::kF64, 4},    {DType::kI64, 5},
      {DType::kI32, 6}, {DType::kI16, 7}, {DType::kI8, 8},   {DType::kU8, 9},     {DType::kBool, 10},
      {DType::kQ4G32, 32}, {DType::kQ8G32, 33}, {DType::kQ4NLG32, 34}};
  for (const auto& [t, code] : codes) {
    CHECK(ModelFileDTypeCode(t) == code);
    CHECK(DTypeFromModelFileCode(code) == t);
  }
  for (uint32_t bad : {0u, 11u, 31u, 35u, 0xFFFFFFFFu}) CHECK(!DTypeFromModelFileCode(bad).has_value());
}

TEST_CASE("a written model reads back: metadata, tensors, units and the promised alignment") {
  TempDir dir;
  const Sample s;
  const std::string path = (dir / "m.glmv").string();
  REQUIRE(Write(path, s).ok());
  CHECK(!std::filesystem::exists(path + ".partial"));
  auto opened = ModelFile::Open(path);
  REQUIRE_MESSAGE(opened.ok(), opened.status().message());
  const ModelFile f = std::move(*opened);  // views and their file pointers survive a move
  CHECK(f.metadata() == s.metadata);
  CHECK(f.header().version == kModelFileVersion);
  CHECK(f.header().file_bytes % kModelFileDataAlign == 0);
  CHECK(f.header().data_offset + f.header().data_bytes == std::filesystem::file_size(path));
  CHECK(reinterpret_cast<uintptr_t>(f.data().data()) % kModelFileDataAlign == 0);
  REQUIRE(f.tensors().size() == s.specs.size());
  for (size_t i = 0; i < s.specs.size(); ++i) {
    const TensorView& t = f.tensors()[i];
    CAPTURE(t.name);
    CHECK(t.name == s.specs[i].name);
    CHECK(t.dtype == s.specs[i].dtype);
    CHECK(t.shape == s.specs[i].shape);
    CHECK(*t.file == path);
    CHECK(f.Find(t.name) == &t);
    const auto want = Pattern(s.specs[i].bytes, i);
    CHECK(std::vector<uint8_t>(t.bytes.begin(), t.bytes.end()) == want);
    CHECK(static_cast<uint64_t>(t.bytes.data() - f.data().data()) % kModelFileTensorAlign == 0);
    CHECK(f.tensor_units()[i] == (s.specs[i].unit < 0 ? kModelFileNoUnit : static_cast<uint32_t>(s.specs[i].unit)));
  }
  CHECK(f.Find("nope") == nullptr);
  // The tensor after a unit starts a page of its own.
  CHECK(reinterpret_cast<uintptr_t>(f.Find("head")->bytes.data()) % kModelFileDataAlign == 0);
  REQUIRE(f.units().size() == 2);
  for (size_t u = 0; u < 2; ++u) {
    const UnitView& unit = f.units()[u];
    CAPTURE(unit.name);
    CHECK(unit.name == s.units[u]);
    CHECK(unit.first_tensor == 2 + 3 * u);
    CHECK(unit.tensor_count == 3);
    CHECK(reinterpret_cast<uintptr_t>(unit.bytes.data()) % kModelFileDataAlign == 0);
    // Contiguous: first tensor at the start, each next at the following 64-byte boundary, last at the end.
    const auto& ts = f.tensors();
    CHECK(ts[unit.first_tensor].bytes.data() == unit.bytes.data());
    for (size_t i = unit.first_tensor + 1; i < unit.first_tensor + 3; ++i) {
      const uintptr_t prev_end = reinterpret_cast<uintptr_t>(ts[i - 1].bytes.data() + ts[i - 1].bytes.size());
      CHECK(reinterpret_cast<uintptr_t>(ts[i].bytes.data()) == (prev_end + 63) / 64 * 64);
    }
    const auto& last = ts[unit.first_tensor + 2];
    CHECK(last.bytes.data() + last.bytes.size() == unit.bytes.data() + unit.bytes.size());
    // Its pages hold nothing else.
    const uint8_t* page_end = unit.bytes.data() + (unit.bytes.size() + 4095) / 4096 * 4096;
    for (size_t i = 0; i < ts.size(); ++i) {
      if (f.tensor_units()[i] == u || ts[i].bytes.empty()) continue;
      CHECK((ts[i].bytes.data() >= page_end || ts[i].bytes.data() + ts[i].bytes.size() <= unit.bytes.data()));
    }
  }
  CHECK(f.units()[1].bytes.data() >= f.units()[0].bytes.data() + 4096);
}

TEST_CASE("empty, tiny and foreign files are clear errors") {
  CHECK(Has(OpenError({}), "empty file (0 bytes)"));
  CHECK(Has(OpenError({'G', 'L', 'M'}), "truncated: 3 bytes"));
  CHECK(Has(OpenError({'P', 'K', 3, 4}), "not a glmv model file"));
  std::vector<uint8_t> short_header(100, 0);
  std::memcpy(short_header.data(), kModelFileMagic, 8);
  CHECK(Has(OpenError(short_header), "truncated: 100 bytes, shorter than the 128-byte header"));
  auto sample = SampleBytes();
  sample[0] = 'X';
  CHECK(Has(OpenError(sample), "not a glmv model file"));
  TempDir dir;
  CHECK(!ModelFile::Open(dir.path().string()).ok());
  CHECK(Has(ModelFile::Open((dir / "missing.glmv").string()).status().message(), "cannot open"));
}

TEST_CASE("a file cut at any point is an error, never a crash") {
  const auto whole = SampleBytes();
  TempDir dir;
  const auto path = dir / "cut.glmv";
  CHECK(OpenError(path, whole).empty());
  const uint64_t data_offset = Header(whole).data_offset;
  std::vector<uint64_t> cuts;
  for (uint64_t n = 0; n <= data_offset; ++n) cuts.push_back(n);  // all of header, metadata, tables, names
  for (uint64_t n = data_offset + 1; n < whole.size(); n += 61) cuts.push_back(n);
  for (uint64_t n = whole.size() - 8; n < whole.size(); ++n) cuts.push_back(n);
  for (uint64_t n : cuts) {
    CAPTURE(n);
    const std::string msg = OpenError(path, std::vector<uint8_t>(whole.begin(), whole.begin() + n));
    if (n == 0) {
      CHECK(Has(msg, "empty file"));
    } else if (n >= sizeof(FileHeader)) {
      CHECK(Has(msg, "truncated: header says " + std::to_string(whole.size()) + " bytes, file has " +
                         std::to_string(n)));
    } else {
      CHECK(Has(msg, "truncated"));
    }
  }
  auto longer = whole;
  longer.resize(whole.size() + 10);
  CHECK(Has(OpenError(path, longer), "trailing data"));
}

TEST_CASE("flipped bytes in the header, tables and names are errors or valid files, never a crash") {
  const auto whole = SampleBytes();
  const FileHeader h = Header(whole);
  TempDir dir;
  const auto path = dir / "flip.glmv";
  size_t errors = 0, valid = 0;
  auto mutate = [&](uint64_t at) {
    for (int kind = 0; kind < 4; ++kind) {
      auto bytes = whole;
      uint8_t& b = bytes[at];
      b = kind == 0 ? b ^ 0x01 : kind == 1 ? b ^ 0x80 : kind == 2 ? 0xFF : 0x00;
      if (bytes == whole) continue;
      CAPTURE(at);
      CAPTURE(kind);
      (OpenError(path, bytes).empty() ? valid : errors)++;
    }
  };
  for (uint64_t at = 0; at < sizeof(FileHeader); ++at) mutate(at);
  // Metadata, tensor and unit tables and names are all of [header end, data_offset): every byte.
  for (uint64_t at = sizeof(FileHeader); at < h.data_offset; at += 1) mutate(at);
  MESSAGE(errors << " damaged variants refused, " << valid << " still valid");
  CHECK(errors > 0);
  // A changed tensor byte (data is not checksummed) is a valid file.
  auto data_flip = whole;
  data_flip[h.data_offset] ^= 0xFF;
  CHECK(OpenError(path, data_flip).empty());
}

TEST_CASE("hostile header values") {
  const auto good = SampleBytes();
  const FileHeader h = Header(good);
  constexpr uint64_t kMax = UINT64_MAX;
  auto with = [&](auto edit) {
    auto b = good;
    FileHeader x = Header(b);
    edit(x);
    Put(b, 0, x);
    return OpenError(b);
  };
  CHECK(Has(with([](FileHeader& x) { x.version = 2; }),
            "made by a newer glmv (version 2); this build reads version 1"));
  CHECK(Has(with([](FileHeader& x) { x.version = 0; }), "unknown format version 0"));
  CHECK(Has(with([](FileHeader& x) { x.header_bytes = 64; }), "header_bytes is 64"));
  CHECK(Has(with([](FileHeader& x) { x.file_bytes += 4096; }), "truncated: header says"));
  CHECK(Has(with([](FileHeader& x) { x.file_bytes = kMax; }), "truncated: header says"));
  CHECK(Has(with([](FileHeader& x) { x.file_bytes -= 1; }), "trailing data"));
  CHECK(Has(with([](FileHeader& x) { x.reserved[23] = 1; }), "reserved"));
  CHECK(Has(with([](FileHeader& x) { x.tensor_count = kMax; }), "tensor_count"));
  CHECK(Has(with([](FileHeader& x) { x.tensor_count = 1u << 20; }), "tensor_count"));
  CHECK(Has(with([](FileHeader& x) { x.unit_count = kMax; }), "unit_count"));
  CHECK(Has(with([](FileHeader& x) { x.unit_count = kModelFileNoUnit; }), "unit_count"));
  CHECK(Has(with([](FileHeader& x) { x.metadata_offset = kMax; }), "metadata section at byte"));
  CHECK(Has(with([](FileHeader& x) { x.metadata_bytes = kMax - 100; }), "runs past the end"));
  CHECK(Has(with([](FileHeader& x) { x.names_bytes = kMax; }), "names section"));
  CHECK(Has(with([](FileHeader& x) { x.data_offset = kMax - 4095; }), "data section"));
  CHECK(Has(with([&](FileHeader& x) { x.names_offset = h.table_offset; }), "overlap"));
  CHECK(Has(with([](FileHeader& x) { x.metadata_offset = 0; }), "the header and metadata sections overlap"));
  CHECK(Has(with([](FileHeader& x) { x.table_offset += 8; }), "the tensor table and unit table sections overlap"));
  CHECK(Has(with([](FileHeader& x) { x.table_offset -= 4; }), "8-byte aligned"));
  CHECK(Has(with([](FileHeader& x) { x.data_bytes -= 4096; }), "does not end the file"));
  CHECK(Has(with([](FileHeader& x) { x.data_offset += 64, x.data_bytes -= 64; }), "4096-byte aligned"));
  CHECK(Has(with([](FileHeader& x) { x.tensor_count += 1; }), "the tensor table and unit table sections overlap"));
}

TEST_CASE("hostile metadata") {
  const auto good = SampleBytes();
  const FileHeader h = Header(good);
  auto with = [&](std::string text) {
    REQUIRE(text.size() <= h.metadata_bytes);
    text.resize(h.metadata_bytes, ' ');  // JSON allows trailing whitespace: same size, other content
    auto b = good;
    std::memcpy(b.data() + h.metadata_offset, text.data(), text.size());
    return OpenError(b);
  };
  CHECK(with("{}").empty());
  CHECK(with(R"({"a": "b"})").empty());
  CHECK(Has(with(R"({"a": 12})"), "metadata value of 'a' is not a string"));
  CHECK(Has(with(R"({"a": {"b": "c"}})"), "is not a string"));
  CHECK(Has(with(R"({"a": null})"), "is not a string"));
  CHECK(Has(with(R"(["a", "b"])"), "not a JSON object"));
  CHECK(Has(with(R"("text")"), "not a JSON object"));
  CHECK(Has(with(R"({"a": "b)"), "not valid JSON"));
  CHECK(Has(with("{\"a\": \"\xff\xfe\"}"), "not valid JSON"));
  CHECK(Has(with(std::string(40, '[')), "not valid JSON"));
  // Deep nesting must not exhaust the stack (nlohmann parses and destroys iteratively).
  Sample big;
  big.metadata = {{"big", std::string(200000, 'x')}};
  TempDir dir;
  REQUIRE(Write((dir / "big.glmv").string(), big).ok());
  auto deep = test::ReadBytes(dir / "big.glmv");
  const FileHeader dh = Header(deep);
  const std::string nested = std::string(90000, '[') + std::string(90000, ']');
  std::memcpy(deep.data() + dh.metadata_offset, nested.data(), nested.size());
  std::memset(deep.data() + dh.metadata_offset + nested.size(), ' ', dh.metadata_bytes - nested.size());
  CHECK(Has(OpenError(deep), "not a JSON object"));
  const std::string in_value = "{\"a\":" + std::string(90000, '{');
  std::memcpy(deep.data() + dh.metadata_offset, in_value.data(), in_value.size());
  CHECK(Has(OpenError(deep), "not valid JSON"));

  auto empty = good;
  FileHeader x = h;
  x.metadata_bytes = 0;
  Put(empty, 0, x);
  CHECK(Has(OpenError(empty), "not valid JSON"));
}

TEST_CASE("hostile tensor entries") {
  const auto good = SampleBytes();
  constexpr uint64_t kMax = UINT64_MAX;
  auto with = [&](size_t i, auto edit) {
    auto b = good;
    TensorEntry e = Get<TensorEntry>(b, TensorAt(b, i));
    edit(e);
    Put(b, TensorAt(b, i), e);
    return OpenError(b);
  };
  const auto t0 = Get<TensorEntry>(good, TensorAt(good, 0));
  CHECK(Has(with(0, [](TensorEntry& e) { e.offset = kMax; }), "tensor 0 'embed': offset 18446744073709551615 is not"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.offset = kMax - 63; }), "tensor 0 'embed' ends at byte"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.offset = 1 << 30; }),
            "tensor 0 'embed' ends at byte 1073741884 but the data section has 16384 bytes"));
  CHECK(Has(with(1, [](TensorEntry& e) { e.offset += 8; }), "not a multiple of 64"));
  CHECK(Has(with(2, [](TensorEntry& e) { e.bytes = kMax - 63; }), "tensor 2 'e0.gate' at byte 4096 with"));
  CHECK(Has(with(2, [](TensorEntry& e) { e.bytes = kMax - 63; }), "bytes runs past 2^64"));
  CHECK(Has(with(2, [](TensorEntry& e) { e.bytes = 0; }), "needs a [rows, cols] shape and bytes > 0"));
  CHECK(Has(with(2, [](TensorEntry& e) { e.ndim = 3, e.shape[2] = 1; }), "needs a [rows, cols]"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.bytes = kMax; }), "bytes but F32 [3, 5] needs"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.ndim = 9; }), "9 dimensions, at most 6"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.dtype = 99; }), "unknown dtype code 99"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.dtype = 0; }), "unknown dtype code 0"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.shape[1] = -5; }), "negative or overflows"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.shape[0] = e.shape[1] = int64_t{1} << 40; }), "overflows"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.ndim = 4, e.shape[2] = e.shape[3] = INT64_MAX; }), "overflows"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.shape[3] = 7; }), "unused dimension 3 is 7"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.name_offset = kMax; }), "outside the names section"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.name_bytes = 0xFFFFFFFF; }), "outside the names section"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.name_bytes = 0; }), "tensor 0: name is empty"));
  CHECK(Has(with(1, [&](TensorEntry& e) { e.name_offset = t0.name_offset, e.name_bytes = t0.name_bytes; }),
            "tensor 1 'embed': a second tensor of that name"));
  CHECK(Has(with(1, [&](TensorEntry& e) { e.offset = t0.offset; }), "tensors 0 'embed' and 1 'norm' overlap"));
  CHECK(Has(with(9, [&](TensorEntry& e) { e.offset = t0.offset + 64; }), "overlap"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.unit = 77; }), "unit 77 but the file has 2 units"));
  CHECK(Has(with(0, [](TensorEntry& e) { e.unit = 0; }), "tensor 0 'embed' says unit 0 but the unit table gives none"));
  CHECK(Has(with(3, [](TensorEntry& e) { e.unit = kModelFileNoUnit; }), "says unit none but the unit table gives 0"));
  CHECK(Has(with(3, [](TensorEntry& e) { e.unit = 1; }), "says unit 1 but the unit table gives 0"));
  // An empty tensor may sit anywhere in the data section, even inside a unit's pages.
  const auto u0 = Get<UnitEntry>(good, UnitAt(good, 0));
  CHECK(with(11, [&](TensorEntry& e) { e.offset = u0.offset + 64; }).empty());
  // A non-unit tensor moved into the padding of a unit's last page.
  const uint64_t in_padding = (u0.offset + u0.bytes + 63) / 64 * 64;
  CHECK(Has(with(8, [&](TensorEntry& e) { e.offset = in_padding; }),
            "tensor 8 'head' lies in the pages of unit 'experts.0'"));
  // A unit tensor moved into the other unit's pages.
  const auto u1 = Get<UnitEntry>(good, UnitAt(good, 1));
  CHECK(Has(with(4, [&](TensorEntry& e) { e.offset = (u1.offset + u1.bytes + 63) / 64 * 64; }),
            "tensor 4 'e0.down' at ["));
}

TEST_CASE("hostile unit entries") {
  const auto good = SampleBytes();
  constexpr uint64_t kMax = UINT64_MAX;
  auto with = [&](size_t u, auto edit) {
    auto b = good;
    UnitEntry e = Get<UnitEntry>(b, UnitAt(b, u));
    edit(e);
    Put(b, UnitAt(b, u), e);
    return OpenError(b);
  };
  const auto u0 = Get<UnitEntry>(good, UnitAt(good, 0));
  CHECK(Has(with(0, [](UnitEntry& e) { e.offset += 64; }), "unit 0 'experts.0': offset"));
  CHECK(Has(with(0, [](UnitEntry& e) { e.offset = kMax - 4095; }), "unit 0 'experts.0' ends at byte"));
  CHECK(Has(with(0, [](UnitEntry& e) { e.bytes = kMax; }), "unit 0 'experts.0' at byte 4096 with"));
  CHECK(Has(with(0, [](UnitEntry& e) { e.bytes = 64; }),  // listed, but outside its range
            "tensor 2 'e0.gate' at [4096, 4416) lies outside its unit 0 'experts.0' at [4096, 4160)"));
  CHECK(Has(with(0, [](UnitEntry& e) { e.bytes = 0; }), "lies outside its unit 0"));
  CHECK(Has(with(0, [](UnitEntry& e) { e.tensor_count = 0; }), "are not inside"));
  CHECK(Has(with(0, [](UnitEntry& e) { e.tensor_count = 0xFFFFFFFF; }), "are not inside the 14 tensors"));
  CHECK(Has(with(0, [](UnitEntry& e) { e.first_tensor = 0xFFFFFFFF; }), "are not inside"));
  CHECK(Has(with(0, [](UnitEntry& e) { e.first_tensor = 1; }), "lies outside its unit"));
  CHECK(Has(with(0, [](UnitEntry& e) { e.tensor_count = 2; }), "says unit 0 but the unit table gives none"));
  CHECK(Has(with(1, [&](UnitEntry& e) { e.first_tensor = u0.first_tensor; }), "is listed by units 0 and 1"));
  CHECK(Has(with(1, [&](UnitEntry& e) { e.offset = u0.offset; }), "lies outside its unit 1"));
  CHECK(Has(with(0, [](UnitEntry& e) { e.reserved = 1; }), "reserved field is not zero"));
  CHECK(Has(with(0, [](UnitEntry& e) { e.name_bytes = 0; }), "unit 0: name is empty"));
  CHECK(Has(with(0, [](UnitEntry& e) { e.name_offset = kMax - 2; }), "outside the names section"));
  CHECK(Has(with(1, [&](UnitEntry& e) { e.name_offset = u0.name_offset, e.name_bytes = u0.name_bytes; }),
            "a second unit of that name"));
  // Unit 0 stretched over unit 1's pages.
  const auto u1 = Get<UnitEntry>(good, UnitAt(good, 1));
  CHECK(Has(with(0, [&](UnitEntry& e) { e.bytes = u1.offset + 64 - u0.offset; }), "share pages"));
}

TEST_CASE("the writer lays out units on their own pages and writes a file with no tensors") {
  TempDir dir;
  // unit, unit, plain: each starts a page; a plain tensor before a unit only needs 64-byte alignment.
  const std::vector<Spec> specs = {{"a", DType::kU8, {1}, 1},        {"b", DType::kU8, {5}, 5, 0},
                                   {"c", DType::kU8, {4097}, 4097, 1}, {"d", DType::kU8, {2}, 2},
                                   {"e", DType::kU8, {2}, 2}};
  const auto path = (dir / "l.glmv").string();
  auto w = ModelFileWriter::Create(path, {}, specs, {"u0", "u1"});
  REQUIRE(w.ok());
  for (size_t i = 0; i < specs.size(); ++i) REQUIRE((*w)->Append(Pattern(specs[i].bytes, i)).ok());
  REQUIRE((*w)->Finish().ok());
  CHECK((*w)->data_bytes_written() == 5 * 4096);
  auto f = ModelFile::Open(path);
  REQUIRE(f.ok());
  const uint8_t* data = f->data().data();
  CHECK(f->tensors()[1].bytes.data() - data == 4096);
  CHECK(f->tensors()[2].bytes.data() - data == 2 * 4096);
  CHECK(f->tensors()[3].bytes.data() - data == 4 * 4096);  // the 4097 bytes of 'c' take two pages
  CHECK(f->tensors()[4].bytes.data() - data == 4 * 4096 + 64);
  CHECK(f->data().size() == 5 * 4096);

  const auto empty_path = (dir / "empty.glmv").string();
  auto e = ModelFileWriter::Create(empty_path, {{"k", "v"}}, {}, {});
  REQUIRE(e.ok());
  REQUIRE((*e)->Finish().ok());
  auto ef = ModelFile::Open(empty_path);
  REQUIRE_MESSAGE(ef.ok(), ef.status().message());
  CHECK(ef->tensors().empty());
  CHECK(ef->metadata().at("k") == "v");
  CHECK(ef->data().empty());
}

TEST_CASE("the writer refuses bad specs and leaves no file") {
  TempDir dir;
  const auto path = (dir / "bad.glmv").string();
  auto error = [&](const std::vector<Spec>& specs, const std::vector<std::string>& units,
                   const std::map<std::string, std::string>& meta = {}) {
    auto w = ModelFileWriter::Create(path, meta, specs, units);
    CHECK(!std::filesystem::exists(path));
    CHECK(!std::filesystem::exists(path + ".partial"));
    return w.ok() ? std::string() : w.status().message();
  };
  CHECK(Has(error({{"a", DType::kF32, {2}, 8}, {"a", DType::kF32, {2}, 8}}, {}), "a second tensor of that name"));
  CHECK(Has(error({{"", DType::kF32, {2}, 8}}, {}), "name is empty"));
  CHECK(Has(error({{std::string("a\0b", 3), DType::kF32, {2}, 8}}, {}), "NUL"));
  CHECK(Has(error({{"a", DType::kF32, {2}, 7}}, {}), "spec says 7 bytes but F32 [2] needs 2 × 4"));
  CHECK(Has(error({{"a", DType::kF32, {-2}, 8}}, {}), "a negative one"));
  CHECK(Has(error({{"a", DType::kF32, {1, 1, 1, 1, 1, 1, 1}, 4}}, {}), "more than 6"));
  CHECK(Has(error({{"a", DType::kF32, {int64_t{1} << 62, 4}, 0}}, {}), "too many elements"));
  CHECK(Has(error({{"a", DType::kQ4G32, {16, 32, 1}, 320}}, {}), "needs a [rows, cols] shape"));
  CHECK(Has(error({{"a", DType::kQ8G32, {16, 32}, 0}}, {}), "bytes > 0"));
  CHECK(Has(error({{"a", DType::kU8, {1}, 1, 0}, {"b", DType::kU8, {1}, 1}, {"c", DType::kU8, {1}, 1, 0}}, {"u"}),
            "tensor 2 'c': the tensors of unit 'u' are not consecutive"));
  CHECK(Has(error({{"a", DType::kU8, {1}, 1, 1}}, {"u"}), "unit 1 but there are 1 unit names"));
  CHECK(Has(error({{"a", DType::kU8, {1}, 1, -2}}, {"u"}), "unit -2"));
  CHECK(Has(error({{"a", DType::kU8, {1}, 1, 0}}, {"u", "v"}), "unit 1 'v': no tensor belongs to it"));
  CHECK(Has(error({{"a", DType::kU8, {1}, 1, 0}, {"b", DType::kU8, {1}, 1, 1}}, {"u", "u"}), "a second unit"));
  CHECK(Has(error({{"a", DType::kU8, {1}, 1, 0}}, {""}), "name is empty"));
  CHECK(Has(error({{"a", DType::kQ8G32, {1, 1}, UINT64_MAX - 10}, {"b", DType::kQ8G32, {1, 1}, 100}}, {}),
            "past 2^64"));
  CHECK(Has(error({}, {}, {{"k", "\xff\xfe"}}), "metadata cannot be written as JSON"));
}

TEST_CASE("the streaming writer: wrong sizes, interruption, and the old file kept until Finish") {
  TempDir dir;
  const Sample s;
  const auto path = (dir / "w.glmv").string();
  SUBCASE("Append checks the size and the count") {
    auto w = ModelFileWriter::Create(path, s.metadata, s.specs, s.units);
    REQUIRE(w.ok());
    CHECK(Has((*w)->Append(Pattern(59, 0)).message(), "tensor 0 'embed' got 59 bytes, its spec says 60"));
    CHECK(Has((*w)->Finish().message(), "14 of 14 tensors were never appended, the first is 'embed'"));
    for (size_t i = 0; i < s.specs.size(); ++i) REQUIRE((*w)->Append(Pattern(s.specs[i].bytes, i)).ok());
    CHECK(Has((*w)->Append(Pattern(1, 0)).message(), "all 14 tensors are already written"));
    REQUIRE((*w)->Finish().ok());
    CHECK(Has((*w)->Finish().message(), "finished"));
    CHECK(Has((*w)->Append(Pattern(1, 0)).message(), "finished"));
    auto f = ModelFile::Open(path);
    REQUIRE(f.ok());
    CHECK(std::vector<uint8_t>(f->tensors()[0].bytes.begin(), f->tensors()[0].bytes.end()) == Pattern(60, 0));
  }
  SUBCASE("a writer destroyed before Finish leaves neither the file nor the partial file") {
    {
      auto w = ModelFileWriter::Create(path, s.metadata, s.specs, s.units);
      REQUIRE(w.ok());
      CHECK((*w)->partial_path() == path + ".partial");
      for (size_t i = 0; i < 5; ++i) REQUIRE((*w)->Append(Pattern(s.specs[i].bytes, i)).ok());
      CHECK(std::filesystem::exists(path + ".partial"));
    }
    CHECK(!std::filesystem::exists(path));
    CHECK(!std::filesystem::exists(path + ".partial"));
  }
  SUBCASE("an existing file at the path is untouched until Finish") {
    const std::vector<uint8_t> old = {'o', 'l', 'd'};
    test::WriteBytes(path, old);
    {
      auto w = ModelFileWriter::Create(path, s.metadata, s.specs, s.units);
      REQUIRE(w.ok());
      for (size_t i = 0; i < 3; ++i) REQUIRE((*w)->Append(Pattern(s.specs[i].bytes, i)).ok());
    }
    CHECK(test::ReadBytes(path) == old);  // an abandoned conversion keeps the old model
    auto w = ModelFileWriter::Create(path, s.metadata, s.specs, s.units);
    REQUIRE(w.ok());
    for (size_t i = 0; i < s.specs.size(); ++i) REQUIRE((*w)->Append(Pattern(s.specs[i].bytes, i)).ok());
    CHECK(test::ReadBytes(path) == old);
    REQUIRE((*w)->Finish().ok());
    CHECK(ModelFile::Open(path).ok());
    CHECK(!std::filesystem::exists(path + ".partial"));
  }
  SUBCASE("an uncreatable partial file is an error with the reason") {
    auto w = ModelFileWriter::Create((dir / "no_such_dir" / "x.glmv").string(), {}, {}, {});
    REQUIRE(!w.ok());
    CHECK(Has(w.status().message(), "cannot create: No such file or directory"));
  }
}

// The process's file size limit stands in for a full disk: writes past it fail with EFBIG (SIGXFSZ ignored).
TEST_CASE("a write error (disk full) is a status with the system's reason and removes the partial file") {
  TempDir dir;
  const auto path = (dir / "full.glmv").string();
  rlimit old_limit{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old_limit;
  small.rlim_cur = 64 * 1024;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  const std::vector<Spec> specs = {{"big", DType::kU8, {1 << 20}, 1 << 20}};
  auto w = ModelFileWriter::Create(path, {}, specs, {});
  Status st = w.ok() ? (*w)->Append(std::vector<uint8_t>(1 << 20, 7)) : w.status();
  if (st.ok()) st = (*w)->Finish();
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  REQUIRE(!st.ok());
  CHECK(Has(st.message(), std::strerror(EFBIG)));
  CHECK(Has(st.message(), path + ".partial"));
  CHECK(!std::filesystem::exists(path + ".partial"));
  CHECK(!std::filesystem::exists(path));
}

}  // namespace
}  // namespace glmv
