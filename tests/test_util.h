// Helpers shared by the tests: where test data lives, scratch directories, small files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace glmv::test {

// tests/data in the source tree.
std::filesystem::path DataDir();
// ../shared beside the repository (media, golden sets, reference files); may be absent.
std::filesystem::path SharedDir();

// A fresh empty directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void WriteBytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes);
std::vector<uint8_t> ReadBytes(const std::filesystem::path& path);

// Deterministic pseudo-random floats in [-1, 1).
std::vector<float> RandomFloats(size_t n, uint32_t seed);

}  // namespace glmv::test
