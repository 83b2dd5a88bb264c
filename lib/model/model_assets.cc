#include "lib/model/model_assets.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/model_file.h"

namespace glmv {

bool IsModelFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream f(path, std::ios::binary);
  char magic[sizeof kModelFileMagic] = {};
  f.read(magic, sizeof magic);
  return f.gcount() == sizeof magic && std::memcmp(magic, kModelFileMagic, sizeof magic) == 0;
}

Result<std::optional<std::string>> ReadModelAsset(const std::string& model, const std::string& name) {
  namespace fs = std::filesystem;
  if (IsModelFile(model)) {
    GLMV_ASSIGN_OR_RETURN(ModelFile file, ModelFile::Open(model));
    auto it = file.metadata().find(name);
    if (it == file.metadata().end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  const fs::path path = fs::path(model) / name;
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<std::string>();
  GLMV_ASSIGN_OR_RETURN(std::string text, ReadAssetFile(path.string()));
  return std::optional<std::string>(std::move(text));
}

Result<std::string> ReadAssetFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Error(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return Status::Error(path + ": read error");
  return ss.str();
}

}  // namespace glmv
