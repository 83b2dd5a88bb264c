#include "io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

namespace glmv {
namespace {

// Headers of real checkpoints are well under a megabyte; refuse absurd lengths before allocating.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

}  // namespace

int64_t TensorView::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeString(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept { *this = std::move(other); }

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  file_ = std::move(other.file_);
  tensors_ = std::move(other.tensors_);
  metadata_ = std::move(other.metadata_);
  RebindFilePointers();
  return *this;
}

void SafetensorsFile::RebindFilePointers() {
  for (auto& t : tensors_) t.file = &file_.path();
}

Result<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  GLMV_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  return FromMapped(std::move(file));
}

Result<SafetensorsFile> SafetensorsFile::FromMapped(MappedFile file) {
  const std::string where = file.path();
  const auto bytes = file.bytes();
  auto fail = [&](const std::string& msg) { return Status::Error(where + ": " + msg); };
  if (bytes.size() < 8) {
    return fail("truncated safetensors file: " + std::to_string(bytes.size()) +
                " bytes, too short for the 8-byte header length");
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > bytes.size() - 8) {
    return fail("header length " + std::to_string(header_len) + " runs past the end of the file (" +
                std::to_string(bytes.size()) + " bytes): truncated or not a safetensors file");
  }
  if (header_len > kMaxHeaderBytes) return fail("header length " + std::to_string(header_len) + " is implausibly large");

  const char* hdr = reinterpret_cast<const char*>(bytes.data() + 8);
  nlohmann::json j = nlohmann::json::parse(hdr, hdr + header_len, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail("header is not valid JSON");
  if (!j.is_object()) return fail("header is not a JSON object");

  const uint64_t data_begin = 8 + header_len;
  const uint64_t data_size = bytes.size() - data_begin;
  SafetensorsFile out;
  struct Range {
    uint64_t begin, end;
    const std::string* name;
  };
  std::vector<Range> ranges;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const auto& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) return fail("__metadata__ is not an object");
      for (auto m = e.begin(); m != e.end(); ++m) {
        if (m.value().is_string()) out.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string tw = "tensor '" + name + "'";
    if (!e.is_object()) return fail(tw + ": entry is not an object");
    if (!e.contains("dtype") || !e["dtype"].is_string()) return fail(tw + ": missing dtype");
    const std::string dname = e["dtype"].get<std::string>();
    const auto dtype = DTypeFromName(dname);
    if (!dtype) return fail(tw + ": unknown dtype '" + dname + "'");
    if (!e.contains("shape") || !e["shape"].is_array()) return fail(tw + ": missing shape");
    TensorView t;
    t.name = name;
    t.dtype = *dtype;
    uint64_t numel = 1;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) return fail(tw + ": shape has a non-integer or negative dimension");
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 16 / dim) return fail(tw + ": shape overflows");
      numel *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& off = e.contains("data_offsets") ? e["data_offsets"] : nlohmann::json();
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      // A negative JSON integer is number_integer but not number_unsigned.
      return fail(tw + ": data_offsets must be two non-negative integers");
    }
    const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en || en > data_size) {
      return fail(tw + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(en) +
                  "] out of range (data section is " + std::to_string(data_size) + " bytes)");
    }
    const uint64_t want = numel * DTypeSize(*dtype);
    if (en - b != want) {
      return fail(tw + ": data_offsets cover " + std::to_string(en - b) + " bytes but " + dname + " " +
                  ShapeString(t.shape) + " needs " + std::to_string(want));
    }
    t.bytes = bytes.subspan(data_begin + b, en - b);
    out.tensors_.push_back(std::move(t));
  }
  for (const auto& t : out.tensors_) {
    const uint64_t b = static_cast<uint64_t>(t.bytes.data() - bytes.data()) - data_begin;
    ranges.push_back({b, b + t.bytes.size(), &t.name});
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].begin < ranges[i - 1].end) {
      return fail("tensors '" + *ranges[i - 1].name + "' and '" + *ranges[i].name + "' overlap in the data section");
    }
  }
  std::sort(out.tensors_.begin(), out.tensors_.end(),
            [](const TensorView& a, const TensorView& b) { return a.name < b.name; });
  out.file_ = std::move(file);
  out.RebindFilePointers();
  return out;
}

}  // namespace glmv

