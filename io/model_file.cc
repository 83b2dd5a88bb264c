#include "io/model_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>

namespace glmv {

// Entries are copied out of the mapping as laid out on disk; a big-endian host would need byte swaps.
static_assert(std::endian::native == std::endian::little, "the model file format is little-endian");

namespace {

struct DTypeCode {
  DType type;
  uint32_t code;
};
// Part of the file format: never renumber. Packed formats start at 32 to leave room for element types.
constexpr DTypeCode kDTypeCodes[] = {
    {DType::kF32, 1}, {DType::kF16, 2}, {DType::kBF16, 3}, {DType::kF64, 4}, {DType::kI64, 5},   {DType::kI32, 6},
    {DType::kI16, 7}, {DType::kI8, 8},  {DType::kU8, 9},   {DType::kBool, 10}, {DType::kQ4G32, 32}, {DType::kQ8G32, 33},
    {DType::kQ4NLG32, 34},
};

// Every count and offset in a file may be hostile (2^64 - 1 included), so all arithmetic on them is
// checked: these return false instead of wrapping.
bool Add(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }
bool Mul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
uint64_t AlignUp(uint64_t v, uint64_t align) { return (v + align - 1) / align * align; }  // callers bound v

template <typename... Args>
std::string Cat(const Args&... args) {
  std::ostringstream s;
  (s << ... << args);
  return s.str();
}

std::string Quoted(const std::string& name) { return "'" + name + "'"; }

// Elements in `shape`, or false when negative or past int64.
bool NumElements(std::span<const int64_t> shape, uint64_t* numel) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || !Mul(n, static_cast<uint64_t>(d), &n) || n > static_cast<uint64_t>(INT64_MAX)) return false;
  }
  *numel = n;
  return true;
}

// Why [offset, offset + bytes) does not fit the data section (`limit` bytes); the sum itself may wrap.
std::string PastEnd(uint64_t offset, uint64_t bytes, uint64_t limit) {
  uint64_t end = 0;
  if (!Add(offset, bytes, &end)) return Cat(" at byte ", offset, " with ", bytes, " bytes runs past 2^64");
  return Cat(" ends at byte ", end, " but the data section has ", limit, " bytes");
}

// Names are looked up by exact bytes; an empty name or one with NUL cannot be asked for from C strings.
bool ValidName(const std::string& name) { return !name.empty() && name.find('\0') == std::string::npos; }

struct Range {
  uint64_t begin, end;  // [begin, end)
  size_t index;
};

// Index pair (a, b) of the first two overlapping non-empty ranges, or nothing.
std::optional<std::pair<size_t, size_t>> FindOverlap(std::vector<Range> ranges) {
  std::erase_if(ranges, [](const Range& r) { return r.begin == r.end; });
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  size_t widest = 0;  // of those seen so far, the one reaching furthest
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].begin < ranges[widest].end) return std::make_pair(ranges[widest].index, ranges[i].index);
    if (ranges[i].end > ranges[widest].end) widest = i;
  }
  return std::nullopt;
}

