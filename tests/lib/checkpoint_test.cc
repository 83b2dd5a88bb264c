// Loading model directories: single file, shards with an index, BF16/F16 widening, and every broken
// variant of the tiny golden model reported with the file, the tensor, what was expected and what was found.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>

#include "io/npy.h"
#include "lib/model/checkpoint.h"
#include "lib/text/text_model.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;
const fs::path kTiny = test::DataDir() / "tiny-glm4v-moe";

// Copies of the tiny model's tensors that a test may edit before writing them out.
struct EditableModel {
  struct Tensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Tensor> tensors;

  EditableModel() {
    auto f = SafetensorsFile::Open((kTiny / "model.safetensors").string());
    REQUIRE(f.ok());
    for (const auto& t : f->tensors()) tensors.push_back({t.name, t.dtype, t.shape, {t.bytes.begin(), t.bytes.end()}});
  }
  Tensor* Find(const std::string& name) {
    for (auto& t : tensors) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }
  void Erase(const std::string& name) {
    std::erase_if(tensors, [&](const Tensor& t) { return t.name == name; });
  }
  // Re-encodes every F32 tensor as BF16 (truncating rounding is enough here) or F16.
  void ConvertAll(DType to) {
    for (auto& t : tensors) {
      const size_t n = t.bytes.size() / 4;
      std::vector<uint8_t> out(n * 2);
      for (size_t i = 0; i < n; ++i) {
        float f;
        std::memcpy(&f, t.bytes.data() + 4 * i, 4);
        uint16_t h;
        if (to == DType::kBF16) {
          uint32_t u;
          std::memcpy(&u, &f, 4);
          h = static_cast<uint16_t>((u + 0x7fff + ((u >> 16) & 1)) >> 16);
        } else {
          h = FloatToHalf(f);
        }
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
      t.bytes = std::move(out);
      t.dtype = to;
    }
  }
  static uint16_t FloatToHalf(float f) {  // round-to-nearest for normal numbers; enough for weights ~N(0,1)
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint32_t sign = (u >> 16) & 0x8000u;
    const int exp = static_cast<int>((u >> 23) & 0xff) - 127 + 15;
    if (exp <= 0) return static_cast<uint16_t>(sign);
    const uint32_t mant = (u & 0x7fffffu) + 0x1000u;
    return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) + (mant >> 13));
  }
  // Writes config.json and the tensors, split into `shards` files (with an index when > 1).
  void Write(const fs::path& dir, int shards = 1) const {
    fs::copy_file(kTiny / "config.json", dir / "config.json", fs::copy_options::overwrite_existing);
    std::vector<std::vector<TensorToWrite>> parts(shards);
    std::string index = R"({"metadata": {}, "weight_map": {)";
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto& t = tensors[i];
      const int s = static_cast<int>(i % static_cast<size_t>(shards));
      parts[s].push_back({t.name, t.dtype, t.shape, {t.bytes.data(), t.bytes.size()}});
      index += (i ? "," : "") + ("\"" + t.name + "\": \"" + ShardName(s, shards) + "\"");
    }
    index += "}}";
    for (int s = 0; s < shards; ++s) REQUIRE(WriteSafetensors((dir / ShardName(s, shards)).string(), parts[s]).ok());
    if (shards > 1) test::WriteBytes(dir / "model.safetensors.index.json", {index.begin(), index.end()});
  }
  static std::string ShardName(int s, int shards) {
    if (shards == 1) return "model.safetensors";
    return "model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) + ".safetensors";
  }
};

std::string LoadError(const fs::path& dir) {
  auto m = TextModel::Load(dir.string());
  return m.ok() ? "" : m.status().message();
}

// Logits of case 1 for a model directory.
std::vector<float> Case1Logits(const fs::path& dir) {
  auto m = TextModel::Load(dir.string());
  REQUIRE_MESSAGE(m.ok(), m.status().message());
  auto ids = ReadNpy((kTiny / "case1_text__input_ids.npy").string());
  REQUIRE(ids.ok());
  const auto id = ids->ToInt64();
  std::vector<float> x(id.size() * static_cast<size_t>((*m)->config().hidden_size)), logits;
  REQUIRE((*m)->Embed(id, x.data()).ok());
  auto cache = (*m)->NewCache(id.size());
  REQUIRE(cache.ok());
  REQUIRE((*m)->Forward(x.data(), id.size(), MRopePositions::Text(0, id.size()), *cache, true, logits).ok());
  return logits;
}

