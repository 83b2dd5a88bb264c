// The weights of a model, memory-mapped, looked up by checkpoint tensor name: either a Hugging Face
// directory (config.json plus model.safetensors or shards listed in model.safetensors.index.json) or one
// converted .glmv file (io/model_file.h; config.json in its metadata, packed matrices in kernel layout).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/model_file.h"
#include "io/safetensors.h"
#include "io/status.h"
#include "lib/model/config.h"

namespace glmv {

class Checkpoint {
 public:
  // `path`: a model directory or a .glmv file.
  static Result<std::unique_ptr<Checkpoint>> Open(const std::string& path);

  const ModelConfig& config() const { return config_; }
  const std::string& dir() const { return dir_; }
  // nullptr when absent.
  const TensorView* Find(const std::string& name) const;
  size_t num_tensors() const { return by_name_.size(); }
  // The safetensors files of a Hugging Face directory (empty for a .glmv file).
  const std::vector<SafetensorsFile>& files() const { return files_; }
  // The .glmv file, or nullptr for a Hugging Face directory.
  const ModelFile* model_file() const { return model_file_.get(); }

 private:
  std::string dir_;
  ModelConfig config_;
  std::vector<SafetensorsFile> files_;
  std::unique_ptr<ModelFile> model_file_;
  std::map<std::string, const TensorView*> by_name_;
};

}  // namespace glmv
