// A read-only memory-mapped file. Weights are views into the mapping: nothing is copied at load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "io/status.h"

namespace glmv {

class MappedFile {
 public:
  // Maps `path` read-only. An empty file maps to an empty span.
  static Result<MappedFile> Open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Drops the pages of `bytes` (inside a read-only file mapping) from this process's resident set. The data
// stays in the page cache and is read back on the next touch: streaming a file much larger than memory
// (glmv convert reading a 200 GB checkpoint) keeps the RSS at the working set instead of the file size.
void ReleaseMappedPages(std::span<const uint8_t> bytes);

// Makes the whole pages inside `bytes` (a range of a file mapping) unreachable (PROT_NONE) and drops them
// from the resident set: a touch is then a crash, not a read. The expert cache does this to the experts'
// units so nothing reads them around it. The range and its mapping must stay otherwise unused.
Status HideMappedPages(std::span<const uint8_t> bytes);

}  // namespace glmv