namespace glmv {

Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    uint64_t numel = 1;
    for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
    if (numel * DTypeSize(t.dtype) != t.bytes.size()) {
      return Status::Error(path + ": tensor '" + t.name + "' has " + std::to_string(t.bytes.size()) +
                           " bytes, shape needs " + std::to_string(numel * DTypeSize(t.dtype)));
    }
    header[t.name] = {{"dtype", DTypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Status::Error(tmp + ": cannot create");
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  for (const auto& t : tensors) ok = ok && std::fwrite(t.bytes.data(), 1, t.bytes.size(), f) == t.bytes.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::Error(path + ": write failed");
  }
  return Status::Ok();
}

}  // namespace glmv

namespace glmv {

namespace {

uint64_t SpecBytes(const SafetensorsWriter::Spec& s) {
  uint64_t numel = 1;
  for (int64_t d : s.shape) numel *= static_cast<uint64_t>(d);
  return numel * DTypeSize(s.dtype);
}

// The JSON header, padded with spaces to a multiple of 8 bytes so the data section stays aligned.
std::string WriterHeader(const std::vector<SafetensorsWriter::Spec>& specs,
                         const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& s : specs) {
    const uint64_t size = SpecBytes(s);
    header[s.name] = {{"dtype", DTypeName(s.dtype)}, {"shape", s.shape}, {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

}  // namespace

uint64_t SafetensorsWriter::FileBytes(const std::vector<Spec>& specs, const std::map<std::string, std::string>& metadata) {
  uint64_t total = 8 + WriterHeader(specs, metadata).size();
  for (const auto& s : specs) total += SpecBytes(s);
  return total;
}

Result<std::unique_ptr<SafetensorsWriter>> SafetensorsWriter::Create(const std::string& path, const std::vector<Spec>& specs,
                                                                     const std::map<std::string, std::string>& metadata) {
  const std::string text = WriterHeader(specs, metadata);
  std::unique_ptr<SafetensorsWriter> w(new SafetensorsWriter());
  w->path_ = path;
  w->tmp_ = path + ".tmp";
  w->specs_ = specs;
  w->file_ = std::fopen(w->tmp_.c_str(), "wb");
  if (!w->file_) return Status::Error(w->tmp_ + ": cannot create");
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  if (std::fwrite(len, 1, 8, w->file_) != 8 || std::fwrite(text.data(), 1, text.size(), w->file_) != text.size()) {
    return Status::Error(w->tmp_ + ": write failed");
  }
  return w;
}

SafetensorsWriter::~SafetensorsWriter() {
  if (file_) {
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
}

Status SafetensorsWriter::Append(std::span<const uint8_t> bytes) {
  if (!file_ || next_ >= specs_.size()) return Status::Error(path_ + ": more tensors appended than declared");
  const Spec& s = specs_[next_];
  if (part_ != 0 || bytes.size() != SpecBytes(s)) {
    return Status::Error(path_ + ": tensor '" + s.name + "' got " + std::to_string(part_ + bytes.size()) + " bytes, needs " +
                         std::to_string(SpecBytes(s)));
  }
  return AppendPart(bytes);
}

Status SafetensorsWriter::AppendPart(std::span<const uint8_t> bytes) {
  if (!file_ || next_ >= specs_.size()) return Status::Error(path_ + ": more tensors appended than declared");
  const Spec& s = specs_[next_];
  const uint64_t size = SpecBytes(s);
  if (part_ + bytes.size() > size) {
    return Status::Error(path_ + ": tensor '" + s.name + "' got " + std::to_string(part_ + bytes.size()) +
                         " bytes, needs " + std::to_string(size));
  }
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return Status::Error(tmp_ + ": write failed (disk full?)");
  }
  written_ += bytes.size();
  part_ += bytes.size();
  if (part_ == size) {
    part_ = 0;
    ++next_;
  }
  return Status::Ok();
}

Status SafetensorsWriter::Finish() {
  if (!file_) return Status::Error(path_ + ": already finished");
  if (next_ != specs_.size()) {
    return Status::Error(path_ + ": " + std::to_string(specs_.size() - next_) + " declared tensors were never written");
  }
  const bool ok = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    std::remove(tmp_.c_str());
    return Status::Error(path_ + ": could not complete the file");
  }
  return Status::Ok();
}

}  // namespace glmv
