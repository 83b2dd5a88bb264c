// Helpers shared by the tests: where test data lives, scratch directories, small files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace glmv::test {

// tests/data in the source tree.
std::filesystem::path DataDir();
// ../shared beside the repository (media, golden sets, reference files); may be absent. The environment
// variable GLMV_SHARED_DIR, when set and not empty, overrides the path compiled in (the GLMV_SHARED_DIR define):
// `GLMV_SHARED_DIR=/nonexistent meson test` runs the suite as a machine without ../shared would. Cases that
// need it live in executables linked with test_main_shared.cc, which exit 77 (a skip to meson) without it.
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

// A shell command's exit status (-1 if it did not exit normally), standard output, and its standard error
// when `capture_stderr` (else stderr goes to the test's log). Standard input is empty unless `stdin_text`.
struct CommandResult {
  int status = -1;
  std::string out, err;
};
CommandResult RunCommand(const std::string& command, const std::string& stdin_text = "", bool capture_stderr = true);

// The number the first group of `pattern` (a regex with one group of digits) matches in `text`; REQUIREs a
// match (printing `text` otherwise), e.g. Number(err, "(\\d+) misses").
uint64_t Number(const std::string& text, const std::string& pattern);

// The tiny model's config without its vision tower, as a .glmv written by `glmv_bin synth` into `dir`
// (with the tiny model's tokenizer). For tests of small --mem-budget caches: a model with a tower lends
// the tower's bytes to the expert cache (lib/engine/memory_plan.h), which on the tiny model holds every
// expert, so nothing would be evicted.
std::string WriteTextOnlyTinyGlmv(const std::string& glmv_bin, const TempDir& dir);

// Largest |a[i] − b[i]|; infinity when the sizes differ.
double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b);

// Deterministic pseudo-random floats in [-1, 1).
std::vector<float> RandomFloats(size_t n, uint32_t seed);

}  // namespace glmv::test