// Magic, version, sizes and the placement of every section. `size` is the real file size.
Status CheckHeader(std::span<const uint8_t> bytes, FileHeader* h) {
  const uint64_t size = bytes.size();
  if (size == 0) return Status::Error("empty file (0 bytes): not a glmv model file");
  // A file cut inside the magic is still recognisably ours: call it truncated, not foreign.
  if (std::memcmp(bytes.data(), kModelFileMagic, std::min<uint64_t>(size, sizeof kModelFileMagic)) != 0) {
    return Status::Error("not a glmv model file (no GLMVMODL magic at the start)");
  }
  if (size < sizeof(FileHeader)) {
    return Status::Error(Cat("truncated: ", size, " bytes, shorter than the ", sizeof(FileHeader), "-byte header"));
  }
  std::memcpy(h, bytes.data(), sizeof(FileHeader));
  if (h->version > kModelFileVersion) {
    return Status::Error(Cat("made by a newer glmv (version ", h->version, "); this build reads version ",
                             kModelFileVersion));
  }
  if (h->version != kModelFileVersion) return Status::Error(Cat("unknown format version ", h->version));
  if (h->header_bytes != sizeof(FileHeader)) {
    return Status::Error(Cat("header_bytes is ", h->header_bytes, ", version 1 has ", sizeof(FileHeader)));
  }
  if (h->file_bytes > size) {
    return Status::Error(Cat("truncated: header says ", h->file_bytes, " bytes, file has ", size));
  }
  if (h->file_bytes < size) {
    return Status::Error(Cat("file has ", size, " bytes but the header says ", h->file_bytes, " (trailing data)"));
  }
  if (std::any_of(std::begin(h->reserved), std::end(h->reserved), [](uint8_t b) { return b != 0; })) {
    return Status::Error("reserved header bytes are not zero");
  }
  // Counts are bounded by the file size before they are multiplied, and must fit the 32-bit indices the
  // tables use (kModelFileNoUnit is reserved).
  if (h->tensor_count > size / sizeof(TensorEntry) || h->tensor_count > UINT32_MAX) {
    return Status::Error(Cat("tensor_count ", h->tensor_count, " cannot fit in a file of ", size, " bytes"));
  }
  if (h->unit_count > size / sizeof(UnitEntry) || h->unit_count >= kModelFileNoUnit) {
    return Status::Error(Cat("unit_count ", h->unit_count, " cannot fit in a file of ", size, " bytes"));
  }
  struct Section {
    const char* name;
    uint64_t offset, bytes;
  };
  const Section sections[] = {
      {"header", 0, sizeof(FileHeader)},
      {"metadata", h->metadata_offset, h->metadata_bytes},
      {"tensor table", h->table_offset, h->tensor_count * sizeof(TensorEntry)},
      {"unit table", h->unit_offset, h->unit_count * sizeof(UnitEntry)},
      {"names", h->names_offset, h->names_bytes},
      {"data", h->data_offset, h->data_bytes},
  };
  std::vector<Range> ranges;
  for (size_t i = 0; i < std::size(sections); ++i) {
    const Section& s = sections[i];
    uint64_t end = 0;
    if (!Add(s.offset, s.bytes, &end) || end > size) {
      return Status::Error(Cat(s.name, " section at byte ", s.offset, " with ", s.bytes,
                               " bytes runs past the end of the file (", size, " bytes)"));
    }
    ranges.push_back({s.offset, end, i});
  }
  if (h->table_offset % 8 != 0 || h->unit_offset % 8 != 0) {
    return Status::Error(Cat("tensor table (byte ", h->table_offset, ") or unit table (byte ", h->unit_offset,
                             ") is not 8-byte aligned"));
  }
  if (h->data_offset % kModelFileDataAlign != 0 || h->data_bytes % kModelFileDataAlign != 0) {
    return Status::Error(Cat("data section (byte ", h->data_offset, ", ", h->data_bytes, " bytes) is not ",
                             kModelFileDataAlign, "-byte aligned"));
  }
  if (auto o = FindOverlap(ranges)) {
    return Status::Error(Cat("the ", sections[o->first].name, " and ", sections[o->second].name, " sections overlap"));
  }
  if (h->data_offset + h->data_bytes != size) return Status::Error("the data section does not end the file");
  return Status::Ok();
}

