// Experts streamed from disk under a memory budget against plain mmap (issue 14 item 6): the measuring half.
// benchmarks/bench_streaming.py drives it: it drops the page cache before each run, puts each run into a cgroup
// memory limit equal to the budget, alternates the modes and prints the ratios. Each invocation does one thing
// and prints one JSON line:
//
//   bench_streaming disk MODEL.glmv [--disk-bytes 8G] [--block 8MiB]
//     O_DIRECT sequential read of the file's first --disk-bytes (the whole file when smaller) in --block reads
//     into 4 KiB-aligned buffers, the first half with one read in flight, the second with four; the better
//     rate is the disk read bandwidth every ratio divides by.
//   bench_streaming run MODEL.glmv --mode cache|mmap [--budget 6G] [--prompt-tokens 512] [--decode-tokens 32]
//                       [--prefill-chunk 512] [--threads N] [--reader pread|uring] [--direct 1|0] [--prefetch 1|0] [--prefetch-top N]
//                       [--policy lru-per-layer|lfu-decay-per-layer] [--vision-share 1|0]
//     cache: the routed experts through the expert cache with budget_bytes = budget − resident set, where the
//            resident set is the file's bytes minus its routed expert units (the mapping of those units is
//            made unreachable, so nothing else of them can be resident); mmap: the plain mapping.
//            --vision-share 1 (default) adds the vision tower's bytes to the cache, lent back while images
//            encode, as glmv's memory plan does (lib/engine/memory_plan.h); 0 counts the tower as resident.
//     Loads the model, prefills a prompt of --prompt-tokens pseudo-random ids (time to first token), decodes
//     --decode-tokens greedily, and prints the tokens/s, every ExpertCacheStats counter, the bytes the process
//     read from the disk (/proc/self/io read_bytes) and VmHWM.
//
// Sizes: plain bytes or K, M, G (powers of 1000), KiB, MiB, GiB (apps/byte_size.h, --mem-budget's syntax).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "apps/byte_size.h"
#include "benchmarks/bench_util.h"
#include "io/expert_reader.h"
#include "io/model_file.h"
#include "lib/base/parallel.h"
#include "lib/engine/memory_facts.h"
#include "lib/engine/engine.h"

using namespace glmv;

namespace {

struct Options {
  std::string command, model, mode = "cache";
  uint64_t budget = 6'000'000'000, disk_bytes = 8'000'000'000, block = 8u << 20;
  size_t prompt_tokens = 512, decode_tokens = 32, prefill_chunk = 512;
  int threads = 0;
  bool uring = true, direct = true, prefetch = true, vision_share = true;
  std::string policy = "lru-per-layer";
  size_t prefetch_top = 0;
};

int Fail(const std::string& what, const Status& s) {
  bench::Emit({{"bench", "streaming_error"}, {"what", what}, {"error", s.message()}});
  std::fprintf(stderr, "bench_streaming: %s: %s\n", what.c_str(), s.message().c_str());
  return 1;
}

Result<Options> Parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.empty() || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    if (i + 1 >= argc) return Status::Error(arg + " needs a value");
    const std::string v = argv[++i];
    if (arg == "--mode") {
      if (v != "cache" && v != "mmap") return Status::Error("--mode takes cache or mmap, not '" + v + "'");
      o.mode = v;
    } else if (arg == "--budget") {
      GLMV_ASSIGN_OR_RETURN(o.budget, app::ParseByteSize(v, "--budget"));
    } else if (arg == "--disk-bytes") {
      GLMV_ASSIGN_OR_RETURN(o.disk_bytes, app::ParseByteSize(v, "--disk-bytes"));
    } else if (arg == "--block") {
      GLMV_ASSIGN_OR_RETURN(o.block, app::ParseByteSize(v, "--block"));
      if (o.block % kExpertReadAlign != 0) return Status::Error("--block must be a multiple of 4 KiB");
    } else if (arg == "--prompt-tokens") {
      o.prompt_tokens = std::stoul(v);
    } else if (arg == "--prefill-chunk") {
      o.prefill_chunk = std::stoul(v);
    } else if (arg == "--decode-tokens") {
      o.decode_tokens = std::stoul(v);
    } else if (arg == "--threads") {
      o.threads = std::stoi(v);
    } else if (arg == "--reader") {
      if (v != "pread" && v != "uring") return Status::Error("--reader takes pread or uring");
      o.uring = v == "uring";
    } else if (arg == "--direct") {
      o.direct = v != "0";
    } else if (arg == "--prefetch") {
      o.prefetch = v != "0";
    } else if (arg == "--prefetch-top") {
      o.prefetch_top = std::stoul(v);
    } else if (arg == "--vision-share") {
      o.vision_share = v != "0";
    } else if (arg == "--policy") {
      if (!ExpertCachePolicyByName(v)) return Status::Error("--policy takes lru-per-layer or lfu-decay-per-layer");
      o.policy = v;
    } else {
      return Status::Error("unknown option " + arg);
    }
  }
  if (positional.size() != 2 || (positional[0] != "disk" && positional[0] != "run")) {
    return Status::Error("usage: bench_streaming disk|run MODEL.glmv [options] (see the top of bench_streaming.cc)");
  }
  o.command = positional[0];
  o.model = positional[1];
  if (o.prompt_tokens == 0 || o.decode_tokens == 0 || o.prefill_chunk == 0) {
    return Status::Error("token counts must be positive");
  }
  return o;
}

