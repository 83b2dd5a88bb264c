// Many sequences through the engine's steps, on the tiny golden model: every golden prompt run at once in
// the same steps (prefill in 5-token chunks beside the others' decode rows) gets its reference logits and
// ids and what it gets alone; a sequence that runs out of KV pages ends alone; seeds repeat beside seven
// other sequences on a quantized model; the thread count is the engine's on whichever thread steps it; the
// KV memory held is what the tokens need, not the context's capacity.
#include <doctest/doctest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "io/npy.h"
#include "lib/base/parallel.h"
#include "lib/engine/engine.h"
#include "lib/tools/convert.h"
#include "tests/engine/golden_cases.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

const auto kTiny = test::DataDir() / "tiny-glm4v-moe";

using test::GoldenCase;
using test::GoldenCases;
using test::NewEngine;
using test::Recorder;

NpyArray Load(const std::string& name) { return test::LoadTinyNpy(name); }

double MaxDiff(const std::vector<float>& a, const float* b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

TEST_CASE("every golden prompt at once, prefilled in 5-token chunks beside the others' decode rows") {
  EngineOptions options;
  options.prefill_chunk = 5;
  options.max_sequences = 8;
  auto engine = NewEngine(kTiny.string(), options);
  const size_t vocab = static_cast<size_t>(engine->model().config().vocab_size);
  auto cases = GoldenCases(vocab);
  for (const auto& g : cases) REQUIRE(g.request.prompt.size() > options.prefill_chunk);

  // Alone, one after the other.
  std::vector<std::vector<std::vector<float>>> alone(cases.size()), together(cases.size());
  std::vector<std::vector<int64_t>> alone_ids(cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    auto s = engine->Start(cases[i].request);
    REQUIRE_MESSAGE(s.ok(), s.status().message());
    (*s)->AddLogitsProcessor(std::make_unique<Recorder>(&alone[i]));
    Sequence* one = s->get();
    engine->RunToCompletion(std::span<Sequence* const>(&one, 1));
    REQUIRE_MESSAGE((*s)->status().ok(), (*s)->status().message());
    alone_ids[i] = (*s)->result().ids;
  }
  // Together: every sequence in the same steps, the text generation case first so that it decodes while
  // the image cases are encoded stage by stage and prefilled chunk by chunk (the scheduler of
  // RunToCompletion, written out to watch it).
  std::vector<std::unique_ptr<Sequence>> seqs(cases.size());
  std::vector<Sequence*> order;
  for (size_t i : {4, 1, 0, 2, 3, 5}) {
    auto s = engine->Start(cases[i].request);
    REQUIRE_MESSAGE(s.ok(), s.status().message());
    (*s)->AddLogitsProcessor(std::make_unique<Recorder>(&together[i]));
    order.push_back(s->get());
    seqs[i] = std::move(s).value();
  }
  size_t steps = 0, encode_beside_decode = 0, prefill_beside_decode = 0;
  for (;;) {
    Sequence* prefill = nullptr;
    std::vector<Sequence*> running;
    for (Sequence* s : order) {
      if (s->finished()) continue;
      if (s->prefilling()) {
        if (!prefill) prefill = s;
      } else {
        running.push_back(s);
      }
    }
    if (!prefill && running.empty()) break;
    const bool case5_running = std::find(running.begin(), running.end(), seqs[4].get()) != running.end();
    if (prefill && case5_running) ++(prefill->encoding() ? encode_beside_decode : prefill_beside_decode);
    engine->Step(running, prefill);
    ++steps;
  }
  MESSAGE(steps << " steps; case 5 decoded beside " << encode_beside_decode << " vision stages and "
                << prefill_beside_decode << " prefill chunks of the other cases");
  CHECK(encode_beside_decode >= engine->vision()->stage_count());  // case 2's image, stage by stage
  CHECK(prefill_beside_decode > 0);

  double worst_vs_alone = 0, worst_vs_reference = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const GoldenCase& g = cases[i];
    CAPTURE(g.name);
    const Sequence& s = *seqs[i];
    REQUIRE_MESSAGE(s.status().ok(), s.status().message());
    CHECK(s.result().finish == FinishReason::kLength);
    CHECK(s.result().ids == alone_ids[i]);
    REQUIRE(together[i].size() == alone[i].size());
    REQUIRE(together[i].size() == g.request.max_tokens);
    for (size_t step = 0; step < together[i].size(); ++step) {
      const double d = MaxDiff(together[i][step], alone[i][step].data(), vocab);
      worst_vs_alone = std::max(worst_vs_alone, d);
      CHECK(d <= 1e-5);
    }
    if (!g.reference_ids.empty()) {
      CHECK(s.result().ids == g.reference_ids);
      for (size_t step = 0; step < g.reference_ids.size(); ++step) {
        const double d = MaxDiff(together[i][step], g.reference_step_logits.data() + step * vocab, vocab);
        worst_vs_reference = std::max(worst_vs_reference, d);
        CHECK(d <= 1e-4);
      }
    } else {
      const double d = MaxDiff(together[i][0], g.reference_last.data(), vocab);
      worst_vs_reference = std::max(worst_vs_reference, d);
      CHECK(d <= 1e-4);
    }
  }
  MESSAGE("worst logit difference: together vs alone " << worst_vs_alone << " (tolerance 1e-5), vs the reference "
                                                       << worst_vs_reference << " (tolerance 1e-4)");
}

