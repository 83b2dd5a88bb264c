// Prefill and decode throughput of the text decoder at a model's real dimensions (issue #5 item 8b).
// JSON lines, in order: the read bandwidth (each of its loops' best too; measured again after decode; the better of the two is the
// denominator of every bandwidth ratio, since a process holding one of the cores halves it); the load
// (seconds, RSS after load against the file size, tensor formats); the prefill of a pseudo-random prompt
// (tokens/s, best of two runs after one that warms the page cache); greedy decode (tokens/s over all
// steps and from the median step, per-step times with the page faults and preemptions that explain
// outliers, the weight bytes each step streamed given the experts the router chose, effective bandwidth
// and its ratio to the read bandwidth); and where a decode step goes, part by part, timed during those
// same steps through the forward's observer hook (there is one forward; nothing here copies it).
// llama.cpp's published figures for the same synthetic model are carried as `peer_reference`, labelled
// as not measured here, with glmv/peer ratios.
//
//   bench_decode MODEL [--prompt-tokens 512] [--decode-tokens 32] [--threads N] [--act-precision auto|int8|int8x2] [--kv-type f32|bf16|int8]
//
// MODEL: a .glmv file or a Hugging Face directory; only the text decoder is loaded.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sys/resource.h>
#include <string>
#include <vector>

#include "benchmarks/bench_model_bytes.h"
#include "benchmarks/bench_util.h"
#include "lib/text/attention.h"
#include "lib/engine/greedy.h"
#include "lib/model/linear.h"
#include "lib/text/moe.h"
#include "lib/base/parallel.h"
#include "lib/model/model_assets.h"
#include "lib/text/text_model.h"
#include "simd/kernels.h"
#include "simd/quant_layout.h"

using namespace glmv;
using bench::CountStep;
using bench::Median;
using bench::PartTimer;
using bench::Elements;
using bench::KernelBytes;
using bench::StepBytes;

namespace {

// llama.cpp on the same synthetic 4-layer GLM-4.5V (benchmarks/configs/glm45v-4layer.json), 2 threads, on
// this kind of machine: figures quoted in issue #5, not measured by this program.
constexpr double kPeerDecodeTokensPerS = 24.0;
constexpr double kPeerDecodeRatioToReadBandwidth = 0.75;
constexpr double kPeerPrefillTokensPerS = 103.0;
constexpr size_t kPeerPrefillTokens = 512;
constexpr int kPeerThreads = 2;

struct Args {
  std::string model;
  size_t prompt_tokens = 512;
  size_t decode_tokens = 32;
  ActPrecision precision = ActPrecision::kAuto;
  std::optional<KvType> kv_type;  // --kv-type; default as the CLI's: bf16 for a .glmv file, else f32
};

Result<Args> ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> Result<long> {
      if (i + 1 >= argc) return Status::Error(arg + " needs a value");
      char* end = nullptr;
      const long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v <= 0) return Status::Error(arg + " needs a positive integer, got '" + argv[i] + "'");
      return v;
    };
    if (arg == "--prompt-tokens" || arg == "--decode-tokens" || arg == "--threads") {
      GLMV_ASSIGN_OR_RETURN(const long v, value());
      if (arg == "--prompt-tokens") a.prompt_tokens = static_cast<size_t>(v);
      if (arg == "--decode-tokens") a.decode_tokens = static_cast<size_t>(v);
      if (arg == "--threads") SetNumThreads(static_cast<int>(v));
    } else if (arg == "--kv-type") {
      if (i + 1 >= argc) return Status::Error(arg + " needs a value");
      GLMV_ASSIGN_OR_RETURN(a.kv_type, ParseKvType(argv[++i]));
    } else if (arg == "--act-precision") {
      if (i + 1 >= argc) return Status::Error(arg + " needs a value");
      GLMV_ASSIGN_OR_RETURN(a.precision, ParseActPrecision(argv[++i]));
    } else if (!arg.empty() && arg[0] != '-' && a.model.empty()) {
      a.model = arg;
    } else {
      return Status::Error("unknown argument '" + arg + "'");
    }
  }
  if (a.model.empty()) return Status::Error("no MODEL given");
  if (!a.kv_type) a.kv_type = IsModelFile(a.model) ? KvType::kBF16 : KvType::kF32;
  return a;
}

double LoadAverage1m() {
  std::ifstream f("/proc/loadavg");
  double v = -1;
  f >> v;
  return v;
}

// The model's bytes on disk: the .glmv file, or the safetensors files of a directory.
uint64_t ModelBytesOnDisk(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return fs::file_size(path, ec);
  uint64_t total = 0;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".safetensors") total += entry.file_size();
  }
  return total;
}

