#include "lib/experts/expert_source.h"

#include <string>

namespace glmv {

Result<const MlpWeights*> MappedExperts::Acquire(size_t layer, size_t expert) {
  if (layer >= per_layer_.size() || expert >= per_layer_[layer].size()) {
    return Status::Error("expert " + std::to_string(expert) + " of layer " + std::to_string(layer) + " does not exist");
  }
  return &per_layer_[layer][expert];
}

}  // namespace glmv
