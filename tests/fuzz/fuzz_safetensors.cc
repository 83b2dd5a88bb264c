// libFuzzer target: Hugging Face model files. Each input is a safetensors file (header length, JSON header,
// data), read by io/safetensors.h and then loaded as a model directory's weights by lib/checkpoint.h next to a
// fixed, valid config.json. An error status is the normal outcome; a crash, a sanitizer report, a leak, a hang,
// or a tensor whose bytes are not inside the file or not of its shape's size is a bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "io/safetensors.h"
#include "lib/model/checkpoint.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace fs = std::filesystem;

// A model directory under /dev/shm (memory) whose model.safetensors links to the in-memory file, made once.
struct ModelDir {
  glmv::fuzz::MemoryFile file{"fuzz-safetensors"};
  fs::path dir;
  ModelDir() {
    dir = fs::temp_directory_path() / ("glmv-fuzz-safetensors-" + std::to_string(getpid()));
    if (fs::exists("/dev/shm")) dir = fs::path("/dev/shm") / dir.filename();
    fs::create_directories(dir);
    // The tiny test model's config (tests/data/tiny-glm4v-moe): valid, so every run reaches the weights.
    fs::copy_file(fs::path(GLMV_TEST_DATA) / "tiny-glm4v-moe" / "config.json", dir / "config.json",
                  fs::copy_options::overwrite_existing);
    fs::create_symlink(file.path(), dir / "model.safetensors");
  }
  ~ModelDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

void CheckTensors(const glmv::SafetensorsFile& file, size_t size) {
  for (const glmv::TensorView& t : file.tensors()) {
    const int64_t elements = t.NumElements();
    if (elements < 0 || (!glmv::IsPacked(t.dtype) && t.bytes.size() != uint64_t(elements) * glmv::DTypeSize(t.dtype))) {
      glmv::fuzz::InvariantBroken("safetensors: tensor bytes do not match its shape");
    }
    if (t.bytes.size() > size) glmv::fuzz::InvariantBroken("safetensors: tensor larger than the file");
    if (!t.bytes.empty()) {
      // Touch both ends: ASan has no view of the mapping, but a view past it faults.
      volatile uint8_t first = t.bytes.front(), last = t.bytes.back();
      (void)first, (void)last;
    }
    (void)glmv::ShapeString(t.shape);
  }
}

// Small valid files: several dtypes and shapes with metadata, an empty tensor, and no tensors at all (real model
// files are mostly tensor data, which teaches the fuzzer nothing about the header).
glmv::Status WriteSeeds(const std::string& dir) {
  const auto f32 = glmv::fuzz::SeedBytes(4 * 6 * 4), bf16 = glmv::fuzz::SeedBytes(6 * 2), i64 = glmv::fuzz::SeedBytes(3 * 8);
  GLMV_RETURN_IF_ERROR(glmv::WriteSafetensors(
      dir + "/dtypes.safetensors",
      {{"model.embed_tokens.weight", glmv::DType::kF32, {4, 6}, f32},
       {"model.norm.weight", glmv::DType::kBF16, {6}, bf16},
       {"ids", glmv::DType::kI64, {3}, i64},
       {"empty", glmv::DType::kF32, {0, 4}, {}}},
      {{"format", "pt"}}));
  return glmv::WriteSafetensors(dir + "/no-tensors.safetensors", {}, {{"format", "pt"}});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  glmv::fuzz::WriteSeedsIfAsked(WriteSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ModelDir model;
  model.file.Assign(data, size);
  auto file = glmv::SafetensorsFile::Open(model.file.path());
  if (!file.ok()) return 0;
  CheckTensors(*file, size);
  auto checkpoint = glmv::Checkpoint::Open(model.dir.string());
  if (checkpoint.ok() && (*checkpoint)->num_tensors() != file->tensors().size()) {
    glmv::fuzz::InvariantBroken("checkpoint: tensor count differs from the file's");
  }
  return 0;
}
