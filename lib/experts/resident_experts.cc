#include "lib/experts/resident_experts.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace glmv {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

size_t MatrixBytes(const Weight& m) {
  return PackedMatrixBytes(m.dtype, static_cast<size_t>(m.rows()), static_cast<size_t>(m.cols()));
}

}  // namespace

Result<std::unique_ptr<ResidentExperts>> ResidentExperts::Copy(std::span<const std::span<const MlpWeights>> per_layer) {
  size_t total = 0;
  for (const auto& layer : per_layer) {
    for (const MlpWeights& e : layer) {
      for (const Weight* m : {&e.gate, &e.up, &e.down}) {
        if (!m->is_packed()) return Status::Error("--experts-in-ram needs int4/int8 experts (a converted .glmv model)");
        total += MatrixBytes(*m);
      }
    }
  }
  std::unique_ptr<ResidentExperts> r(new ResidentExperts());
  r->size_ = (total + kHugePage - 1) / kHugePage * kHugePage + kHugePage;  // room to align the start
  void* p = mmap(nullptr, r->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const std::string why = std::strerror(errno);
    r->size_ = 0;
    return Status::Error("--experts-in-ram: cannot allocate " + std::to_string(total >> 20) + " MiB for the experts: " + why);
  }
  r->base_ = static_cast<uint8_t*>(p);
  uint8_t* at = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + kHugePage - 1) & ~(kHugePage - 1));
  madvise(at, total, MADV_HUGEPAGE);  // a hint: without transparent huge pages the copy still works
  for (const auto& layer : per_layer) {
    r->per_layer_.emplace_back();
    for (const MlpWeights& e : layer) {
      MlpWeights copy = e;
      for (Weight* m : {&copy.gate, &copy.up, &copy.down}) {
        const size_t n = MatrixBytes(*m);
        std::memcpy(at, m->packed, n);
        m->packed = at;
        at += n;
      }
      r->per_layer_.back().push_back(std::move(copy));
    }
  }
  return r;
}

ResidentExperts::~ResidentExperts() {
  if (base_) munmap(base_, size_);
}

Result<const MlpWeights*> ResidentExperts::Acquire(size_t layer, size_t expert) {
  if (layer >= per_layer_.size() || expert >= per_layer_[layer].size()) return NoSuchExpert(layer, expert);
  return &per_layer_[layer][expert];
}

}  // namespace glmv
