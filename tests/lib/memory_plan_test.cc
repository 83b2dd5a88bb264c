// The memory plan (issue 14, --mem-budget) as a pure function: a model that fits is mapped, one that does
// not gets 90% of the smaller of MemAvailable and the cgroup limit, an explicit budget sizes the expert
// cache, and budgets below the minimum are refused with the minimum in bytes and GiB. Then its readers: the
// tiny model's facts against its file and the engine's KV pool, and /proc and cgroup files in a fake tree.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "io/model_file.h"
#include "lib/engine/memory_facts.h"
#include "lib/engine/memory_plan.h"
#include "lib/tools/convert.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

// GLM-4.5V-like at int4: 60 GiB, 56 GiB of it routed experts of 14 MiB, 8 per token, 1 GiB of KV.
ModelMemoryFacts BigModel() {
  ModelMemoryFacts f;
  f.model = "big.glmv";
  f.model_file = true;
  f.file_bytes = 60 * kGiB;
  f.expert_bytes = 56 * kGiB;
  f.slot_bytes = 14 << 20;
  f.experts_per_token = 8;
  f.kv_reserve_bytes = 1 * kGiB;
  return f;
}
constexpr uint64_t kResident = 4 * kGiB;
constexpr uint64_t kMinimum = kResident + 1 * kGiB + 8 * (14 << 20);

TEST_CASE("plan: a model that fits in 90% of available memory is mapped, with nothing to say") {
  const auto plan = PlanMemory(BigModel(), {.mem_available = 100 * kGiB}, 0);
  REQUIRE(plan.ok());
  CHECK(!plan->cached);
  CHECK(plan->automatic);
  CHECK(plan->expert_cache_bytes == 0);
  CHECK(plan->note.empty());
  CHECK(plan->minimum_bytes == kMinimum);
  // 61 GiB needs 61 / 0.9 ≈ 67.8 GiB available: 67 GiB is not enough, 68 GiB is.
  CHECK(!PlanMemory(BigModel(), {.mem_available = 68 * kGiB}, 0)->cached);
  CHECK(PlanMemory(BigModel(), {.mem_available = 67 * kGiB}, 0)->cached);
  // Nothing known about the machine: today's mapping.
  CHECK(!PlanMemory(BigModel(), {}, 0)->cached);
}

TEST_CASE("plan: a model that does not fit gets 90% of MemAvailable as its budget, and says so") {
  const auto plan = PlanMemory(BigModel(), {.mem_available = 40 * kGiB}, 0);
  REQUIRE(plan.ok());
  CHECK(plan->cached);
  CHECK(plan->automatic);
  const uint64_t budget = static_cast<uint64_t>(0.9 * static_cast<double>(40 * kGiB));
  CHECK(plan->budget_bytes == budget);
  CHECK(plan->resident_bytes == kResident);
  CHECK(plan->kv_reserve_bytes == 1 * kGiB);
  CHECK(plan->expert_cache_bytes == budget - kResident - 1 * kGiB);
  CHECK(plan->note.find("--mem-budget") != std::string::npos);
  CHECK(plan->note.find(std::to_string(budget)) != std::string::npos);
  CHECK(plan->note.find('\n') == std::string::npos);  // one line
}

TEST_CASE("plan: a cgroup limit lower than MemAvailable decides, and 'unknown' figures are ignored") {
  const auto plan = PlanMemory(BigModel(), {.mem_available = 100 * kGiB, .cgroup_limit = 32 * kGiB}, 0);
  REQUIRE(plan.ok());
  CHECK(plan->cached);
  CHECK(plan->budget_bytes == static_cast<uint64_t>(0.9 * static_cast<double>(32 * kGiB)));
  CHECK(UsableHostMemory({.mem_available = 100, .cgroup_limit = 32}) == 32);
  CHECK(UsableHostMemory({.mem_available = 10, .cgroup_limit = 32}) == 10);
  CHECK(UsableHostMemory({.mem_available = 0, .cgroup_limit = 32}) == 32);
  CHECK(UsableHostMemory({.mem_available = 10, .cgroup_limit = 0}) == 10);
}

