// Shared by the libFuzzer targets: an in-memory file for entry points that take a path, and the checks on a
// decoder's output that turn a silently wrong result into a finding.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "io/image.h"
#include "io/status.h"

namespace glmv::fuzz {

// For targets whose entry point takes a path (FFmpeg opens files itself; safetensors and .glmv files are
// memory-mapped): one anonymous in-memory file (memfd) for the whole run, rewritten for each input and
// reachable as /proc/self/fd/N, so no input ever touches the disk.
class MemoryFile {
 public:
  explicit MemoryFile(const char* name) : fd_(memfd_create(name, MFD_CLOEXEC)) {
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();  // the harness cannot run at all: not a finding
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemoryFile() { close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  // Replaces the file's contents with `data`.
  void Assign(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0 || (size > 0 && pwrite(fd_, data, size, 0) != static_cast<ssize_t>(size))) {
      std::perror("memfd write");
      std::abort();
    }
  }
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

// A broken invariant of a decoder's output (not an error status, which is fine): stop so libFuzzer keeps
// the input.
[[noreturn]] inline void InvariantBroken(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

// A decoded picture must be non-empty, within `max_pixels`, and hold exactly width × height × 3 bytes.
inline void CheckPicture(const RgbImage& image, uint64_t max_pixels, const char* what) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != size_t(image.width) * size_t(image.height) * 3) {
    InvariantBroken(what);
  }
  if (uint64_t(image.width) * uint64_t(image.height) > max_pixels) InvariantBroken(what);
}

// Image decoders get limits below the defaults so that each run stays fast; the checks are the same code
// at any value.
inline DecodeLimits FuzzImageLimits() {
  DecodeLimits limits;
  limits.max_pixels = 4'000'000;
  limits.max_seconds = 5;
  return limits;
}

// Seeds the format's own writer makes: when GLMV_FUZZ_WRITE_SEEDS names a directory, LLVMFuzzerInitialize
// calls `write(dir)` and the process exits (run_fuzzers.sh uses this for model files, of which shared/media
// has none). Returns normally otherwise.
template <typename WriteSeeds>
void WriteSeedsIfAsked(WriteSeeds write) {
  const char* dir = std::getenv("GLMV_FUZZ_WRITE_SEEDS");
  if (dir == nullptr) return;
  const Status s = write(std::string(dir));
  if (!s.ok()) std::fprintf(stderr, "writing seeds: %s\n", s.message().c_str());
  std::exit(s.ok() ? 0 : 1);
}

// Deterministic bytes for seed tensors.
inline std::vector<uint8_t> SeedBytes(size_t n) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * 37 + 11);
  return out;
}

}  // namespace glmv::fuzz
