#include "io/npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>

namespace glmv {

int64_t NpyArray::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

double NpyArray::At(int64_t i) const {
  const uint8_t* p = data.data() + i * item_size;
  switch (kind) {
    case 'f':
      if (item_size == 4) { float v; std::memcpy(&v, p, 4); return v; }
      if (item_size == 8) { double v; std::memcpy(&v, p, 8); return v; }
      break;
    case 'i':
      if (item_size == 8) { int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
      if (item_size == 4) { int32_t v; std::memcpy(&v, p, 4); return v; }
      if (item_size == 2) { int16_t v; std::memcpy(&v, p, 2); return v; }
      if (item_size == 1) return static_cast<int8_t>(*p);
      break;
    case 'u':
    case 'b':
      if (item_size == 1) return *p;
      if (item_size == 2) { uint16_t v; std::memcpy(&v, p, 2); return v; }
      if (item_size == 4) { uint32_t v; std::memcpy(&v, p, 4); return v; }
      if (item_size == 8) { uint64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
      break;
  }
  return 0.0;
}

std::vector<float> NpyArray::ToFloat() const {
  std::vector<float> out(NumElements());
  for (int64_t i = 0; i < NumElements(); ++i) out[i] = static_cast<float>(At(i));
  return out;
}

std::vector<int64_t> NpyArray::ToInt64() const {
  std::vector<int64_t> out(NumElements());
  if (kind == 'i' && item_size == 8) {
    std::memcpy(out.data(), data.data(), data.size());
    return out;
  }
  for (int64_t i = 0; i < NumElements(); ++i) out[i] = static_cast<int64_t>(At(i));
  return out;
}

Result<NpyArray> ReadNpy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Error(path + ": cannot open");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto fail = [&](const std::string& m) { return Status::Error(path + ": " + m); };
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) return fail("not a .npy file");
  const int major = bytes[6];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = bytes[8] | (bytes[9] << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return fail("truncated .npy header");
    header_len = bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (static_cast<size_t>(bytes[11]) << 24);
    header_start = 12;
  } else {
    return fail("unsupported .npy version " + std::to_string(major));
  }
  if (header_start + header_len > bytes.size()) return fail("truncated .npy header");
  const std::string header(reinterpret_cast<const char*>(bytes.data() + header_start), header_len);

  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([<>|=])([fiub])(\\d+)'"))) {
    return fail("unsupported dtype in header " + header);
  }
  if (m[1] == ">") return fail("big-endian arrays are not supported");
  NpyArray a;
  a.kind = m[2].str()[0];
  a.item_size = std::stoi(m[3]);
  const bool fortran = std::regex_search(header, std::regex("'fortran_order':\\s*True"));
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) return fail("no shape in header");
  const std::string dims = m[1];
  const std::regex num("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it) {
    a.shape.push_back(std::stoll(it->str()));
  }
  const size_t data_start = header_start + header_len;
  const size_t want = static_cast<size_t>(a.NumElements()) * a.item_size;
  if (bytes.size() - data_start < want) return fail("truncated data: " + std::to_string(bytes.size() - data_start) +
                                                    " bytes, shape needs " + std::to_string(want));
  a.data.assign(bytes.begin() + data_start, bytes.begin() + data_start + want);
  if (fortran && a.shape.size() > 1) {
    // Column-major on disk (np.save keeps a transposed array's order): reorder to C order.
    std::vector<uint8_t> c_order(a.data.size());
    const size_t rank = a.shape.size();
    std::vector<int64_t> idx(rank, 0);
    for (int64_t f = 0; f < a.NumElements(); ++f) {
      // idx is the multi-index of Fortran element f (first axis fastest).
      int64_t c = 0;
      for (size_t d = 0; d < rank; ++d) c = c * a.shape[d] + idx[d];
      std::memcpy(c_order.data() + c * a.item_size, a.data.data() + f * a.item_size, a.item_size);
      for (size_t d = 0; d < rank; ++d) {
        if (++idx[d] < a.shape[d]) break;
        idx[d] = 0;
      }
    }
    a.data = std::move(c_order);
  }
  return a;
}

namespace {
Status WriteNpy(const std::string& path, const std::vector<int64_t>& shape, const char* descr, size_t item,
                const void* data) {
  std::string dims;
  int64_t n = 1;
  for (int64_t d : shape) {
    dims += std::to_string(d) + ", ";
    n *= d;
  }
  // Python tuple syntax: "(2, 3)", "(4,)", "()".
  if (shape.size() == 1) dims.resize(dims.size() - 1);
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::Error(tmp + ": cannot create");
    const uint16_t hl = static_cast<uint16_t>(header.size());
    f.write("\x93NUMPY\x01\x00", 8);
    f.put(static_cast<char>(hl & 0xff));
    f.put(static_cast<char>(hl >> 8));
    f.write(header.data(), static_cast<std::streamsize>(header.size()));
    f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n * item));
    if (!f) return Status::Error(tmp + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::Error(path + ": cannot rename into place");
  return Status::Ok();
}
}  // namespace

Status WriteNpyF32(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  return WriteNpy(path, shape, "<f4", 4, data);
}
Status WriteNpyI64(const std::string& path, const std::vector<int64_t>& shape, const int64_t* data) {
  return WriteNpy(path, shape, "<i8", 8, data);
}

Status WriteNpyF64(const std::string& path, const std::vector<int64_t>& shape, const double* data) {
  return WriteNpy(path, shape, "<f8", 8, data);
}

}  // namespace glmv
