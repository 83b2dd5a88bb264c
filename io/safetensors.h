// Reader of one safetensors file (Hugging Face): memory-mapped, header validated before any tensor byte
// is touched.
//
// Layout: [u64 little-endian header length N][N bytes of JSON header][data]. The header maps tensor names
// to {"dtype": "F32"|"BF16"|..., "shape": [..], "data_offsets": [begin, end]} with offsets relative to the
// start of the data section; an optional "__metadata__" maps strings to strings.
// Checked: the header fits the file, is a JSON object, every entry has a known dtype, a shape of
// non-negative integers, offsets inside the data section whose length equals shape × dtype size, and no
// two tensors overlap.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "io/mapped_file.h"
#include "io/status.h"

namespace glmv {

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const uint8_t> bytes;  // inside the mapping of `file`
  const std::string* file = nullptr;  // path of the file holding it (for messages)

  int64_t NumElements() const;
};

// "[64, 32]"
std::string ShapeString(std::span<const int64_t> shape);

class SafetensorsFile {
 public:
  static Result<SafetensorsFile> Open(const std::string& path);
  // Parses an already mapped file (tests use this through Open on files they write).
  static Result<SafetensorsFile> FromMapped(MappedFile file);

  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return file_.path(); }
  // The whole mapped file (checksums).
  std::span<const uint8_t> mapped_bytes() const { return file_.bytes(); }

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  SafetensorsFile() = default;

 private:
  void RebindFilePointers();
  MappedFile file_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace glmv

namespace glmv {

// One tensor to write: raw little-endian bytes of `dtype` elements.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const uint8_t> bytes;
};

// Writes a safetensors file (header padded to 8 bytes, tensors in the given order) to `path` through a
// temporary file renamed into place, so a failed write never leaves a partial file under `path`.
Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata = {});

}  // namespace glmv

namespace glmv {

// Writes a safetensors file tensor by tensor, so a model larger than memory can be produced: the header
// (all names, dtypes and shapes) goes first, then Append() is called once per tensor in the same order.
// The data lands in `path`.tmp, renamed to `path` by Finish(); an unfinished writer removes it.
class SafetensorsWriter {
 public:
  struct Spec {
    std::string name;
    DType dtype = DType::kF32;
    std::vector<int64_t> shape;
  };
  static Result<std::unique_ptr<SafetensorsWriter>> Create(const std::string& path, const std::vector<Spec>& specs,
                                                           const std::map<std::string, std::string>& metadata = {});
  // The size in bytes of the file Create + Append + Finish would produce (header included), without
  // writing anything: lets a caller check free space or plan shards first.
  static uint64_t FileBytes(const std::vector<Spec>& specs, const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsWriter();
  // The next tensor's bytes (exactly its size).
  Status Append(std::span<const uint8_t> bytes);
  // The next piece of the current tensor, so a tensor larger than memory can be written in chunks: the
  // pieces of one tensor must add up to its size and may not run into the next tensor.
  Status AppendPart(std::span<const uint8_t> bytes);
  Status Finish();
  size_t bytes_written() const { return written_; }

 private:
  SafetensorsWriter() = default;
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  std::vector<Spec> specs_;
  size_t next_ = 0, written_ = 0;
  uint64_t part_ = 0;  // bytes of specs_[next_] written so far by AppendPart
};

}  // namespace glmv