TEST_CASE("a sequence that runs out of KV pages ends with context_full; the others go on") {
  EngineOptions options;
  options.kv_page_tokens = 4;
  auto probe = NewEngine(kTiny.string(), options);
  const TextConfig& c = probe->model().config();
  const size_t layers = static_cast<size_t>(c.num_hidden_layers);
  const size_t page_bytes = probe->kv_pool().page_bytes();
  const auto golden = GoldenCases(static_cast<size_t>(c.vocab_size));
  const GoldenCase& finisher = golden[4];  // case5: a text prompt and its reference continuation
  GenerateRequest hog = golden[0].request;  // case1's prompt, asking for far more tokens than the pool holds
  hog.max_tokens = 400;
  auto pages = [&](size_t tokens) { return (tokens + 3) / 4 * layers; };
  // Room for the finisher's whole run, and for the hog until the finisher is done plus one page per layer.
  const size_t finisher_tokens = finisher.request.prompt.size() + finisher.request.max_tokens;
  const size_t hog_tokens = hog.prompt.size() + finisher.request.max_tokens + 4;
  options.kv_memory_bytes = (pages(finisher_tokens) + pages(hog_tokens)) * page_bytes;
  auto engine = NewEngine(kTiny.string(), options);
  auto a = engine->Start(hog);
  auto b = engine->Start(finisher.request);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  Sequence* both[] = {a->get(), b->get()};
  engine->RunToCompletion(both);
  MESSAGE("hog: " << std::string(FinishReasonName((*a)->result().finish)) << " after " << (*a)->result().ids.size()
                  << " tokens; pool " << engine->kv_pool().capacity_pages() << " pages");
  CHECK((*a)->result().finish == FinishReason::kContextFull);
  CHECK((*a)->status().ok());  // a full context is an ending, not an error
  CHECK((*a)->result().ids.size() >= finisher.request.max_tokens);
  CHECK((*a)->result().ids.size() < hog.max_tokens);
  CHECK((*b)->result().finish == FinishReason::kLength);
  CHECK((*b)->result().ids == finisher.reference_ids);
}

TEST_CASE("KV memory grows with the tokens held, not with the context") {
  EngineOptions options;
  options.context_tokens = 32768;
  options.max_sequences = 8;
  auto engine = NewEngine(kTiny.string(), options);
  const size_t P = engine->kv_pool().page_tokens();
  const size_t per_token = engine->model().KvBytesPerToken();
  GenerateRequest r;
  r.prompt = Load("case1_text__input_ids.npy").ToInt64();
  while (r.prompt.size() < 99) r.prompt.push_back(r.prompt[r.prompt.size() % 10]);
  r.max_tokens = 1;  // 99 prompt tokens + 1 generated = 100 tokens' keys and values (the last one is not fed)
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  std::vector<std::unique_ptr<Sequence>> seqs;
  std::vector<Sequence*> ptrs;
  for (int i = 0; i < 8; ++i) {
    GenerateRequest distinct = r;
    distinct.prompt[0] = i;  // no shared prefix: each sequence holds its own pages
    auto s = engine->Start(distinct);
    REQUIRE(s.ok());
    CHECK((*s)->result().reused_prompt_tokens == 0);
    ptrs.push_back(s->get());
    seqs.push_back(std::move(s).value());
  }
  engine->RunToCompletion(ptrs);
  const size_t bound = 8 * ((100 + P - 1) / P) * P * per_token;
  MESSAGE("8 sequences of ~100 tokens at a 32768-token context: KV bytes in use " << engine->kv_pool().bytes_in_use()
                                                                                << ", bound " << bound);
  CHECK(engine->kv_pool().bytes_in_use() <= bound);
  CHECK(engine->kv_pool().bytes_in_use() > 0);
  seqs.clear();
  CHECK(engine->kv_pool().bytes_in_use() == 0);  // a sequence's pages return to the pool when it goes
}

