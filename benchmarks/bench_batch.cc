// Continuous batching at a model's real dimensions (issue 12): aggregate decode tokens/s of 1, 2, 4 and 8
// sequences decoding in the same engine steps, and what bounds it. JSON lines, in order: the read bandwidth
// (measured again at the end; the better one is every ratio's denominator); per activation precision and
// sequence count, tokens/s, the distinct experts each layer read per step, the weight bytes a step streamed
// (every shared weight once, each chosen expert once), the tokens/s those bytes allow at the read bandwidth
// (the ceiling), the fraction of it reached, the step's own bandwidth ratio, and the speed-up over one
// sequence; then the longest gap between two tokens of a running sequence while a long prompt is prefilled
// beside it in chunks, and while an image is encoded beside it stage by stage; last, the KV bytes and the
// anonymous memory 8 sequences of 100 tokens hold at a 32768-token context.
//
//   bench_batch MODEL [--sequences 1,2,4,8] [--decode-tokens 16] [--prompt-tokens 64] [--threads N]
//                     [--act-precision auto,int8] [--prefill-chunk 512] [--gap-prompt-tokens 4096 (0: skip)]
//                     [--gap-image-patches 74 (0: skip)] [--memory-check 1|0] [--experts-in-ram 0|1]
//
// MODEL: a .glmv file or a Hugging Face directory. Prompts are pseudo-random ids, decoding greedy, so the
// router's choices (and the distinct experts) are those of random weights: close to uniform.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sys/mman.h>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "benchmarks/bench_model_bytes.h"
#include "benchmarks/bench_util.h"
#include "lib/base/parallel.h"
#include "lib/engine/engine.h"

using namespace glmv;

namespace {

struct Options {
  std::string model;
  std::vector<size_t> sequences = {1, 2, 4, 8};
  std::vector<ActPrecision> precisions = {ActPrecision::kAuto, ActPrecision::kInt8};
  size_t decode_tokens = 16, prompt_tokens = 64, prefill_chunk = 512, gap_prompt_tokens = 4096;
  size_t gap_image_patches = 74;  // a 1036×1036 image (GLM-4.5V's 1024² after its resize); 0: skip
  bool memory_check = true;
  bool experts_copied = false;    // routed experts from an anonymous huge-page copy instead of the mapping
  int threads = 2;
};

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= s.size()) {
    const size_t comma = s.find(',', at);
    out.push_back(s.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

Result<Options> Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg[0] != '-') {
      o.model = arg;
      continue;
    }
    if (i + 1 >= argc) return Status::Error(arg + " needs a value");
    const std::string v = argv[++i];
    if (arg == "--sequences") {
      o.sequences.clear();
      for (const auto& x : Split(v)) o.sequences.push_back(std::stoul(x));
    } else if (arg == "--act-precision") {
      o.precisions.clear();
      for (const auto& x : Split(v)) {
        GLMV_ASSIGN_OR_RETURN(ActPrecision p, ParseActPrecision(x));
        o.precisions.push_back(p);
      }
    } else if (arg == "--decode-tokens") {
      o.decode_tokens = std::stoul(v);
    } else if (arg == "--prompt-tokens") {
      o.prompt_tokens = std::stoul(v);
    } else if (arg == "--prefill-chunk") {
      o.prefill_chunk = std::stoul(v);
    } else if (arg == "--experts-in-ram") {
      o.experts_copied = v != "0";
    } else if (arg == "--memory-check") {
      o.memory_check = v != "0";
    } else if (arg == "--gap-image-patches") {
      o.gap_image_patches = std::stoul(v);
    } else if (arg == "--gap-prompt-tokens") {
      o.gap_prompt_tokens = std::stoul(v);
    } else if (arg == "--threads") {
      o.threads = std::stoi(v);
    } else {
      return Status::Error("unknown option " + arg);
    }
  }
  if (o.model.empty()) return Status::Error("no MODEL given");
  if (o.decode_tokens == 0 || o.prompt_tokens == 0) return Status::Error("token counts must be positive");
  return o;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Anonymous resident memory of this process (RssAnon), bytes: heap and anonymous mappings, not the model file.
// A "Key:  N kB" field of a /proc file, in bytes (0 when absent).
size_t ProcBytes(const char* file, const std::string& field) {
  std::ifstream f(file);
  std::string key;
  size_t kib = 0;
  while (f >> key) {
    if (key == field) {
      f >> kib;
      return kib * 1024;
    }
    f.ignore(1 << 20, '\n');
  }
  return 0;
}

size_t AnonRssBytes() { return ProcBytes("/proc/self/status", "RssAnon:"); }

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "bench_batch: %s: %s\n", what.c_str(), s.message().c_str());
  return 1;
}

