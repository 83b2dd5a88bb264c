#include "lib/text/text_weights.h"

namespace glmv {

Status BindTextWeights(const TextConfig& config, const Checkpoint& ckpt, TextWeights& out, WeightStorage& storage) {
  Status status;
  ForEachTextTensor(config, out, [&](const std::string& name, const std::vector<int64_t>& shape, Weight& w) {
    // Matrices may be packed; vectors (norms, biases, the router's correction bias) stay float. The router
    // itself stays float too: its logits pick the experts, and a flipped choice costs more than it saves.
    const bool matrix = shape.size() == 2 && name.find("mlp.gate.weight") == std::string::npos;
    if (status.ok()) status = BindWeight(ckpt, name, shape, w, storage, {.packed = matrix});
  });
  if (status.ok() && config.tie_word_embeddings) out.lm_head = out.embed;
  return status;
}

}  // namespace glmv
