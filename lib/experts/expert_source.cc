#include "lib/experts/expert_source.h"

#include <string>

namespace glmv {

Status NoSuchExpert(size_t layer, size_t expert) {
  return Status::Error("expert " + std::to_string(expert) + " of layer " + std::to_string(layer) + " does not exist");
}

Status ExpertSource::BeginAcquire(size_t layer, std::span<const size_t> ids, std::span<const MlpWeights*> out) {
  for (size_t i = 0; i < ids.size(); ++i) {
    Result<const MlpWeights*> got = Acquire(layer, ids[i]);
    if (!got.ok()) {  // nothing stays acquired
      for (size_t j = 0; j < i; ++j) {
        Release(layer, ids[j]);
        out[j] = nullptr;
      }
      return got.status();
    }
    out[i] = *got;
  }
  return Status::Ok();
}

Status ExpertSource::FinishAcquire(size_t layer, std::span<const size_t> ids, std::span<const MlpWeights*> out) {
  Status first;
  for (size_t i = 0; i < ids.size(); ++i) {  // only what a BeginAcquire override left to come
    if (out[i]) continue;
    Result<const MlpWeights*> got = Acquire(layer, ids[i]);
    if (got.ok()) {
      out[i] = *got;
    } else if (first.ok()) {
      first = got.status();
    }
  }
  return first;
}

Result<const MlpWeights*> MappedExperts::Acquire(size_t layer, size_t expert) {
  if (layer >= per_layer_.size() || expert >= per_layer_[layer].size()) return NoSuchExpert(layer, expert);
  return &per_layer_[layer][expert];
}

}  // namespace glmv