// Count and stored bytes per dtype name, of the text decoder's tensors (checkpoint order).
nlohmann::ordered_json TextFormats(const TextConfig& c, const Checkpoint& ckpt) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_dtype;
  TextWeights names_only;
  ForEachTextTensor(c, names_only, [&](const std::string& name, const std::vector<int64_t>&, Weight&) {
    if (const TensorView* v = ckpt.Find(name)) {
      auto& [count, bytes] = by_dtype[DTypeName(v->dtype)];
      ++count;
      bytes += v->bytes.size();
    }
  });
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [dtype, cb] : by_dtype) out[dtype] = {{"tensors", cb.first}, {"bytes", cb.second}};
  return out;
}

// Deterministic pseudo-random token ids in [0, vocab) (splitmix64).
std::vector<int64_t> PromptIds(size_t n, int64_t vocab) {
  std::vector<int64_t> ids(n);
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (auto& id : ids) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    id = static_cast<int64_t>((z ^ (z >> 31)) % static_cast<uint64_t>(vocab));
  }
  return ids;
}

// Process-wide counters (all threads) that explain a slow step on a shared machine: page faults (pages
// of the mapped weights reclaimed and faulted back) and involuntary context switches (a thread preempted
// by another process, which stalls the others at the next barrier).
struct Usage {
  long minor_faults = 0, major_faults = 0, preempted = 0;
  static Usage Now() {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    return {r.ru_minflt, r.ru_majflt, r.ru_nivcsw};
  }
  Usage operator-(const Usage& o) const {
    return {minor_faults - o.minor_faults, major_faults - o.major_faults, preempted - o.preempted};
  }
};