Status ParseMetadata(std::span<const uint8_t> bytes, const FileHeader& h, std::map<std::string, std::string>* out) {
  const char* text = reinterpret_cast<const char*>(bytes.data() + h.metadata_offset);
  const nlohmann::json j = nlohmann::json::parse(text, text + h.metadata_bytes, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Error("metadata is not valid JSON");
  if (!j.is_object()) return Status::Error("metadata is not a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string()) return Status::Error("metadata value of " + Quoted(it.key()) + " is not a string");
    (*out)[it.key()] = it.value().get<std::string>();
  }
  return Status::Ok();
}

// The name at [offset, offset + bytes) of the names section, checked.
Status ReadName(std::span<const uint8_t> bytes, const FileHeader& h, uint64_t offset, uint32_t name_bytes,
                const char* kind, size_t index, std::string* name) {
  uint64_t end = 0;
  if (!Add(offset, name_bytes, &end) || end > h.names_bytes) {
    return Status::Error(Cat(kind, " ", index, ": name at ", offset, " (", name_bytes,
                             " bytes) is outside the names section (", h.names_bytes, " bytes)"));
  }
  name->assign(reinterpret_cast<const char*>(bytes.data() + h.names_offset + offset), name_bytes);
  if (!ValidName(*name)) return Status::Error(Cat(kind, " ", index, ": name is empty or holds a NUL byte"));
  return Status::Ok();
}

}  // namespace

uint32_t ModelFileDTypeCode(DType t) {
  for (const auto& row : kDTypeCodes) {
    if (row.type == t) return row.code;
  }
  return 0;  // unreachable for a valid DType; 0 is never a valid code
}

std::optional<DType> DTypeFromModelFileCode(uint32_t code) {
  for (const auto& row : kDTypeCodes) {
    if (row.code == code) return row.type;
  }
  return std::nullopt;
}

ModelFile::ModelFile(ModelFile&& other) noexcept { *this = std::move(other); }

ModelFile& ModelFile::operator=(ModelFile&& other) noexcept {
  file_ = std::move(other.file_);
  header_ = other.header_;
  tensors_ = std::move(other.tensors_);
  tensor_units_ = std::move(other.tensor_units_);
  units_ = std::move(other.units_);
  metadata_ = std::move(other.metadata_);
  by_name_ = std::move(other.by_name_);
  RebindFilePointers();
  return *this;
}

// TensorView::file points at our path string, which a move may relocate (small-string storage).
void ModelFile::RebindFilePointers() {
  for (auto& t : tensors_) t.file = &file_.path();
}

