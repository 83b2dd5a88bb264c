// The glmv model file (.glmv): one file holding a converted model — its config, tokenizer, chat template,
// preprocessing settings, conversion recipe and every tensor already in the layout the kernels read — so
// loading is mapping the file and checking it, never copying or repacking.
//
// Layout, version 1 (integers little-endian; offsets from the start of the file):
//
//   offset 0              FileHeader (128 bytes)
//   metadata_offset       metadata: a JSON object whose values are all strings (metadata_bytes)
//   table_offset          TensorEntry × tensor_count (8-byte aligned)
//   unit_offset           UnitEntry × unit_count (8-byte aligned)
//   names_offset          names: the UTF-8 tensor and unit names, concatenated (names_bytes)
//   data_offset           data (4096-byte aligned, data_bytes a multiple of 4096, ends the file):
//                         every tensor at a 64-byte aligned offset inside it; the tensors of one unit
//                         consecutive inside one 4096-byte aligned range that holds nothing else.
//
// A unit is a group of tensors that is read, prefetched or evicted as one (a routed expert's gate, up and
// down matrices). Tensor and unit offsets are relative to data_offset.
//
// Element dtypes (F32, F16, BF16, I8, ...) hold shape × element-size bytes. Packed dtypes (Q4G32, Q8G32)
// give the logical [rows, cols] shape; their byte layout and size are defined by the kernels
// (simd/quant_layout.h), checked by the loader in lib/, not here: io knows nothing of the model.
//
// Reading validates the header, every table entry, every offset, size and alignment against the file size
// before any tensor byte is touched, so a truncated or corrupt file is an error naming what is wrong,
// never a SIGBUS or a read past the mapping.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/dtype.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"  // TensorView
#include "io/status.h"

namespace glmv {

inline constexpr char kModelFileMagic[8] = {'G', 'L', 'M', 'V', 'M', 'O', 'D', 'L'};
inline constexpr uint32_t kModelFileVersion = 1;
inline constexpr uint64_t kModelFileDataAlign = 4096;   // data section and each unit
inline constexpr uint64_t kModelFileTensorAlign = 64;   // each tensor
inline constexpr uint32_t kModelFileNoUnit = 0xFFFFFFFFu;
inline constexpr uint32_t kModelFileMaxDims = 6;  // the vision Conv3d weight has 5

struct FileHeader {
  char magic[8];            // kModelFileMagic
  uint32_t version;         // kModelFileVersion
  uint32_t header_bytes;    // sizeof(FileHeader)
  uint64_t file_bytes;      // the whole file; must equal the real size
  uint64_t metadata_offset;
  uint64_t metadata_bytes;
  uint64_t table_offset;
  uint64_t tensor_count;
  uint64_t unit_offset;
  uint64_t unit_count;
  uint64_t names_offset;
  uint64_t names_bytes;
  uint64_t data_offset;
  uint64_t data_bytes;
  uint8_t reserved[24];     // zero
};
static_assert(sizeof(FileHeader) == 128);

struct TensorEntry {
  uint64_t name_offset;     // into the names section
  uint32_t name_bytes;
  uint32_t dtype;           // ModelFileDTypeCode
  uint32_t ndim;            // ≤ kModelFileMaxDims
  uint32_t unit;            // index into the unit table, or kModelFileNoUnit
  int64_t shape[kModelFileMaxDims];  // unused dims zero
  uint64_t offset;          // relative to data_offset, multiple of kModelFileTensorAlign
  uint64_t bytes;
};
static_assert(sizeof(TensorEntry) == 88);

struct UnitEntry {
  uint64_t name_offset;     // into the names section
  uint32_t name_bytes;
  uint32_t first_tensor;    // its tensors are entries [first_tensor, first_tensor + tensor_count)
  uint32_t tensor_count;
  uint32_t reserved;        // zero
  uint64_t offset;          // relative to data_offset, multiple of kModelFileDataAlign
  uint64_t bytes;           // covers exactly its tensors (plus alignment padding between them)
};
static_assert(sizeof(UnitEntry) == 40);

// Stable dtype codes of the file format (independent of the DType enum's order).
uint32_t ModelFileDTypeCode(DType t);
std::optional<DType> DTypeFromModelFileCode(uint32_t code);

struct UnitView {
  std::string name;
  size_t first_tensor = 0, tensor_count = 0;
  std::span<const uint8_t> bytes;  // inside the mapping
};

class ModelFile {
 public:
  static Result<ModelFile> Open(const std::string& path);
  static Result<ModelFile> FromMapped(MappedFile file);

  const FileHeader& header() const { return header_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::vector<uint32_t>& tensor_units() const { return tensor_units_; }  // per tensor: unit or kModelFileNoUnit
  const std::vector<UnitView>& units() const { return units_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return file_.path(); }
  // The data section: every tensor and unit view lies inside it (page-aligned, for madvise and tests).
  std::span<const uint8_t> data() const { return file_.bytes().subspan(header_.data_offset, header_.data_bytes); }
  // nullptr when absent.
  const TensorView* Find(const std::string& name) const;

  ModelFile(ModelFile&&) noexcept;
  ModelFile& operator=(ModelFile&&) noexcept;
  ModelFile() = default;

 private:
  void RebindFilePointers();
  MappedFile file_;
  FileHeader header_{};
  std::vector<TensorView> tensors_;
  std::vector<uint32_t> tensor_units_;
  std::vector<UnitView> units_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, size_t> by_name_;
};

// Writes a model file tensor by tensor, so a model larger than memory can be converted: Create() lays out
// the whole file from the specs (sizes are known before any data is made) and writes the header, metadata
// and tables; then Append() is called once per tensor, in spec order. Data goes to `path`.partial, renamed
// to `path` by Finish(); a writer destroyed unfinished removes the partial file, so an interrupted
// conversion leaves nothing under the final name. A write error (disk full) also removes it, and the writer
// then refuses further calls. Nothing is written to `path` itself before Finish().
class ModelFileWriter {
 public:
  struct Spec {
    std::string name;
    DType dtype = DType::kF32;
    std::vector<int64_t> shape;  // logical shape (packed dtypes: [rows, cols])
    uint64_t bytes = 0;          // exact byte size (element dtypes: shape × element size)
    int64_t unit = -1;           // index into `unit_names`, or -1; a unit's tensors must be consecutive
  };
  static Result<std::unique_ptr<ModelFileWriter>> Create(const std::string& path,
                                                         const std::map<std::string, std::string>& metadata,
                                                         const std::vector<Spec>& specs,
                                                         const std::vector<std::string>& unit_names);
  ~ModelFileWriter();
  // The next tensor's bytes (exactly its spec's size).
  Status Append(std::span<const uint8_t> bytes);
  Status Finish();
  uint64_t file_bytes() const { return file_bytes_; }
  uint64_t data_bytes_written() const { return written_; }
  const std::string& partial_path() const { return tmp_; }

 private:
  ModelFileWriter() = default;
  void Abandon();  // closes and removes the partial file
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  std::vector<Spec> specs_;
  std::vector<uint64_t> offsets_;  // absolute file offset of each tensor
  uint64_t file_bytes_ = 0, written_ = 0;  // written_: bytes of the data section so far, padding included
  uint64_t data_offset_ = 0;
  size_t next_ = 0;
};

}  // namespace glmv
