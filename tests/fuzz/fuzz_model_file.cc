// libFuzzer target: the .glmv model file reader (io/model_file.h) on arbitrary bytes, through an in-memory
// file (the reader maps its input). An error status is the normal outcome; a crash, a sanitizer report, a leak,
// a hang, or a tensor or unit view outside the data section is a bug: the reader promises to check every
// offset before a byte is touched.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/model_file.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

bool Inside(std::span<const uint8_t> part, std::span<const uint8_t> whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// Two small valid files: tensors of several dtypes with a unit (an expert's three matrices), and one with
// metadata only.
glmv::Status WriteSeeds(const std::string& dir) {
  using Spec = glmv::ModelFileWriter::Spec;
  const std::vector<Spec> specs = {
      {"embed", glmv::DType::kF32, {4, 8}, 4 * 8 * 4, -1},
      {"norm", glmv::DType::kBF16, {8}, 8 * 2, -1},
      {"experts.0.gate", glmv::DType::kF16, {8, 4}, 8 * 4 * 2, 0},
      {"experts.0.up", glmv::DType::kF16, {8, 4}, 8 * 4 * 2, 0},
      {"experts.0.down", glmv::DType::kF16, {4, 8}, 4 * 8 * 2, 0},
  };
  const std::map<std::string, std::string> metadata = {{"config.json", "{\"model_type\": \"glm4v_moe\"}"},
                                                       {"recipe", "f32"}};
  GLMV_ASSIGN_OR_RETURN(auto writer, glmv::ModelFileWriter::Create(dir + "/units.glmv", metadata, specs,
                                                                   {"experts.0"}));
  for (const Spec& s : specs) GLMV_RETURN_IF_ERROR(writer->Append(glmv::fuzz::SeedBytes(s.bytes)));
  GLMV_RETURN_IF_ERROR(writer->Finish());
  GLMV_ASSIGN_OR_RETURN(auto empty, glmv::ModelFileWriter::Create(dir + "/metadata-only.glmv", metadata, {}, {}));
  return empty->Finish();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  glmv::fuzz::WriteSeedsIfAsked(WriteSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static glmv::fuzz::MemoryFile file("fuzz-model-file");
  file.Assign(data, size);
  auto model = glmv::ModelFile::Open(file.path());
  if (!model.ok()) return 0;
  const std::span<const uint8_t> section = model->data();
  if (section.size() > size) glmv::fuzz::InvariantBroken("model file: data section larger than the file");
  for (const glmv::TensorView& t : model->tensors()) {
    if (!Inside(t.bytes, section)) glmv::fuzz::InvariantBroken("model file: tensor outside the data section");
    if (model->Find(t.name) == nullptr) glmv::fuzz::InvariantBroken("model file: a listed tensor is not found");
  }
  for (const glmv::UnitView& u : model->units()) {
    if (!Inside(u.bytes, section)) glmv::fuzz::InvariantBroken("model file: unit outside the data section");
    if (u.first_tensor + u.tensor_count > model->tensors().size()) {
      glmv::fuzz::InvariantBroken("model file: unit names tensors that do not exist");
    }
  }
  return 0;
}
