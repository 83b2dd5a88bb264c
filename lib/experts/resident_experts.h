// Every routed expert copied once into anonymous memory backed by 2 MiB pages. Streaming experts from the
// model file's mapping runs into its 4 KiB pages (a TLB walk every 4 KiB, hardware prefetch stopping at
// each page): bench_batch measured the copy streamed about twice as fast (AMD EPYC, 2 threads: a decode
// step's experts 6.9 vs 11.9 ms for one sequence, 22 vs 43 ms for four). It costs RAM the size of the
// experts, so it is a choice (--experts-in-ram), for models that fit in memory twice over or nearly.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "io/status.h"
#include "lib/experts/expert_source.h"

namespace glmv {

class ResidentExperts final : public ExpertSource {
 public:
  // Copies per_layer[l][e]'s packed gate, up and down matrices (every matrix must be packed: a float model's
  // experts stay mapped). An error when the memory cannot be had.
  static Result<std::unique_ptr<ResidentExperts>> Copy(std::span<const std::span<const MlpWeights>> per_layer);
  ~ResidentExperts() override;
  ResidentExperts(const ResidentExperts&) = delete;
  ResidentExperts& operator=(const ResidentExperts&) = delete;

  Result<const MlpWeights*> Acquire(size_t layer, size_t expert) override;
  void Release(size_t, size_t) override {}
  void Prefetch(size_t, std::span<const int64_t>) override {}
  size_t bytes() const { return size_; }

 private:
  ResidentExperts() = default;
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
  std::vector<std::vector<MlpWeights>> per_layer_;
};

}  // namespace glmv
