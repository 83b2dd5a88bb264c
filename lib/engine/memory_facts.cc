#include "lib/engine/memory_facts.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/model_file.h"
#include "lib/model/config.h"
#include "lib/model/model_assets.h"
#include "lib/vision/vision_weights.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

uint64_t RoundUp(uint64_t n) { return (n + kModelFileDataAlign - 1) / kModelFileDataAlign * kModelFileDataAlign; }

// The first number of the file at `path`, or 0 (missing, unreadable, or v2's "max").
uint64_t ReadNumber(const fs::path& path) {
  std::ifstream f(path);
  uint64_t n = 0;
  if (!(f >> n)) return 0;
  return n;
}

// cgroup v1 reports "no limit" as the largest page-aligned signed 64-bit value; anything past 2^60 is that.
constexpr uint64_t kNoLimit = uint64_t{1} << 60;

// The smallest limit in `file` of the cgroup at `dir` and of its ancestors up to `mount`.
uint64_t SmallestLimit(const fs::path& mount, const std::string& cgroup_path, const char* file) {
  uint64_t smallest = 0;
  fs::path rel = fs::path(cgroup_path).relative_path();
  for (;;) {
    const uint64_t n = ReadNumber(mount / rel / file);
    if (n > 0 && n < kNoLimit && (smallest == 0 || n < smallest)) smallest = n;
    if (rel.empty()) break;
    rel = rel.parent_path();
  }
  return smallest;
}

}  // namespace

Result<ModelMemoryFacts> ReadModelMemoryFacts(const std::string& model, const EngineOptions& options) {
  ModelMemoryFacts f;
  f.model = model;
  f.model_file = IsModelFile(model);
  std::optional<std::string> config_text;
  if (f.model_file) {
    GLMV_ASSIGN_OR_RETURN(const ModelFile file, ModelFile::Open(model));
    f.file_bytes = file.header().file_bytes;
    for (const UnitView& u : file.units()) {  // units are routed experts (io/model_file.h)
      f.expert_bytes += RoundUp(u.bytes.size());
      f.slot_bytes = std::max<uint64_t>(f.slot_bytes, RoundUp(u.bytes.size()));
    }
    for (const TensorView& t : file.tensors()) {  // the vision tower, used only while images encode
      if (t.name.starts_with(kVisionTensorPrefix)) f.vision_bytes += t.bytes.size();
    }
    if (auto it = file.metadata().find("config.json"); it != file.metadata().end()) config_text = it->second;
  } else {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(model, ec)) {
      if (entry.path().extension() == ".safetensors") f.file_bytes += entry.file_size(ec);
    }
    if (ec) return Status::Error(model + ": cannot list the model directory: " + ec.message());
    GLMV_ASSIGN_OR_RETURN(config_text, ReadModelAsset(model, "config.json"));
  }
  if (!config_text) return Status::Error(model + ": no config.json");
  GLMV_ASSIGN_OR_RETURN(const ModelConfig config, ParseModelConfig(*config_text, model + ":config.json"));
  f.experts_per_token = static_cast<uint64_t>(std::max<int64_t>(config.text.num_experts_per_tok, 0));
  f.kv_reserve_bytes = KvReserveBytes(config.text, options);
  return f;
}

HostMemory ReadHostMemory(const std::string& root) {
  HostMemory h;
  const fs::path base(root);
  std::ifstream meminfo(base / "proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    unsigned long long kb = 0;
    if (std::sscanf(line.c_str(), "MemAvailable: %llu kB", &kb) == 1) {
      h.mem_available = kb * 1024;
      break;
    }
  }
  // /proc/self/cgroup: "ID:controllers:path"; v1's memory controller names itself, v2's line is "0::path".
  std::ifstream cgroups(base / "proc/self/cgroup");
  while (std::getline(cgroups, line)) {
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    uint64_t limit = 0;
    std::stringstream list(controllers);
    std::string c;
    bool memory = false;
    while (std::getline(list, c, ',')) memory = memory || c == "memory";
    if (memory) limit = SmallestLimit(base / "sys/fs/cgroup/memory", path, "memory.limit_in_bytes");
    else if (controllers.empty() && line.compare(0, a, "0") == 0) limit = SmallestLimit(base / "sys/fs/cgroup", path, "memory.max");
    if (limit > 0 && (h.cgroup_limit == 0 || limit < h.cgroup_limit)) h.cgroup_limit = limit;
  }
  return h;
}

}  // namespace glmv