const TensorView* ModelFile::Find(const std::string& name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

Result<ModelFile> ModelFile::Open(const std::string& path) {
  GLMV_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  return FromMapped(std::move(file));
}

Result<ModelFile> ModelFile::FromMapped(MappedFile file) {
  const std::string where = file.path();
  const std::span<const uint8_t> bytes = file.bytes();
  ModelFile out;
  FileHeader& h = out.header_;
  GLMV_RETURN_IF_ERROR(CheckHeader(bytes, &h).Annotate(where));
  GLMV_RETURN_IF_ERROR(ParseMetadata(bytes, h, &out.metadata_).Annotate(where));
  auto fail = [&](const std::string& msg) { return Status::Error(where + ": " + msg); };

  // Tensor entries, each on its own; nothing here reads the data section.
  const size_t n = h.tensor_count;
  std::vector<TensorEntry> entries(n);
  std::vector<Range> ranges(n);
  out.tensors_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    TensorEntry& e = entries[i];
    std::memcpy(&e, bytes.data() + h.table_offset + i * sizeof(TensorEntry), sizeof e);
    TensorView& t = out.tensors_[i];
    GLMV_RETURN_IF_ERROR(ReadName(bytes, h, e.name_offset, e.name_bytes, "tensor", i, &t.name).Annotate(where));
    auto tw = [&] { return Cat("tensor ", i, " ", Quoted(t.name)); };  // only on errors
    if (!out.by_name_.emplace(t.name, i).second) return fail(tw() + ": a second tensor of that name");
    const auto dtype = DTypeFromModelFileCode(e.dtype);
    if (!dtype) return fail(Cat(tw(), ": unknown dtype code ", e.dtype));
    t.dtype = *dtype;
    if (e.ndim > kModelFileMaxDims) return fail(Cat(tw(), ": ", e.ndim, " dimensions, at most ", kModelFileMaxDims));
    for (uint32_t d = e.ndim; d < kModelFileMaxDims; ++d) {
      if (e.shape[d] != 0) return fail(Cat(tw(), ": unused dimension ", d, " is ", e.shape[d], ", not 0"));
    }
    t.shape.assign(e.shape, e.shape + e.ndim);
    uint64_t numel = 0;
    if (!NumElements(t.shape, &numel)) {
      return fail(tw() + ": shape " + ShapeString(t.shape) + " is negative or overflows");
    }
    if (IsPacked(t.dtype)) {
      // The kernels own the packed layout (lib/ checks its size); io only refuses what cannot be a matrix.
      if (e.ndim != 2 || e.bytes == 0) {
        return fail(Cat(tw(), ": ", DTypeName(t.dtype), " needs a [rows, cols] shape and bytes > 0, has ",
                        ShapeString(t.shape), " and ", e.bytes, " bytes"));
      }
    } else {
      uint64_t want = 0;
      if (!Mul(numel, DTypeSize(t.dtype), &want) || want != e.bytes) {
        return fail(Cat(tw(), ": ", e.bytes, " bytes but ", DTypeName(t.dtype), " ", ShapeString(t.shape), " needs ",
                        numel, " × ", DTypeSize(t.dtype)));
      }
    }
    if (e.offset % kModelFileTensorAlign != 0) {
      return fail(Cat(tw(), ": offset ", e.offset, " is not a multiple of ", kModelFileTensorAlign));
    }
    uint64_t end = 0;
    if (!Add(e.offset, e.bytes, &end) || end > h.data_bytes) {
      return fail(tw() + PastEnd(e.offset, e.bytes, h.data_bytes));
    }
    if (e.unit != kModelFileNoUnit && e.unit >= h.unit_count) {
      return fail(Cat(tw(), ": unit ", e.unit, " but the file has ", h.unit_count, " units"));
    }
    ranges[i] = {e.offset, end, i};
  }
  if (auto o = FindOverlap(ranges)) {
    return fail(Cat("tensors ", o->first, " ", Quoted(out.tensors_[o->first].name), " and ", o->second, " ",
                    Quoted(out.tensors_[o->second].name), " overlap in the data section"));
  }

  // Units: each lists a run of tensors that must name it back and lie inside its pages, which hold nothing else.
  const size_t u_count = h.unit_count;
  std::vector<uint32_t> listed_by(n, kModelFileNoUnit);
  std::vector<Range> unit_pages(u_count);
  std::set<std::string> unit_names;
  out.units_.resize(u_count);
  for (size_t u = 0; u < u_count; ++u) {
    UnitEntry e;
    std::memcpy(&e, bytes.data() + h.unit_offset + u * sizeof(UnitEntry), sizeof e);
    UnitView& v = out.units_[u];
    GLMV_RETURN_IF_ERROR(ReadName(bytes, h, e.name_offset, e.name_bytes, "unit", u, &v.name).Annotate(where));
    auto uw = [&] { return Cat("unit ", u, " ", Quoted(v.name)); };
    if (!unit_names.insert(v.name).second) return fail(uw() + ": a second unit of that name");
    if (e.reserved != 0) return fail(uw() + ": reserved field is not zero");
    if (e.tensor_count == 0 || uint64_t{e.first_tensor} + e.tensor_count > n) {
      return fail(Cat(uw(), ": tensors [", e.first_tensor, ", +", e.tensor_count, ") are not inside the ", n,
                      " tensors of the file"));
    }
    if (e.offset % kModelFileDataAlign != 0) {
      return fail(Cat(uw(), ": offset ", e.offset, " is not a multiple of ", kModelFileDataAlign));
    }
    uint64_t end = 0;
    if (!Add(e.offset, e.bytes, &end) || end > h.data_bytes) {
      return fail(uw() + PastEnd(e.offset, e.bytes, h.data_bytes));
    }
    for (size_t i = e.first_tensor; i < e.first_tensor + e.tensor_count; ++i) {
      auto tw = [&] { return Cat("tensor ", i, " ", Quoted(out.tensors_[i].name)); };
      // Stops at the first tensor listed twice, so hostile tables cost O(tensors) in all.
      if (listed_by[i] != kModelFileNoUnit) return fail(Cat(tw(), " is listed by units ", listed_by[i], " and ", u));
      listed_by[i] = static_cast<uint32_t>(u);
      if (entries[i].offset < e.offset || ranges[i].end > end) {
        return fail(Cat(tw(), " at [", entries[i].offset, ", ", ranges[i].end, ") lies outside its ", uw(), " at [",
                        e.offset, ", ", end, ")"));
      }
    }
    // end ≤ data_bytes, a multiple of the page size, so rounding up cannot pass it.
    unit_pages[u] = {e.offset, AlignUp(end, kModelFileDataAlign), u};
    v.first_tensor = e.first_tensor;
    v.tensor_count = e.tensor_count;
    v.bytes = bytes.subspan(h.data_offset + e.offset, e.bytes);
  }
  for (size_t i = 0; i < n; ++i) {
    if (entries[i].unit != listed_by[i]) {
      auto unit_text = [](uint32_t u) { return u == kModelFileNoUnit ? std::string("none") : std::to_string(u); };
      return fail(Cat("tensor ", i, " ", Quoted(out.tensors_[i].name), " says unit ", unit_text(entries[i].unit),
                      " but the unit table gives ", unit_text(listed_by[i])));
    }
  }
  if (auto o = FindOverlap(unit_pages)) {
    return fail(Cat("units ", Quoted(out.units_[o->first].name), " and ", Quoted(out.units_[o->second].name),
                    " share pages of the data section"));
  }
  // No foreign tensor in a unit's pages: find the last unit starting before the tensor ends; as unit page
  // ranges are disjoint and sorted, it is the only one that can overlap.
  std::erase_if(unit_pages, [](const Range& r) { return r.begin == r.end; });
  std::sort(unit_pages.begin(), unit_pages.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 0; i < n; ++i) {
    const Range& t = ranges[i];
    if (t.begin == t.end) continue;
    auto it = std::lower_bound(unit_pages.begin(), unit_pages.end(), t.end,
                               [](const Range& r, uint64_t v) { return r.begin < v; });
    if (it != unit_pages.begin() && (--it)->end > t.begin && it->index != entries[i].unit) {
      return fail(Cat("tensor ", i, " ", Quoted(out.tensors_[i].name), " lies in the pages of unit ",
                      Quoted(out.units_[it->index].name), ", which must hold only that unit's tensors"));
    }
  }

  // Everything checked: bind the views.
  out.tensor_units_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    out.tensors_[i].bytes = bytes.subspan(h.data_offset + entries[i].offset, entries[i].bytes);
    out.tensor_units_[i] = entries[i].unit;
  }
  out.file_ = std::move(file);
  out.RebindFilePointers();
  return out;
}

