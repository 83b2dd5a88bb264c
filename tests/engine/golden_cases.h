// The tiny golden model's cases as engine requests, and a logits recorder: shared by the engine tests that
// run every golden prompt (batch_test, cached_experts_test).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/npy.h"
#include "lib/engine/engine.h"

namespace glmv::test {

// tests/data/tiny-glm4v-moe
std::filesystem::path TinyDir();
// One of its .npy files (REQUIREs that it reads).
NpyArray LoadTinyNpy(const std::string& name);
// Engine::Load that REQUIREs success.
std::unique_ptr<Engine> NewEngine(const std::string& model, const EngineOptions& options);

// Records every logits row its sequence samples from (the logits-processor hook; changes nothing).
class Recorder : public LogitsProcessor {
 public:
  explicit Recorder(std::vector<std::vector<float>>* out) : out_(out) {}
  void Process(std::span<float> logits, std::span<const int64_t>) override;
  int threads_seen = 0;  // the OpenMP thread count on the thread that ran the last step

 private:
  std::vector<std::vector<float>>* out_;
};

// One golden case as a request: its prompt ids, its pixels, greedy, `steps` tokens.
struct GoldenCase {
  std::string name;
  GenerateRequest request;
  std::vector<float> reference_last;          // the reference's logits of the last prompt token
  std::vector<int64_t> reference_ids;         // generation cases: the reference's ids
  std::vector<float> reference_step_logits;   // generation cases: [steps, vocab]
};

// case1_text … case6_generate_image: 3 greedy tokens each, or the reference's count for generation cases.
std::vector<GoldenCase> GoldenCases(size_t vocab);

}  // namespace glmv::test