TEST_CASE("the engine's thread count holds on whichever thread runs its steps") {
  const int default_threads = omp_get_max_threads();
  for (int want : {1, default_threads + 1}) {
    CAPTURE(want);
    EngineOptions options;
    options.threads = want;
    auto engine = NewEngine(kTiny.string(), options);
    GenerateRequest r;
    r.prompt = Load("case1_text__input_ids.npy").ToInt64();
    r.max_tokens = 2;
    r.sampling.temperature = 0;
    std::vector<std::vector<float>> rows;
    int seen = 0;
    std::thread owner([&] {  // a server's owner thread: OpenMP's setting there starts at the default
      auto s = engine->Start(r);
      if (!s.ok()) return;  // rows stays empty: the check below fails
      auto recorder = std::make_unique<Recorder>(&rows);
      Recorder* rec = recorder.get();
      (*s)->AddLogitsProcessor(std::move(recorder));
      Sequence* one = s->get();
      engine->RunToCompletion(std::span<Sequence* const>(&one, 1));
      seen = rec->threads_seen;
    });
    owner.join();
    CHECK(rows.size() == 2);
    CHECK(seen == want);
  }
}

TEST_CASE("a shared prompt prefix changes no logits") {
  auto engine = NewEngine(kTiny.string(), {});
  GenerateRequest r;
  r.prompt = Load("case5_generate_text__input_ids.npy").ToInt64();
  r.max_tokens = 4;
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  std::vector<std::vector<float>> fresh, shared;
  {
    auto s = engine->Start(r);
    REQUIRE(s.ok());
    (*s)->AddLogitsProcessor(std::make_unique<Recorder>(&fresh));
    Sequence* one = s->get();
    engine->RunToCompletion(std::span<Sequence* const>(&one, 1));
  }
  REQUIRE(engine->Generate(r).ok());  // kept: its pages serve the next prompt's prefix
  auto s = engine->Start(r);
  REQUIRE(s.ok());
  CHECK((*s)->result().reused_prompt_tokens == r.prompt.size() - 1);
  (*s)->AddLogitsProcessor(std::make_unique<Recorder>(&shared));
  Sequence* one = s->get();
  engine->RunToCompletion(std::span<Sequence* const>(&one, 1));
  REQUIRE(shared.size() == fresh.size());
  double worst = 0;
  for (size_t i = 0; i < fresh.size(); ++i) worst = std::max(worst, MaxDiff(shared[i], fresh[i].data(), fresh[i].size()));
  MESSAGE("prefix shared from the kept sequence: logits differ by at most " << worst);
  CHECK(worst <= 1e-5);
}

TEST_CASE("on the mixed-recipe tiny model, a seed gives the same ids alone, beside seven other sequences, and with the experts in RAM") {
  test::TempDir dir;
  const std::string model = (dir / "tiny-mixed.glmv").string();
  auto converted = ConvertModel(kTiny.string(), model, ConvertOptions{}, [](const ConvertProgress&) { return Status::Ok(); });
  REQUIRE_MESSAGE(converted.ok(), converted.status().message());
  EngineOptions options;
  options.max_sequences = 8;
  options.prefill_chunk = 7;
  auto engine = NewEngine(model, options);
  GenerateRequest r;
  r.prompt = Load("case5_generate_text__input_ids.npy").ToInt64();
  r.max_tokens = 12;
  r.sampling.temperature = 1.0f;
  r.sampling.seed = 42;
  r.ignore_eos = true;
  auto alone = engine->Start(r);
  REQUIRE(alone.ok());
  Sequence* one = alone->get();
  engine->RunToCompletion(std::span<Sequence* const>(&one, 1));
  const std::vector<int64_t> want = (*alone)->result().ids;
  REQUIRE(want.size() == r.max_tokens);
  {  // the same with the experts copied into RAM (--experts-in-ram): the same bytes, the same ids
    EngineOptions in_ram = options;
    in_ram.experts_in_ram = true;
    auto copied = NewEngine(model, in_ram);
    auto s = copied->Start(r);
    REQUIRE(s.ok());
    Sequence* seq = s->get();
    copied->RunToCompletion(std::span<Sequence* const>(&seq, 1));
    CHECK((*s)->result().ids == want);
  }

  std::vector<std::unique_ptr<Sequence>> seqs;
  std::vector<Sequence*> ptrs;
  for (int i = 0; i < 8; ++i) {  // the seed's sequence in the middle; the others with other prompts and seeds
    GenerateRequest other = r;
    if (i != 3) {
      other.sampling.seed = 100 + static_cast<uint64_t>(i);
      other.prompt.resize(other.prompt.size() - static_cast<size_t>(i));
      other.max_tokens = 5 + static_cast<size_t>(i) * 2;
    }
    auto s = engine->Start(other);
    REQUIRE(s.ok());
    ptrs.push_back(s->get());
    seqs.push_back(std::move(s).value());
  }
  engine->RunToCompletion(ptrs);
  CHECK(seqs[3]->result().ids == want);
  size_t differing = 0;
  for (int i = 0; i < 8; ++i) differing += seqs[static_cast<size_t>(i)]->result().ids != want;
  CHECK(differing == 7);  // the others really are other sequences
}

}  // namespace
}  // namespace glmv