namespace {

Status WriteAll(std::FILE* f, const void* data, size_t n, const std::string& where) {
  if (n > 0 && std::fwrite(data, 1, n, f) != n) return Status::Error(where + ": write failed: " + std::strerror(errno));
  return Status::Ok();
}

// Padding (under a page per gap) is written, not seeked over: every byte of the file is defined.
Status WriteZeros(std::FILE* f, uint64_t n, const std::string& where) {
  static constexpr uint8_t kZeros[4096] = {};
  while (n > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, sizeof kZeros));
    GLMV_RETURN_IF_ERROR(WriteAll(f, kZeros, chunk, where));
    n -= chunk;
  }
  return Status::Ok();
}

// The spec's checks, the same the reader makes of the file it will become.
Status CheckSpecs(const std::vector<ModelFileWriter::Spec>& specs, const std::vector<std::string>& unit_names) {
  if (specs.size() > UINT32_MAX || unit_names.size() >= kModelFileNoUnit) {
    return Status::Error(Cat(specs.size(), " tensors and ", unit_names.size(), " units are more than the tables hold"));
  }
  std::set<std::string> seen;
  std::vector<int64_t> first(unit_names.size(), -1);
  for (size_t i = 0; i < specs.size(); ++i) {
    const ModelFileWriter::Spec& s = specs[i];
    auto tw = [&] { return Cat("tensor ", i, " ", Quoted(s.name)); };
    if (!ValidName(s.name) || s.name.size() > UINT32_MAX) {
      return Status::Error(tw() + ": name is empty or holds a NUL byte");
    }
    if (!seen.insert(s.name).second) return Status::Error(tw() + ": a second tensor of that name");
    uint64_t numel = 0;
    if (s.shape.size() > kModelFileMaxDims || !NumElements(s.shape, &numel)) {
      return Status::Error(Cat(tw(), ": shape ", ShapeString(s.shape), " has more than ", kModelFileMaxDims,
                               " dimensions, a negative one or too many elements"));
    }
    uint64_t want = 0;
    if (IsPacked(s.dtype)) {
      if (s.shape.size() != 2 || s.bytes == 0) {
        return Status::Error(Cat(tw(), ": ", DTypeName(s.dtype), " needs a [rows, cols] shape and bytes > 0"));
      }
    } else if (!Mul(numel, DTypeSize(s.dtype), &want) || want != s.bytes) {
      return Status::Error(Cat(tw(), ": spec says ", s.bytes, " bytes but ", DTypeName(s.dtype), " ",
                               ShapeString(s.shape), " needs ", numel, " × ", DTypeSize(s.dtype)));
    }
    if (s.unit < -1 || s.unit >= static_cast<int64_t>(unit_names.size())) {
      return Status::Error(Cat(tw(), ": unit ", s.unit, " but there are ", unit_names.size(), " unit names"));
    }
    if (s.unit < 0) continue;
    if (first[s.unit] < 0) {
      first[s.unit] = static_cast<int64_t>(i);
    } else if (specs[i - 1].unit != s.unit) {
      return Status::Error(Cat(tw(), ": the tensors of unit ", Quoted(unit_names[s.unit]), " are not consecutive"));
    }
  }
  std::set<std::string> seen_units;
  for (size_t u = 0; u < unit_names.size(); ++u) {
    auto uw = [&] { return Cat("unit ", u, " ", Quoted(unit_names[u])); };
    if (!ValidName(unit_names[u]) || unit_names[u].size() > UINT32_MAX) {
      return Status::Error(uw() + ": name is empty or holds a NUL byte");
    }
    if (!seen_units.insert(unit_names[u]).second) return Status::Error(uw() + ": a second unit of that name");
    if (first[u] < 0) return Status::Error(uw() + ": no tensor belongs to it");
  }
  return Status::Ok();
}