TEST_CASE("the tiny model loads straight from the mapping (no copies for aligned f32)") {
  auto m = TextModel::Load(kTiny.string());
  REQUIRE_MESSAGE(m.ok(), m.status().message());
  MESSAGE("mapped " << (*m)->storage().mapped_bytes << " bytes, widened " << (*m)->storage().widened_bytes);
  CHECK((*m)->storage().mapped_bytes > 0);
  CHECK((*m)->storage().widened_bytes == 0);
}

TEST_CASE("sharded checkpoints with an index give the same logits as one file") {
  test::TempDir dir;
  EditableModel model;
  model.Write(dir.path(), 3);
  CHECK(!fs::exists(dir / "model.safetensors"));
  const double diff = test::MaxAbsDiff(Case1Logits(dir.path()), Case1Logits(kTiny));
  MESSAGE("sharded vs single-file logits differ by " << diff);
  CHECK(diff == 0.0);
}

TEST_CASE("BF16 and F16 checkpoints are widened to f32 and stay close to the f32 logits") {
  for (DType dt : {DType::kBF16, DType::kF16}) {
    test::TempDir dir;
    EditableModel model;
    model.ConvertAll(dt);
    model.Write(dir.path());
    const double diff = test::MaxAbsDiff(Case1Logits(dir.path()), Case1Logits(kTiny));
    MESSAGE(DTypeName(dt) << " logits differ from f32 by " << diff);
    CHECK(diff > 0.0);  // really converted
    CHECK(diff < (dt == DType::kBF16 ? 0.1 : 0.01));
  }
}

TEST_CASE("broken model directories name the file, the tensor, the expectation and the finding") {
  test::TempDir dir;
  const std::string file = (dir / "model.safetensors").string();
  SUBCASE("missing expert tensor") {
    EditableModel model;
    model.Erase("model.language_model.layers.2.mlp.experts.5.down_proj.weight");
    model.Write(dir.path());
    const auto msg = LoadError(dir.path());
    CHECK(msg.find("missing tensor 'model.language_model.layers.2.mlp.experts.5.down_proj.weight'") != std::string::npos);
    CHECK(msg.find("[64, 32]") != std::string::npos);
  }
  SUBCASE("wrong shape") {
    EditableModel model;
    auto* t = model.Find("model.language_model.embed_tokens.weight");
    t->shape = {150, 64};
    t->bytes.resize(t->bytes.size() / 2);
    model.Write(dir.path());
    const auto msg = LoadError(dir.path());
    CHECK(msg.find(file) != std::string::npos);
    CHECK(msg.find("has shape [150, 64], expected [300, 64]") != std::string::npos);
  }
  SUBCASE("non-float dtype") {
    EditableModel model;
    model.Find("model.language_model.norm.weight")->dtype = DType::kI32;
    model.Write(dir.path());
    CHECK(LoadError(dir.path()).find("'model.language_model.norm.weight' has dtype I32, expected F32, BF16 or F16") !=
          std::string::npos);
  }
  SUBCASE("truncated weights file") {
    EditableModel model;
    model.Write(dir.path());
    auto bytes = test::ReadBytes(file);
    bytes.resize(bytes.size() - 100);
    test::WriteBytes(file, bytes);
    const auto msg = LoadError(dir.path());
    CHECK(msg.find(file) != std::string::npos);
    CHECK(msg.find("out of range") != std::string::npos);
  }
  SUBCASE("index that points at the wrong shard") {
    EditableModel model;
    model.Write(dir.path(), 2);
    auto idx = test::ReadBytes(dir / "model.safetensors.index.json");
    std::string text(idx.begin(), idx.end());
    const std::string from = "\"model.language_model.norm.weight\": \"model-00001-of-00002.safetensors\"";
    const std::string to = "\"model.language_model.norm.weight\": \"model-00002-of-00002.safetensors\"";
    auto pos = text.find(from);
    if (pos == std::string::npos) {
      pos = text.find(to);
      REQUIRE(pos != std::string::npos);
      text.replace(pos, to.size(), from);
    } else {
      text.replace(pos, from.size(), to);
    }
    test::WriteBytes(dir / "model.safetensors.index.json", {text.begin(), text.end()});
    CHECK(LoadError(dir.path()).find("model.language_model.norm.weight") != std::string::npos);
  }
  SUBCASE("no weights, no config, not a directory") {
    fs::copy_file(kTiny / "config.json", dir / "config.json");
    CHECK(LoadError(dir.path()).find("no model.safetensors") != std::string::npos);
    fs::remove(dir / "config.json");
    CHECK(LoadError(dir.path()).find("config.json") != std::string::npos);
    CHECK(LoadError(dir / "nothing").find("not a model directory") != std::string::npos);
  }
}

}  // namespace
}  // namespace glmv