// /proc/self/io's read_bytes: bytes this process (all its threads) caused to be fetched from storage, page
// faults of a mapping and O_DIRECT reads alike.
uint64_t DiskReadBytes() {
  std::ifstream f("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (f >> key >> value) {
    if (key == "read_bytes:") return value;
  }
  return 0;
}

// Reads [begin, end) of `fd` with O_DIRECT, `depth` reads in flight: thread t reads blocks t, t + depth, ... so
// the file is still read in order. Returns the seconds taken, or an error.
Result<double> ReadDirect(int fd, uint64_t begin, uint64_t end, uint64_t block, size_t depth) {
  std::vector<Status> results(depth);
  std::vector<std::thread> threads;
  const double t0 = bench::Now();
  for (size_t t = 0; t < depth; ++t) {
    threads.emplace_back([&, t] {
      std::unique_ptr<void, decltype(&std::free)> buffer(std::aligned_alloc(kExpertReadAlign, block), &std::free);
      for (uint64_t at = begin + t * block; at < end; at += depth * block) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(block, end - at));
        const ssize_t got = ::pread(fd, buffer.get(), want, static_cast<off_t>(at));
        if (got != static_cast<ssize_t>(want)) {
          results[t] = Status::Error("O_DIRECT read at " + std::to_string(at) + ": " +
                                     (got < 0 ? std::strerror(errno) : "short read"));
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const double seconds = bench::Now() - t0;
  for (const Status& r : results) GLMV_RETURN_IF_ERROR(r);
  return seconds;
}

// The disk's read bandwidth: the better of one read in flight and four (an NVMe disk often needs several to
// reach its rate, and the expert reader keeps several in flight through io_uring; a weak yardstick would
// flatter the ratio), each over its own half of the range so that neither reads what the other just read.
int Disk(const Options& o) {
  const int fd = ::open(o.model.c_str(), O_RDONLY | O_DIRECT);
  if (fd < 0) return Fail("opening " + o.model + " with O_DIRECT", Status::Error(std::strerror(errno)));
  const off_t size = ::lseek(fd, 0, SEEK_END);
  const uint64_t whole = static_cast<uint64_t>(size) / kExpertReadAlign * kExpertReadAlign;
  const uint64_t total = std::min<uint64_t>(whole, o.disk_bytes) / 2 / kExpertReadAlign * kExpertReadAlign * 2;
  nlohmann::ordered_json variants = nlohmann::ordered_json::array();
  double best = 0;
  const size_t depths[] = {1, 4};
  for (size_t i = 0; i < 2; ++i) {
    const uint64_t begin = i * total / 2, end = begin + total / 2;
    auto seconds = ReadDirect(fd, begin, end, o.block, depths[i]);
    if (!seconds.ok()) {
      ::close(fd);
      return Fail("reading " + o.model, seconds.status());
    }
    const double rate = static_cast<double>(end - begin) / *seconds;
    best = std::max(best, rate);
    variants.push_back({{"in_flight", depths[i]}, {"offset", begin}, {"bytes", end - begin}, {"seconds", *seconds},
                        {"bytes_per_s", rate}});
  }
  ::close(fd);
  bench::Emit({{"bench", "streaming_disk"}, {"file", o.model}, {"file_bytes", size}, {"bytes", total},
               {"block", o.block}, {"direct", true}, {"variants", variants}, {"bytes_per_s", best}});
  return 0;
}

// The file's bytes and its routed expert units' bytes (each rounded up to 4 KiB, as the engine hides them).
struct FileSplit {
  uint64_t file_bytes = 0, expert_bytes = 0, largest_unit = 0;
  size_t units = 0;
};

Result<FileSplit> Split(const std::string& path) {
  GLMV_ASSIGN_OR_RETURN(ModelFile file, ModelFile::Open(path));
  FileSplit s;
  std::error_code ec;
  s.file_bytes = std::filesystem::file_size(path, ec);
  if (ec) return Status::Error(path + ": " + ec.message());
  for (const UnitView& u : file.units()) {
    if (u.name.find("experts.") == std::string::npos) continue;  // "layers.L.experts.E" (lib/tools/convert.cc)
    const uint64_t padded = (u.bytes.size() + kExpertReadAlign - 1) / kExpertReadAlign * kExpertReadAlign;
    s.expert_bytes += padded;
    s.largest_unit = std::max(s.largest_unit, padded);
    ++s.units;
  }
  if (s.units == 0) return Status::Error(path + " has no routed expert units");
  return s;
}

nlohmann::ordered_json StatsJson(const ExpertCacheStats& s) {
  return {{"slots", s.slots}, {"slot_bytes", s.slot_bytes}, {"acquires", s.acquires}, {"hits", s.hits},
          {"waits", s.waits}, {"misses", s.misses}, {"evictions", s.evictions}, {"stall_seconds", s.stall_seconds},
          {"prefetch_issued", s.prefetch_issued}, {"prefetch_useful", s.prefetch_useful},
          {"prefetch_useful_bytes", s.prefetch_useful_bytes}, {"prefetch_unused", s.prefetch_unused},
          {"prefetch_dropped", s.prefetch_dropped}, {"prefetch_predicted", s.prefetch_predicted},
          {"prefetch_predicted_used", s.prefetch_predicted_used},
          {"acquired_after_prediction", s.acquired_after_prediction},
          {"reader", {{"reads", s.reader.reads}, {"bytes", s.reader.bytes}, {"uring_reads", s.reader.uring_reads},
                      {"stall_seconds", s.reader.stall_seconds}}}};
}

double Ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

int Run(const Options& o) {
  auto split = Split(o.model);
  if (!split.ok()) return Fail("reading " + o.model, split.status());
  const uint64_t resident = split->file_bytes - split->expert_bytes;
  EngineOptions eo;
  eo.context_tokens = o.prompt_tokens + o.decode_tokens + 2;
  eo.prefill_chunk = o.prefill_chunk;
  eo.threads = o.threads;
  const bool cache = o.mode == "cache";
  if (cache) {
    if (o.budget <= resident + split->largest_unit) {
      return Fail("--budget", Status::Error("a budget of " + std::to_string(o.budget) + " bytes leaves no expert slot " +
                                            "beside the resident set of " + std::to_string(resident) + " bytes"));
    }
    eo.expert_cache.budget_bytes = static_cast<size_t>(o.budget - resident);
    if (o.vision_share) {
      auto facts = ReadModelMemoryFacts(o.model, eo);
      if (!facts.ok()) return Fail("reading " + o.model, facts.status());
      eo.expert_cache.budget_bytes += facts->vision_bytes;
      eo.vision_lend_bytes = facts->vision_bytes;
    }
    eo.expert_cache.reader.io_uring = o.uring;
    eo.expert_cache.reader.direct = o.direct;
    eo.expert_cache.prefetch = o.prefetch;
    eo.expert_cache.prefetch_top = o.prefetch_top;
    eo.expert_cache.policy = ExpertCachePolicyByName(o.policy);
  }
  const uint64_t read_at_start = DiskReadBytes();
  const double t_load = bench::Now();
  auto loaded = Engine::Load(o.model, eo);
  if (!loaded.ok()) return Fail("loading " + o.model, loaded.status());
  Engine& engine = **loaded;
  const double load_seconds = bench::Now() - t_load;
  const CachedExperts* experts = engine.cached_experts();
  const TextConfig& c = engine.model().config();

  GenerateRequest r;
  r.prompt = bench::RandomTextPrompt(o.prompt_tokens, engine.model().model_config(), 42);
  r.max_tokens = o.decode_tokens + 1;
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  const double t_start = bench::Now();
  auto started = engine.Start(r);
  if (!started.ok()) return Fail("starting the sequence", started.status());
  Sequence& s = **started;
  while (s.prefilling()) engine.Prefill(s);
  const double ttft = bench::Now() - t_start;
  if (!s.status().ok()) return Fail("prefill", s.status());
  const ExpertCacheStats after_prefill = experts ? experts->stats() : ExpertCacheStats{};
  const uint64_t read_after_prefill = DiskReadBytes();

  Sequence* seqs[] = {&s};
  const double t_decode = bench::Now();
  size_t decoded = 0;
  for (; decoded < o.decode_tokens && !s.finished(); ++decoded) engine.DecodeBatch(seqs);
  const double decode_seconds = bench::Now() - t_decode;
  if (!s.status().ok()) return Fail("decode", s.status());
  const uint64_t read_after_decode = DiskReadBytes();

  nlohmann::ordered_json line = {
      {"bench", "streaming_run"}, {"mode", o.mode}, {"model", o.model}, {"file_bytes", split->file_bytes},
      {"routed_expert_bytes", split->expert_bytes}, {"routed_expert_units", split->units},
      {"resident_set_bytes", resident}, {"budget_bytes", o.budget},
      {"expert_cache_bytes", cache ? eo.expert_cache.budget_bytes : 0}, {"vision_lend_bytes", eo.vision_lend_bytes}, {"moe_layers", engine.model().weights().layers.size() - static_cast<size_t>(c.first_k_dense_replace)},
      {"n_routed_experts", c.n_routed_experts}, {"threads", o.threads > 0 ? o.threads : NumThreads()},
      {"prompt_tokens", o.prompt_tokens}, {"prefill_chunk", o.prefill_chunk}, {"decode_tokens", decoded}, {"load_seconds", load_seconds},
      {"ttft_seconds", ttft}, {"first_token_seconds_engine", s.result().first_token_seconds},
      {"prefill_tokens_per_s", Ratio(static_cast<double>(o.prompt_tokens), ttft)},
      {"decode_seconds", decode_seconds}, {"decode_tokens_per_s", Ratio(static_cast<double>(decoded), decode_seconds)},
      {"disk_read_bytes_load_and_prefill", read_after_prefill - read_at_start},
      {"disk_read_bytes_decode", read_after_decode - read_after_prefill},
      {"disk_bytes_per_s_decode", Ratio(static_cast<double>(read_after_decode - read_after_prefill), decode_seconds)}};
  if (experts) {
    const ExpertCacheStats end = experts->stats();
    const uint64_t acquires = end.acquires - after_prefill.acquires;
    const uint64_t read_bytes = end.reader.bytes - after_prefill.reader.bytes;
    const double read_seconds = end.reader.stall_seconds - after_prefill.reader.stall_seconds;
    line["policy"] = experts->policy_name();
    line["reader_notes"] = experts->notes();
    line["decode_hit_rate"] = Ratio(static_cast<double>(end.hits - after_prefill.hits), static_cast<double>(acquires));
    line["hit_rate"] = Ratio(static_cast<double>(end.hits), static_cast<double>(end.acquires));
    line["prefetch_accuracy"] =
        end.prefetch_issued ? nlohmann::ordered_json(Ratio(static_cast<double>(end.prefetch_useful),
                                                           static_cast<double>(end.prefetch_issued)))
                            : nlohmann::ordered_json(nullptr);
    // The router's prediction of the next layer's experts: of those predicted, the share used (precision), and
    // of those used, the share predicted (recall).
    line["prediction_precision"] = end.PrefetchPrecision();
    line["prediction_recall"] = end.PrefetchRecall();
    // While experts miss: the reader's bytes over the time callers spent inside its reads (decode only).
    line["expert_read_bytes_decode"] = read_bytes;
    line["expert_read_bytes_per_s_while_missing"] = Ratio(static_cast<double>(read_bytes), read_seconds);
    line["expert_bytes_per_token"] = Ratio(static_cast<double>(read_bytes), static_cast<double>(decoded));
    line["stall_seconds_per_token"] = Ratio(end.stall_seconds - after_prefill.stall_seconds, static_cast<double>(decoded));
    line["stats_after_prefill"] = StatsJson(after_prefill);
    line["stats"] = StatsJson(end);
  }
  line["vm_hwm_bytes"] = bench::PeakRssBytes();
  line["vm_rss_bytes"] = bench::RssBytes();
  bench::Emit(line);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = Parse(argc, argv);
  if (!parsed.ok()) return Fail("arguments", parsed.status());
  if (parsed->threads > 0) SetNumThreads(parsed->threads);
  return parsed->command == "disk" ? Disk(*parsed) : Run(*parsed);
}