// Directory entries are data too: without this a crash right after the rename may lose the new name.
void SyncDirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

Result<std::unique_ptr<ModelFileWriter>> ModelFileWriter::Create(const std::string& path,
                                                                 const std::map<std::string, std::string>& metadata,
                                                                 const std::vector<Spec>& specs,
                                                                 const std::vector<std::string>& unit_names) {
  auto fail = [&](const std::string& msg) { return Status::Error(path + ": " + msg); };
  GLMV_RETURN_IF_ERROR(CheckSpecs(specs, unit_names).Annotate(path));
  std::string meta;
  try {  // nlohmann refuses strings that are not UTF-8 by throwing; exceptions stay inside io
    meta = nlohmann::json(metadata).dump();
  } catch (const nlohmann::json::exception& e) {
    return fail(std::string("metadata cannot be written as JSON: ") + e.what());
  }

  // Header, tables and names, in the order of the layout comment; sizes of in-memory inputs cannot overflow.
  const size_t n = specs.size(), u_count = unit_names.size();
  FileHeader h{};
  std::memcpy(h.magic, kModelFileMagic, sizeof h.magic);
  h.version = kModelFileVersion;
  h.header_bytes = sizeof(FileHeader);
  h.metadata_offset = sizeof(FileHeader);
  h.metadata_bytes = meta.size();
  h.table_offset = AlignUp(h.metadata_offset + h.metadata_bytes, 8);
  h.tensor_count = n;
  h.unit_offset = h.table_offset + n * sizeof(TensorEntry);
  h.unit_count = u_count;
  h.names_offset = h.unit_offset + u_count * sizeof(UnitEntry);
  std::string names;
  std::vector<TensorEntry> entries(n);
  std::vector<UnitEntry> units(u_count);
  for (size_t u = 0; u < u_count; ++u) {
    units[u].name_offset = names.size();
    units[u].name_bytes = static_cast<uint32_t>(unit_names[u].size());
    names += unit_names[u];
  }
  // Data: each tensor 64-aligned; a unit starts a page, and so does whatever follows it, so its pages can
  // be read, prefetched or dropped without touching anything else.
  uint64_t cursor = 0;
  for (size_t i = 0; i < n; ++i) {
    const Spec& s = specs[i];
    TensorEntry& e = entries[i];
    e.name_offset = names.size();
    e.name_bytes = static_cast<uint32_t>(s.name.size());
    names += s.name;
    e.dtype = ModelFileDTypeCode(s.dtype);
    e.ndim = static_cast<uint32_t>(s.shape.size());
    e.unit = s.unit < 0 ? kModelFileNoUnit : static_cast<uint32_t>(s.unit);
    std::copy(s.shape.begin(), s.shape.end(), e.shape);
    const bool new_unit = s.unit >= 0 && (i == 0 || specs[i - 1].unit != s.unit);
    const bool after_unit = i > 0 && specs[i - 1].unit >= 0 && specs[i - 1].unit != s.unit;
    const uint64_t align = new_unit || after_unit ? kModelFileDataAlign : kModelFileTensorAlign;
    uint64_t padded = 0, end = 0;
    if (!Add(cursor, align - 1, &padded) || !Add(padded / align * align, s.bytes, &end)) {
      return fail("the tensors' sizes add up past 2^64 bytes");
    }
    e.offset = padded / align * align;
    e.bytes = s.bytes;
    cursor = end;
    if (s.unit >= 0) {
      UnitEntry& ue = units[s.unit];
      if (new_unit) {
        ue.first_tensor = static_cast<uint32_t>(i);
        ue.offset = e.offset;
      }
      ++ue.tensor_count;
      ue.bytes = end - ue.offset;
    }
  }
  h.names_bytes = names.size();
  h.data_offset = AlignUp(h.names_offset + h.names_bytes, kModelFileDataAlign);
  if (!Add(cursor, kModelFileDataAlign - 1, &h.data_bytes) ||
      !Add(h.data_offset, h.data_bytes / kModelFileDataAlign * kModelFileDataAlign, &h.file_bytes)) {
    return fail("the tensors' sizes add up past 2^64 bytes");
  }
  h.data_bytes = h.data_bytes / kModelFileDataAlign * kModelFileDataAlign;

  std::unique_ptr<ModelFileWriter> w(new ModelFileWriter());
  w->path_ = path;
  w->tmp_ = path + ".partial";
  w->specs_ = specs;
  w->file_bytes_ = h.file_bytes;
  w->data_offset_ = h.data_offset;
  for (const auto& e : entries) w->offsets_.push_back(h.data_offset + e.offset);
  w->file_ = std::fopen(w->tmp_.c_str(), "wb");
  if (!w->file_) return Status::Error(w->tmp_ + ": cannot create: " + std::strerror(errno));
  // On any error below `w` dies and its destructor removes the partial file.
  const std::string& where = w->tmp_;
  GLMV_RETURN_IF_ERROR(WriteAll(w->file_, &h, sizeof h, where));
  GLMV_RETURN_IF_ERROR(WriteAll(w->file_, meta.data(), meta.size(), where));
  GLMV_RETURN_IF_ERROR(WriteZeros(w->file_, h.table_offset - (h.metadata_offset + h.metadata_bytes), where));
  GLMV_RETURN_IF_ERROR(WriteAll(w->file_, entries.data(), n * sizeof(TensorEntry), where));
  GLMV_RETURN_IF_ERROR(WriteAll(w->file_, units.data(), u_count * sizeof(UnitEntry), where));
  GLMV_RETURN_IF_ERROR(WriteAll(w->file_, names.data(), names.size(), where));
  GLMV_RETURN_IF_ERROR(WriteZeros(w->file_, h.data_offset - (h.names_offset + h.names_bytes), where));
  return w;
}

