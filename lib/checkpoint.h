// A Hugging Face model directory: config.json plus either model.safetensors or shards listed in
// model.safetensors.index.json, all memory-mapped. Lookup by checkpoint tensor name.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "io/status.h"
#include "lib/config.h"

namespace glmv {

class Checkpoint {
 public:
  static Result<std::unique_ptr<Checkpoint>> Open(const std::string& dir);

  const ModelConfig& config() const { return config_; }
  const std::string& dir() const { return dir_; }
  // nullptr when absent.
  const TensorView* Find(const std::string& name) const;
  size_t num_tensors() const { return by_name_.size(); }

 private:
  std::string dir_;
  ModelConfig config_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, const TensorView*> by_name_;
};

}  // namespace glmv
