// NumPy .npy arrays (format version 1.0/2.0/3.0, little-endian, C order): the golden-vector format, and
// what `glmv preprocess` writes so any tensor can be compared with the reference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/status.h"

namespace glmv {

struct NpyArray {
  char kind = 'f';      // 'f' float, 'i' signed int, 'u' unsigned, 'b' bool
  int item_size = 4;    // bytes per element
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // raw little-endian elements

  int64_t NumElements() const;
  // Element i converted; valid for every numeric kind.
  double At(int64_t i) const;
  std::vector<float> ToFloat() const;
  std::vector<int64_t> ToInt64() const;
};

Result<NpyArray> ReadNpy(const std::string& path);
Status WriteNpyF32(const std::string& path, const std::vector<int64_t>& shape, const float* data);
Status WriteNpyI64(const std::string& path, const std::vector<int64_t>& shape, const int64_t* data);
Status WriteNpyF64(const std::string& path, const std::vector<int64_t>& shape, const double* data);

}  // namespace glmv