ModelFileWriter::~ModelFileWriter() { Abandon(); }

void ModelFileWriter::Abandon() {
  if (!file_) return;
  std::fclose(file_);
  file_ = nullptr;
  std::remove(tmp_.c_str());
}

Status ModelFileWriter::Append(std::span<const uint8_t> bytes) {
  if (!file_) return Status::Error(path_ + ": the writer has finished or failed");
  if (next_ >= specs_.size()) return Status::Error(Cat(path_, ": all ", specs_.size(), " tensors are already written"));
  const Spec& s = specs_[next_];
  if (bytes.size() != s.bytes) {
    return Status::Error(Cat(path_, ": tensor ", next_, " ", Quoted(s.name), " got ", bytes.size(),
                             " bytes, its spec says ", s.bytes));
  }
  Status st = WriteZeros(file_, offsets_[next_] - (data_offset_ + written_), tmp_);
  if (st.ok()) st = WriteAll(file_, bytes.data(), bytes.size(), tmp_);
  if (!st.ok()) {
    Abandon();  // a half-written tensor cannot be retried; the partial file is useless
    return st;
  }
  written_ = offsets_[next_] + bytes.size() - data_offset_;
  ++next_;
  return Status::Ok();
}

Status ModelFileWriter::Finish() {
  if (!file_) return Status::Error(path_ + ": the writer has finished or failed");
  if (next_ != specs_.size()) {
    return Status::Error(Cat(path_, ": ", specs_.size() - next_, " of ", specs_.size(),
                             " tensors were never appended, the first is ", Quoted(specs_[next_].name)));
  }
  Status st = WriteZeros(file_, file_bytes_ - (data_offset_ + written_), tmp_);
  if (st.ok() && std::fflush(file_) != 0) st = Status::Error(tmp_ + ": write failed: " + std::strerror(errno));
  // fsync before the rename: otherwise a crash could leave the final name on a file with missing data.
  if (st.ok() && ::fsync(::fileno(file_)) != 0) st = Status::Error(tmp_ + ": fsync failed: " + std::strerror(errno));
  // The written pages are clean now; drop them from the page cache. Cached from writes they sit in small
  // folios, and a model mapped over small folios streams its weights about 1.5x slower than over the 2 MiB
  // folios the first read through MappedFile's MADV_HUGEPAGE mapping gets (Linux >= 6.16 on ext4).
  if (st.ok()) (void)::posix_fadvise(::fileno(file_), 0, 0, POSIX_FADV_DONTNEED);
  if (st.ok() && std::fclose(std::exchange(file_, nullptr)) != 0) {
    st = Status::Error(tmp_ + ": close failed: " + std::strerror(errno));
  }
  if (st.ok() && std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    st = Status::Error(Cat("cannot rename ", tmp_, " to ", path_, ": ", std::strerror(errno)));
  }
  if (!st.ok()) {
    Abandon();
    std::remove(tmp_.c_str());  // Abandon() does nothing once the file is closed
    return st;
  }
  written_ = file_bytes_ - data_offset_;
  SyncDirectoryOf(path_);
  return Status::Ok();
}

}  // namespace glmv