TEST_CASE("plan: an explicit budget sizes the expert cache, even for a model that would fit") {
  const auto plan = PlanMemory(BigModel(), {.mem_available = 1000 * kGiB}, 8 * kGiB);
  REQUIRE(plan.ok());
  CHECK(plan->cached);
  CHECK(!plan->automatic);
  CHECK(plan->budget_bytes == 8 * kGiB);
  CHECK(plan->expert_cache_bytes == 8 * kGiB - kResident - 1 * kGiB);
  CHECK(plan->note.empty());
  // Exactly the minimum: the pinned experts' slots and nothing more.
  const auto least = PlanMemory(BigModel(), {}, kMinimum);
  REQUIRE(least.ok());
  CHECK(least->expert_cache_bytes == 8 * (14 << 20));
}

TEST_CASE("plan: the vision tower's bytes go to the expert cache too, lent back while images encode") {
  ModelMemoryFacts f = BigModel();
  f.vision_bytes = 2 * kGiB;  // part of the 4 GiB resident
  const auto plan = PlanMemory(f, {}, 8 * kGiB);
  REQUIRE(plan.ok());
  CHECK(plan->resident_bytes == kResident);  // the minimum still holds the tower, for when it runs
  CHECK(plan->minimum_bytes == kMinimum);
  CHECK(plan->expert_cache_bytes == 8 * kGiB - kResident - 1 * kGiB + 2 * kGiB);
  CHECK(plan->vision_lend_bytes == 2 * kGiB);
  // At the minimum, lending the tower's share leaves exactly the pinned experts' slots.
  const auto least = PlanMemory(f, {}, kMinimum);
  REQUIRE(least.ok());
  CHECK(least->expert_cache_bytes - least->vision_lend_bytes == 8 * (14 << 20));
  // The automatic budget lends it the same way; a mapped model lends nothing.
  const auto automatic = PlanMemory(f, {.mem_available = 40 * kGiB}, 0);
  REQUIRE(automatic.ok());
  CHECK(automatic->cached);
  CHECK(automatic->vision_lend_bytes == 2 * kGiB);
  CHECK(automatic->expert_cache_bytes == automatic->budget_bytes - kResident - 1 * kGiB + 2 * kGiB);
  CHECK(PlanMemory(f, {.mem_available = 100 * kGiB}, 0)->vision_lend_bytes == 0);
}

TEST_CASE("plan: budgets below the minimum are refused, stating the minimum in bytes and GiB") {
  const auto below = PlanMemory(BigModel(), {}, kMinimum - 1);
  REQUIRE(!below.ok());
  const std::string m = below.status().message();
  CHECK(m.find("minimum of " + std::to_string(kMinimum) + " bytes (5.11 GiB)") != std::string::npos);
  CHECK(m.find("--mem-budget") != std::string::npos);
  // Automatic: 90% of 5 GiB is below the minimum too.
  const auto automatic = PlanMemory(BigModel(), {.mem_available = 5 * kGiB}, 0);
  REQUIRE(!automatic.ok());
  CHECK(automatic.status().message().find(std::to_string(kMinimum)) != std::string::npos);
  CHECK(automatic.status().message().find("GiB") != std::string::npos);
}

TEST_CASE("plan: only a .glmv file streams experts: a budget for a directory is refused, an automatic plan maps it") {
  ModelMemoryFacts dir = BigModel();
  dir.model = "some/dir";
  dir.model_file = false;
  dir.expert_bytes = 0;
  const auto explicit_budget = PlanMemory(dir, {}, 8 * kGiB);
  REQUIRE(!explicit_budget.ok());
  CHECK(explicit_budget.status().message().find(".glmv") != std::string::npos);
  const auto automatic = PlanMemory(dir, {.mem_available = 40 * kGiB}, 0);
  REQUIRE(automatic.ok());
  CHECK(!automatic->cached);
  CHECK(automatic->note.find("glmv convert") != std::string::npos);
}