GenerateRequest Request(std::vector<int64_t> prompt, size_t max_tokens) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = Parse(argc, argv);
  if (!parsed.ok()) return Fail("arguments", parsed.status());
  const Options o = *parsed;
  SetNumThreads(o.threads);
  const double bw_start = bench::MeasureReadBandwidth();
  bench::Emit({{"bench", "read_bandwidth"}, {"bytes_per_s", bw_start}, {"threads", o.threads}});
  const size_t most = *std::max_element(o.sequences.begin(), o.sequences.end());

  struct Row {
    nlohmann::ordered_json line;
    double step_bytes = 0, median_step = 0;
  };
  std::vector<Row> rows;
  for (ActPrecision precision : o.precisions) {
    EngineOptions eo;
    eo.max_sequences = most + 1;
    eo.context_tokens = std::max({o.prompt_tokens, o.gap_prompt_tokens, size_t{512}}) + o.decode_tokens + 2;
    eo.prefill_chunk = o.prefill_chunk;
    eo.threads = o.threads;
    eo.act_precision = precision;
    eo.experts_in_ram = o.experts_copied;
    auto loaded = Engine::Load(o.model, eo);
    if (!loaded.ok()) return Fail("loading " + o.model, loaded.status());
    Engine& engine = **loaded;
    const TextConfig& c = engine.model().config();
    const bench::StepBytes bytes = bench::CountStep(c, engine.model().weights(), &bench::KernelBytes);
    TextTrace trace;
    double one_sequence_tps = 0;
    for (size_t pass = 0; pass <= o.sequences.size(); ++pass) {
      // Pass 0 (not reported) maps every weight page: a 512-token prompt routes to every expert, so no step
      // measured below takes first-touch page faults (~0.1 s a step at 8 sequences otherwise).
      const size_t B = pass == 0 ? 1 : o.sequences[pass - 1];
      const size_t prompt_tokens = pass == 0 ? 512 : o.prompt_tokens;
      std::vector<std::unique_ptr<Sequence>> seqs;
      std::vector<Sequence*> ptrs;
      for (size_t i = 0; i < B; ++i) {
        auto s = engine.Start(Request(bench::RandomTextPrompt(prompt_tokens, engine.model().model_config(), 17 * pass + i), o.decode_tokens + 1));
        if (!s.ok()) return Fail("starting a sequence", s.status());
        ptrs.push_back(s->get());
        seqs.push_back(std::move(s).value());
      }
      for (Sequence* s : ptrs) {
        while (s->prefilling()) engine.Prefill(*s);
      }
      std::vector<double> step_seconds;
      std::vector<std::array<double, bench::PartTimer::kParts>> part_seconds;
      bench::PartTimer timer;
      double bytes_sum = 0, distinct_sum = 0;
      size_t moe_layers = 0;
      engine.SetStepHooks(&timer, &trace);
      for (size_t step = 0; step < o.decode_tokens; ++step) {
        timer.seconds.fill(0.0);
        const double t0 = bench::Now();
        timer.Start();
        engine.DecodeBatch(ptrs);
        step_seconds.push_back(bench::Now() - t0);
        part_seconds.push_back(timer.seconds);
        double step_bytes = static_cast<double>(bytes.EveryStep() + (B - 1) * bytes.embed_row);
        for (size_t l = 0; l < trace.topk_ids.size(); ++l) {
          if (trace.topk_ids[l].empty()) continue;
          const std::set<int64_t> distinct(trace.topk_ids[l].begin(), trace.topk_ids[l].end());
          for (int64_t e : distinct) step_bytes += static_cast<double>(bytes.routed[l][static_cast<size_t>(e)]);
          distinct_sum += static_cast<double>(distinct.size());
          ++moe_layers;
        }
        bytes_sum += step_bytes;
      }
      engine.SetStepHooks(nullptr, nullptr);
      for (Sequence* s : ptrs) {
        if (!s->status().ok()) return Fail("decoding", s->status());
      }
      if (pass == 0) continue;
      double total = 0;
      for (double t : step_seconds) total += t;
      const double tps = static_cast<double>(B * o.decode_tokens) / total;
      if (B == 1) one_sequence_tps = static_cast<double>(B) / Median(step_seconds);
      Row row;
      row.step_bytes = bytes_sum / static_cast<double>(o.decode_tokens);
      row.median_step = Median(step_seconds);
      row.line = {{"bench", "batch_decode"}, {"act_precision", ActPrecisionName(precision)}, {"sequences", B},
                  {"experts_from", o.experts_copied ? "a 2 MiB-page copy in RAM (--experts-in-ram)" : "the model file's mapping"},
                  {"decode_steps", o.decode_tokens}, {"context_start", o.prompt_tokens},
                  {"tokens_per_s", tps}, {"median_step_tokens_per_s", static_cast<double>(B) / row.median_step},
                  {"median_step_seconds", row.median_step},
                  {"distinct_experts_per_layer", moe_layers ? distinct_sum / static_cast<double>(moe_layers) : 0.0},
                  {"weight_bytes_per_step", row.step_bytes},
                  {"median_speedup_over_one_sequence",
                   one_sequence_tps > 0 ? static_cast<double>(B) / Median(step_seconds) / one_sequence_tps : 0.0}};
      nlohmann::ordered_json parts = nlohmann::ordered_json::object();
      for (size_t p = 0; p < bench::PartTimer::kParts; ++p) {
        std::vector<double> v;
        for (const auto& step : part_seconds) v.push_back(step[p]);
        parts[ForwardPartName(static_cast<ForwardPart>(p))] = Median(v);
      }
      row.line["median_part_seconds"] = parts;
      rows.push_back(std::move(row));
    }
    // How much of the model file is mapped by 2 MiB pages (MappedFile asks for them): weights behind 4 KiB
    // pages stream slower, so the figures above depend on it. Pages cached before the first mapping (e.g. a
    // file copied with cp) stay small until the page cache lets them go.
    if (precision == o.precisions.front()) {
      std::error_code ec;
      const auto file_bytes = std::filesystem::is_regular_file(o.model, ec) ? std::filesystem::file_size(o.model, ec) : 0;
      const size_t huge = ProcBytes("/proc/self/smaps_rollup", "FilePmdMapped:");
      bench::Emit({{"bench", "model_mapping"}, {"file_bytes", file_bytes}, {"mapped_by_2mib_pages", huge},
                   {"fraction", file_bytes ? static_cast<double>(huge) / static_cast<double>(file_bytes) : 0.0}});
    }

    // The longest gap between two tokens of a running sequence while a long prompt is prefilled beside it.
    if (o.gap_prompt_tokens > 0 && precision == o.precisions.front()) {
      auto runner = engine.Start(Request(bench::RandomTextPrompt(o.prompt_tokens, engine.model().model_config(), 991), 1u << 20));
      auto longer = engine.Start(Request(bench::RandomTextPrompt(o.gap_prompt_tokens, engine.model().model_config(), 992), 1));
      if (!runner.ok() || !longer.ok()) return Fail("starting the gap sequences", runner.ok() ? longer.status() : runner.status());
      while ((*runner)->prefilling()) engine.Prefill(**runner);
      Sequence* running[] = {runner->get()};
      std::vector<double> alone, beside;
      for (int i = 0; i < 4; ++i) {
        const double t0 = bench::Now();
        engine.DecodeBatch(running);
        alone.push_back(bench::Now() - t0);
      }
      // Steps `other` beside the running sequence while `busy` holds; each step's seconds into `gaps`. False
      // when the running sequence missed a token (the scheduler's promise broken).
      auto step_beside = [&](Sequence& other, auto busy, std::vector<double>& gaps) {
        while (busy(other)) {
          const size_t before = (*runner)->result().ids.size();
          const double t0 = bench::Now();
          engine.Step(running, &other);
          gaps.push_back(bench::Now() - t0);
          if ((*runner)->result().ids.size() != before + 1) return false;
        }
        return true;
      };
      const double t_prefill = bench::Now();
      if (!step_beside(**longer, [](const Sequence& s) { return s.prefilling(); }, beside)) {
        return Fail("gap", Status::Error("the running sequence missed a step"));
      }
      const double prefill_seconds = bench::Now() - t_prefill;
      bench::Emit({{"bench", "batch_token_gap"}, {"beside", "prefill of a long prompt, in chunks"},
                   {"prompt_tokens", o.gap_prompt_tokens}, {"prefill_chunk", o.prefill_chunk},
                   {"act_precision", ActPrecisionName(precision)},
                   {"longest_gap_seconds", *std::max_element(beside.begin(), beside.end())},
                   {"median_gap_seconds", Median(beside)}, {"decode_alone_median_seconds", Median(alone)},
                   {"chunks", beside.size()}, {"prefill_seconds", prefill_seconds},
                   {"prefill_tokens_per_s", static_cast<double>(o.gap_prompt_tokens) / prefill_seconds}});
      // The same beside an image encoded stage by stage: a grid of `gap_image_patches`² patches (1036² pixels
      // at 74: GLM-4.5V's 1024² image), random pixels.
      if (o.gap_image_patches > 0 && engine.vision()) {
        const int64_t side = static_cast<int64_t>(o.gap_image_patches);
        const int64_t merge = engine.vision()->config().spatial_merge_size;
        GenerateRequest r = Request({}, 1);
        const ModelConfig& mc = engine.model().model_config();
        r.prompt = bench::RandomTextPrompt(8, mc, 993);
        r.prompt.push_back(mc.image_start_token_id);
        r.prompt.insert(r.prompt.end(), static_cast<size_t>(side * side / (merge * merge)), mc.image_token_id);
        r.prompt.push_back(mc.image_end_token_id);
        r.visual.image_grids = {{1, side, side}};
        r.visual.image_pixels.resize(static_cast<size_t>(side * side * engine.vision()->patch_values()));
        for (size_t i = 0; i < r.visual.image_pixels.size(); ++i) {
          r.visual.image_pixels[i] = static_cast<float>(bench::Hash(i) % 2001) / 1000.0f - 1.0f;
        }
        auto image = engine.Start(r);
        if (!image.ok()) return Fail("starting the image sequence", image.status());
        std::vector<double> stages;
        const double t_image = bench::Now();
        if (!step_beside(**image, [](const Sequence& s) { return s.encoding(); }, stages)) {
          return Fail("gap", Status::Error("the running sequence missed a step"));
        }
        bench::Emit({{"bench", "batch_token_gap"}, {"beside", "an image encoded stage by stage"},
                     {"grid_patches", {side, side}}, {"visual_tokens", side * side / (merge * merge)},
                     {"act_precision", ActPrecisionName(precision)},
                     {"longest_gap_seconds", *std::max_element(stages.begin(), stages.end())},
                     {"median_gap_seconds", Median(stages)}, {"stages", stages.size()},
                     {"encode_seconds", bench::Now() - t_image}});
      }
    }
  }
  // Memory: 8 sequences of 100 tokens at a 32768-token context hold what 100 tokens need, not the context.
  if (o.memory_check) {
    EngineOptions eo;
    eo.context_tokens = 32768;
    eo.max_sequences = 8;
    eo.threads = o.threads;
    auto loaded = Engine::Load(o.model, eo);
    if (!loaded.ok()) return Fail("loading " + o.model, loaded.status());
    Engine& engine = **loaded;
    const size_t P = engine.kv_pool().page_tokens(), per_token = engine.model().KvBytesPerToken();
    const size_t anon_before = AnonRssBytes();
    std::vector<std::unique_ptr<Sequence>> seqs;
    std::vector<Sequence*> ptrs;
    for (size_t i = 0; i < 8; ++i) {  // 100 prompt tokens each (distinct: nothing shared), one token generated
      auto s = engine.Start(Request(bench::RandomTextPrompt(100, engine.model().model_config(), 5000 + i), 1));
      if (!s.ok()) return Fail("starting a sequence", s.status());
      ptrs.push_back(s->get());
      seqs.push_back(std::move(s).value());
    }
    engine.RunToCompletion(ptrs);
    const size_t anon_after = AnonRssBytes();
    const size_t bound = 8 * ((100 + P - 1) / P) * P * per_token;
    bench::Emit({{"bench", "batch_kv_memory"}, {"sequences", 8}, {"tokens_each", 100}, {"context_tokens", 32768},
                 {"page_tokens", P}, {"kv_bytes_per_token", per_token},
                 {"kv_pool_reserved_address_space", engine.kv_pool().capacity_pages() * engine.kv_pool().page_bytes()},
                 {"kv_bytes_in_use", engine.kv_pool().bytes_in_use()}, {"kv_bound", bound},
                 {"kv_within_bound", engine.kv_pool().bytes_in_use() <= bound},
                 {"anon_rss_growth", static_cast<double>(anon_after) - static_cast<double>(anon_before)},
                 {"anon_rss_bound", bound + (size_t{64} << 20)},
                 {"anon_within_bound", anon_after <= anon_before + bound + (size_t{64} << 20)}});
  }
  const double bw_end = bench::MeasureReadBandwidth();
  const double bw = std::max(bw_start, bw_end);
  bench::Emit({{"bench", "read_bandwidth"}, {"bytes_per_s", bw_end}, {"threads", o.threads}, {"used", bw}});
  for (Row& row : rows) {
    const double B = row.line["sequences"].get<double>();
    const double ceiling = B * bw / row.step_bytes;
    row.line["ceiling_tokens_per_s"] = ceiling;
    row.line["fraction_of_ceiling"] = row.line["tokens_per_s"].get<double>() / ceiling;
    row.line["median_step_ratio_to_read_bandwidth"] = row.step_bytes / row.median_step / bw;
    row.line["read_bandwidth"] = bw;
    bench::Emit(row.line);
  }
  return 0;
}
