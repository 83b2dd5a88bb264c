#include "lib/model/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "lib/model/model_assets.h"

namespace glmv {
namespace fs = std::filesystem;

Result<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& dir) {
  if (IsModelFile(dir)) {
    auto ckpt = std::make_unique<Checkpoint>();
    ckpt->dir_ = dir;
    GLMV_ASSIGN_OR_RETURN(ModelFile file, ModelFile::Open(dir));
    ckpt->model_file_ = std::make_unique<ModelFile>(std::move(file));
    const auto& meta = ckpt->model_file_->metadata();
    auto it = meta.find("config.json");
    if (it == meta.end()) return Status::Error(dir + ": the model file has no config.json in its metadata");
    GLMV_ASSIGN_OR_RETURN(ckpt->config_, ParseModelConfig(it->second, dir + ":config.json"));
    for (const auto& t : ckpt->model_file_->tensors()) ckpt->by_name_.emplace(t.name, &t);
    return ckpt;
  }
  if (!fs::is_directory(dir)) {
    return Status::Error(dir + ": not a model directory (config.json + safetensors) nor a .glmv model file");
  }
  auto ckpt = std::make_unique<Checkpoint>();
  ckpt->dir_ = dir;
  GLMV_ASSIGN_OR_RETURN(ckpt->config_, LoadModelConfig((fs::path(dir) / "config.json").string()));

  // Which files: the index's weight_map values, or the single model.safetensors.
  std::vector<std::string> shard_names;
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  std::map<std::string, std::string> weight_map;
  if (fs::exists(index_path)) {
    std::ifstream f(index_path);
    std::stringstream ss;
    ss << f.rdbuf();
    const auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
      return Status::Error(index_path.string() + ": not a valid index (needs a weight_map object)");
    }
    std::set<std::string> unique;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) return Status::Error(index_path.string() + ": weight_map values must be file names");
      const std::string file = it.value().get<std::string>();
      if (file.find('/') != std::string::npos || file == "..") {
        return Status::Error(index_path.string() + ": shard name '" + file + "' must be a plain file name");
      }
      weight_map[it.key()] = file;
      if (unique.insert(file).second) shard_names.push_back(file);
    }
  } else if (fs::exists(fs::path(dir) / "model.safetensors")) {
    shard_names.push_back("model.safetensors");
  } else {
    return Status::Error(dir + ": no model.safetensors or model.safetensors.index.json");
  }

  for (const auto& name : shard_names) {
    GLMV_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open((fs::path(dir) / name).string()));
    ckpt->files_.push_back(std::move(file));
  }
  for (const auto& file : ckpt->files_) {
    for (const auto& t : file.tensors()) {
      auto [it, inserted] = ckpt->by_name_.emplace(t.name, &t);
      if (!inserted) {
        return Status::Error("tensor '" + t.name + "' appears in both " + *it->second->file + " and " + file.path());
      }
    }
  }
  // The index must describe the shards truthfully: a tensor it places in one shard must be there.
  for (const auto& [name, file] : weight_map) {
    const TensorView* t = ckpt->Find(name);
    if (!t) return Status::Error(index_path.string() + ": lists '" + name + "' in " + file + ", which does not contain it");
    if (fs::path(*t->file).filename() != file) {
      return Status::Error(index_path.string() + ": lists '" + name + "' in " + file + " but it is in " + *t->file);
    }
  }
  return ckpt;
}

const TensorView* Checkpoint::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

}  // namespace glmv