TEST_CASE("facts of the tiny model converted to .glmv: units, experts per token, and the engine's own KV pool") {
  test::TempDir dir;
  const std::string model = (dir / "tiny.glmv").string();
  auto converted = ConvertModel(test::DataDir().string() + "/tiny-glm4v-moe", model, ConvertOptions{},
                                [](const ConvertProgress&) { return Status::Ok(); });
  REQUIRE_MESSAGE(converted.ok(), converted.status().message());
  EngineOptions options;
  options.context_tokens = 100;
  options.max_sequences = 3;
  const auto facts = ReadModelMemoryFacts(model, options);
  REQUIRE_MESSAGE(facts.ok(), facts.status().message());
  CHECK(facts->model_file);
  CHECK(facts->file_bytes == std::filesystem::file_size(model));
  CHECK(facts->experts_per_token == 2);
  auto file = ModelFile::Open(model);
  REQUIRE(file.ok());
  CHECK(file->units().size() == 16);  // 2 MoE layers × 8 experts
  uint64_t units = 0, largest = 0;
  for (const auto& u : file->units()) {
    units += (u.bytes.size() + 4095) / 4096 * 4096;
    largest = std::max<uint64_t>(largest, (u.bytes.size() + 4095) / 4096 * 4096);
  }
  CHECK(facts->expert_bytes == units);
  CHECK(facts->slot_bytes == largest);
  CHECK(facts->expert_bytes < facts->file_bytes);
  uint64_t vision = 0;
  for (const auto& t : file->tensors()) vision += t.name.starts_with("model.visual.") ? t.bytes.size() : 0;
  CHECK(vision > 0);
  CHECK(facts->vision_bytes == vision);
  CHECK(facts->vision_bytes < facts->file_bytes - facts->expert_bytes);
  auto engine = Engine::Load(model, options);
  REQUIRE(engine.ok());
  const KvPool& pool = (*engine)->kv_pool();
  CHECK(facts->kv_reserve_bytes == pool.capacity_pages() * pool.page_bytes());
  // A Hugging Face directory: its safetensors, and no units.
  const auto hf = ReadModelMemoryFacts(test::DataDir().string() + "/tiny-glm4v-moe", options);
  REQUIRE(hf.ok());
  CHECK(!hf->model_file);
  CHECK(hf->file_bytes == std::filesystem::file_size(test::DataDir() / "tiny-glm4v-moe" / "model.safetensors"));
  CHECK(hf->expert_bytes == 0);
  CHECK(hf->vision_bytes == 0);  // a directory cannot stream: nothing to lend
}

void Write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

TEST_CASE("host memory: MemAvailable, a cgroup v1 limit (the smallest up the path; 'unlimited' ignored), v2's memory.max") {
  test::TempDir root;
  Write(root / "proc/meminfo", "MemTotal:       65000000 kB\nMemFree:  100 kB\nMemAvailable:   40000000 kB\n");
  Write(root / "proc/self/cgroup", "5:devices:/\n4:memory:/jobs/one\n0::/\n");
  Write(root / "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");  // v1's unlimited
  Write(root / "sys/fs/cgroup/memory/jobs/memory.limit_in_bytes", "8000000000\n");
  Write(root / "sys/fs/cgroup/memory/jobs/one/memory.limit_in_bytes", "9000000000\n");
  HostMemory h = ReadHostMemory(root.path().string());
  CHECK(h.mem_available == 40000000ull * 1024);
  CHECK(h.cgroup_limit == 8000000000ull);  // the parent's limit binds

  test::TempDir v2;
  Write(v2 / "proc/meminfo", "MemAvailable: 1000 kB\n");
  Write(v2 / "proc/self/cgroup", "0::/user.slice/job\n");
  Write(v2 / "sys/fs/cgroup/user.slice/memory.max", "max\n");
  Write(v2 / "sys/fs/cgroup/user.slice/job/memory.max", "6000000000\n");
  h = ReadHostMemory(v2.path().string());
  CHECK(h.mem_available == 1024000);
  CHECK(h.cgroup_limit == 6000000000ull);

  test::TempDir none;  // nothing readable: all unknown
  h = ReadHostMemory(none.path().string());
  CHECK(h.mem_available == 0);
  CHECK(h.cgroup_limit == 0);
  Write(none / "proc/self/cgroup", "0::/\n");
  Write(none / "sys/fs/cgroup/memory.max", "max\n");
  CHECK(ReadHostMemory(none.path().string()).cgroup_limit == 0);
}

}  // namespace
}  // namespace glmv