nlohmann::ordered_json UsageJson(const Usage& u) {
  return {{"minor_faults", u.minor_faults}, {"major_faults", u.major_faults}, {"involuntary_switches", u.preempted}};
}

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "bench_decode: %s: %s\n", what.c_str(), s.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  auto args_or = ParseArgs(argc, argv);
  if (!args_or.ok()) {
    std::fprintf(stderr, "bench_decode: %s\nusage: bench_decode MODEL [--prompt-tokens 512] [--decode-tokens 32] [--threads N] [--act-precision auto|int8|int8x2] [--kv-type f32|bf16|int8]\n",
                 args_or.status().message().c_str());
    return 2;
  }
  const Args args = std::move(args_or).value();
  const int threads = NumThreads();

  // 1. The yardstick, measured before the model's pages compete for memory.
  const double load_before = LoadAverage1m();
  std::vector<bench::ReadLoop> read_loops;
  const double read_bw_start = bench::MeasureReadBandwidth(size_t{1} << 30, 5, &read_loops);
  nlohmann::ordered_json loops_json = nlohmann::ordered_json::array();
  for (const auto& l : read_loops) {
    loops_json.push_back({{"streams", l.streams}, {"prefetch_ahead", l.prefetch_ahead}, {"bytes_per_s", l.bytes_per_s}});
  }
  bench::Emit({{"bench", "read_bandwidth"}, {"bytes_per_s", read_bw_start}, {"threads", threads}, {"loadavg_1m", load_before},
               {"loops", loops_json}});

  // 2. Load: a .glmv file is mapped and validated, so RSS after load stays far below the file size.
  double t0 = bench::Now();
  auto model_or = TextModel::Load(args.model);
  if (!model_or.ok()) return Fail("loading " + args.model, model_or.status());
  std::unique_ptr<TextModel> model = std::move(model_or).value();
  const double load_seconds = bench::Now() - t0;
  const size_t rss_after_load = bench::RssBytes();
  const uint64_t file_bytes = ModelBytesOnDisk(args.model);
  const TextConfig& c = model->config();
  const Checkpoint& ckpt = *model->storage().checkpoint;

  const TextWeights& w = model->weights();  // for byte counts
  const StepBytes bytes = CountStep(c, w, &KernelBytes), elements = CountStep(c, w, &Elements);
  nlohmann::ordered_json load_line = {
      {"bench", "decode_load"}, {"model", args.model}, {"load_seconds", load_seconds},
      {"rss_after_load_bytes", rss_after_load}, {"model_file_bytes", file_bytes},
      {"rss_to_file_ratio", file_bytes ? static_cast<double>(rss_after_load) / static_cast<double>(file_bytes) : 0.0},
      {"mapped_f32_bytes", model->storage().mapped_bytes}, {"widened_f32_bytes", model->storage().widened_bytes},
      {"packed_bytes", model->storage().packed_bytes},
      {"text_weight_kernel_bytes", bytes.EveryStep() - bytes.embed_row + KernelBytes(w.embed) + bytes.all_routed},
      {"hidden", c.hidden_size}, {"layers", c.num_hidden_layers}, {"routed_experts", c.n_routed_experts},
      {"experts_per_token", c.num_experts_per_tok}, {"vocab", c.vocab_size},
      {"text_tensor_formats", TextFormats(c, ckpt)}, {"kv_type", KvTypeName(*args.kv_type)}};
  if (const ModelFile* mf = ckpt.model_file()) {
    std::map<std::string, uint64_t> counts;
    for (const auto& t : mf->tensors()) ++counts[DTypeName(t.dtype)];
    load_line["file_tensor_formats"] = counts;
    if (auto it = mf->metadata().find("recipe"); it != mf->metadata().end()) load_line["recipe"] = it->second;
  }
  bench::Emit(load_line);

  // 3. Prefill: once to fault the weights in from the page cache, then timed on a fresh cache (best of
  // kTimedPrefills: another process on one of the cores stalls every barrier of ours).
  const size_t H = static_cast<size_t>(c.hidden_size), vocab = static_cast<size_t>(c.vocab_size);
  const size_t P = args.prompt_tokens, D = args.decode_tokens;
  const std::vector<int64_t> prompt = PromptIds(P, c.vocab_size);
  const MRopePositions positions = MRopePositions::Text(0, P);
  std::vector<float> x(P * H), logits;
  constexpr int kTimedPrefills = 2;
  std::vector<double> prefill_seconds;
  std::vector<Usage> prefill_usage;
  KvCache cache;
  ForwardOptions prefill_options;
  prefill_options.precision = args.precision;
  for (int run = 0; run <= kTimedPrefills; ++run) {
    auto fresh = model->NewCache(P + D + 1, 16, *args.kv_type);
    if (!fresh.ok()) return Fail("KV cache", fresh.status());
    cache = std::move(fresh).value();
    if (Status s = model->Embed(prompt, x.data()); !s.ok()) return Fail("embedding the prompt", s);
    const Usage u0 = Usage::Now();
    t0 = bench::Now();
    if (Status s = model->Forward(x.data(), P, positions, cache, false, logits, prefill_options); !s.ok()) {
      return Fail("prefill", s);
    }
    prefill_seconds.push_back(bench::Now() - t0);
    prefill_usage.push_back(Usage::Now() - u0);
  }
  const size_t best_prefill =
      1 + static_cast<size_t>(std::min_element(prefill_seconds.begin() + 1, prefill_seconds.end()) - prefill_seconds.begin() - 1);
  const bool peer_comparable = threads == kPeerThreads && c.hidden_size == 4096 && c.num_hidden_layers == 4 &&
                               c.n_routed_experts == 128;
  const double prefill_tps = static_cast<double>(P) / prefill_seconds[best_prefill];
  bench::Emit({{"bench", "decode_prefill"}, {"tokens", P}, {"threads", threads}, {"act_precision", ActPrecisionName(args.precision)}, {"warm_run_seconds", prefill_seconds[0]},
               {"warm_run", UsageJson(prefill_usage[0])},
               {"timed_runs_seconds", std::vector<double>(prefill_seconds.begin() + 1, prefill_seconds.end())},
               {"seconds", prefill_seconds[best_prefill]}, {"tokens_per_s", prefill_tps},
               {"best_run", UsageJson(prefill_usage[best_prefill])},
               {"peer_reference", {{"engine", "llama.cpp"}, {"measured_in_this_run", false},
                                   {"source", "published figure quoted in issue #5: same synthetic 4-layer model, 2 threads"},
                                   {"tokens", kPeerPrefillTokens}, {"tokens_per_s", kPeerPrefillTokensPerS}}},
               {"ratio_to_peer", prefill_tps / kPeerPrefillTokensPerS},
               {"peer_comparable", peer_comparable && P == kPeerPrefillTokens}});

  // 4. Decode: greedy single-token steps after the timed prefill. A trace per step gives the router's
  // choices (at n = 1 it copies a few KB: layer outputs, router logits, ids); the observer times each part.
  TextTrace trace_storage;
  PartTimer timer;
  ForwardOptions decode_options;
  decode_options.precision = args.precision;
  decode_options.trace = &trace_storage;
  decode_options.observer = &timer;
  // part_seconds[step][part]; medians over steps keep a preempted step from inflating one part.
  std::vector<std::array<double, PartTimer::kParts>> part_seconds(D);
  std::vector<double> embed_seconds(D);
  std::vector<double> step_seconds;  // the forward (the embedding apart, as before)
  std::vector<uint64_t> step_bytes;
  std::vector<long> step_faults, step_preempted;
  std::vector<float> step_x(H);
  const TextTrace& trace = trace_storage;
  uint64_t routed_sum = 0, routed_elements = 0, kv_sum = 0;
  int64_t id = ArgMax(logits.data(), vocab);
  const double decode_t0 = bench::Now();
  for (size_t step = 0; step < D; ++step) {
    const int64_t pos = static_cast<int64_t>(cache.length());
    const double t_embed = bench::Now();
    if (Status s = model->Embed(std::span<const int64_t>(&id, 1), step_x.data()); !s.ok()) return Fail("embedding", s);
    embed_seconds[step] = bench::Now() - t_embed;
    timer.seconds.fill(0.0);
    const Usage u0 = Usage::Now();
    t0 = bench::Now();
    timer.Start();
    if (Status s = model->Forward(step_x.data(), 1, MRopePositions::Text(pos, 1), cache, false, logits, decode_options,
                                  /*decode=*/true);
        !s.ok()) {
      return Fail("decode step " + std::to_string(step), s);
    }
    step_seconds.push_back(bench::Now() - t0);
    part_seconds[step] = timer.seconds;
    const Usage du = Usage::Now() - u0;
    step_faults.push_back(du.minor_faults + du.major_faults);
    step_preempted.push_back(du.preempted);
    uint64_t routed = 0;
    for (size_t l = 0; l < trace.topk_ids.size(); ++l) {
      for (int64_t e : trace.topk_ids[l]) {
        routed += bytes.routed[l][static_cast<size_t>(e)];
        routed_elements += elements.routed[l][static_cast<size_t>(e)];
      }
    }
    routed_sum += routed;
    kv_sum += static_cast<uint64_t>(pos + 1) * model->KvBytesPerToken(*args.kv_type);
    step_bytes.push_back(bytes.EveryStep() + routed);
    id = ArgMax(logits.data(), vocab);
  }
  const double decode_loop_seconds = bench::Now() - decode_t0;
  // The yardstick again: a process that held a core during the first measurement halves it (one thread's
  // worth), which would inflate every ratio. The better of the two is the machine's read bandwidth.
  const double read_bw_end = bench::MeasureReadBandwidth();
  const double read_bw = std::max(read_bw_start, read_bw_end);
  double forward_seconds = 0;
  uint64_t weight_bytes = 0;
  for (size_t i = 0; i < D; ++i) forward_seconds += step_seconds[i], weight_bytes += step_bytes[i];
  const double decode_tps = static_cast<double>(D) / forward_seconds;
  const double weight_bw = static_cast<double>(weight_bytes) / forward_seconds;
  const double dD = static_cast<double>(D);
  const double bytes_per_token = static_cast<double>(weight_bytes) / dD;
  const double median_step_bw = bytes_per_token / Median(step_seconds);
  std::vector<double> step_ms;  // per step, 0.1 ms resolution: outliers from other load show here
  for (double t : step_seconds) step_ms.push_back(std::round(t * 1e4) / 10);
  bench::Emit({{"bench", "decode"}, {"tokens", D}, {"threads", threads}, {"act_precision", ActPrecisionName(args.precision)}, {"context_start", P},
               {"forward_seconds", forward_seconds}, {"loop_seconds", decode_loop_seconds},
               {"tokens_per_s", decode_tps},
               {"median_step_seconds", Median(step_seconds)},
               {"best_step_seconds", *std::min_element(step_seconds.begin(), step_seconds.end())},
               {"median_tokens_per_s", 1.0 / Median(step_seconds)}, {"step_ms", step_ms},
               {"step_page_faults", step_faults}, {"step_involuntary_switches", step_preempted},
               {"weight_bytes_per_token", bytes_per_token},
               {"weight_bytes_per_token_parts",
                {{"attention", bytes.attention}, {"dense_mlp", bytes.dense_mlp}, {"router", bytes.router},
                 {"shared_experts", bytes.shared}, {"routed_experts_chosen", static_cast<double>(routed_sum) / dD},
                 {"norms", bytes.norms}, {"embed_row", bytes.embed_row}, {"lm_head", bytes.lm_head}}},
               {"routed_bytes_from", "router choices of each step (TextTrace topk_ids)"},
               {"kv_cache_bytes_per_token", static_cast<double>(kv_sum) / dD},
               {"weight_bytes_per_s", weight_bw}, {"median_step_weight_bytes_per_s", median_step_bw},
               {"read_bandwidth_start", read_bw_start}, {"read_bandwidth_end", read_bw_end}, {"read_bandwidth", read_bw},
               {"ratio_to_read_bandwidth", weight_bw / read_bw},
               {"median_step_ratio_to_read_bandwidth", median_step_bw / read_bw},
               {"peer_reference", {{"engine", "llama.cpp"}, {"measured_in_this_run", false},
                                   {"source", "published figures quoted in issue #5: same synthetic 4-layer model, 2 threads"},
                                   {"tokens_per_s", kPeerDecodeTokensPerS},
                                   {"ratio_to_read_bandwidth", kPeerDecodeRatioToReadBandwidth}}},
               {"ratio_to_peer_tokens_per_s", decode_tps / kPeerDecodeTokensPerS},
               {"median_ratio_to_peer_tokens_per_s", 1.0 / Median(step_seconds) / kPeerDecodeTokensPerS},
               {"ratio_to_peer_bandwidth_ratio", weight_bw / read_bw / kPeerDecodeRatioToReadBandwidth},
               {"peer_comparable", peer_comparable},
               {"rss_after_decode_bytes", bench::RssBytes()},
               {"peak_rss_bytes_incl_bandwidth_buffer", bench::PeakRssBytes()}});

  // 5. Where a decode step goes: the timed steps above, part by part (the forward's observer hook).
  uint64_t o_bytes = 0, o_elements = 0;
  for (const auto& L : w.layers) o_bytes += KernelBytes(L.o), o_elements += Elements(L.o);
  // Parts: the embedding, then the forward's parts in ForwardPart order.
  constexpr size_t kParts = 1 + PartTimer::kParts;
  std::array<const char*, kParts> part_names{"embed"};
  for (size_t p = 0; p < PartTimer::kParts; ++p) part_names[1 + p] = ForwardPartName(static_cast<ForwardPart>(p));
  const double part_bytes[kParts] = {
      static_cast<double>(bytes.embed_row), static_cast<double>(bytes.norms),
      static_cast<double>(bytes.attention - o_bytes), static_cast<double>(kv_sum) / dD,  // attention_core: KV cache
      static_cast<double>(o_bytes), static_cast<double>(bytes.dense_mlp), static_cast<double>(bytes.router),
      static_cast<double>(routed_sum) / dD + static_cast<double>(bytes.shared), static_cast<double>(bytes.lm_head)};
  const double part_weights[kParts] = {
      0, 0, static_cast<double>(elements.attention - o_elements), 0, static_cast<double>(o_elements),
      static_cast<double>(elements.dense_mlp), static_cast<double>(elements.router),
      static_cast<double>(routed_elements) / dD + static_cast<double>(elements.shared), static_cast<double>(elements.lm_head)};
  double median_total = 0, mean_total = 0;
  double median_part[kParts], mean_part[kParts];
  for (size_t p = 0; p < kParts; ++p) {
    std::vector<double> v;
    for (size_t step = 0; step < D; ++step) v.push_back(p == 0 ? embed_seconds[step] : part_seconds[step][p - 1]);
    median_part[p] = Median(v);
    mean_part[p] = 0;
    for (double t : v) mean_part[p] += t / dD;
    median_total += median_part[p];
    mean_total += mean_part[p];
  }
  for (size_t p = 0; p < kParts; ++p) {
    const double s = median_part[p];
    nlohmann::ordered_json line = {{"bench", "decode_breakdown"}, {"part", part_names[p]},
                                   {"median_seconds_per_token", s}, {"mean_seconds_per_token", mean_part[p]},
                                   {"share", s / median_total}, {"bytes_per_token", part_bytes[p]}};
    if (part_bytes[p] > 0 && s > 0) {
      line["bytes_per_s"] = part_bytes[p] / s;
      line["ratio_to_read_bandwidth"] = part_bytes[p] / s / read_bw;
    }
    if (part_weights[p] > 0 && s > 0) line["weights_per_s"] = part_weights[p] / s;
    bench::Emit(line);
  }
  bench::Emit({{"bench", "decode_breakdown_total"}, {"source", "the timed decode steps, through the forward's observer"},
               {"parts_median_seconds_per_token", median_total}, {"parts_mean_seconds_per_token", mean_total},
               {"step_median_seconds_per_token", Median(step_seconds)},
               {"step_mean_seconds_per_token", forward_seconds / dD}, {"loadavg_1m_end", LoadAverage1m()}});
  return 0;
}
