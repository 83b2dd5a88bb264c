// glmv convert: a Hugging Face GLM-V directory → one .glmv model file with int4/int8 weights in the
// kernels' layout (lib/convert.h does the work). This file is flags, the progress bar, Ctrl-C and the
// summary: per-component sizes and the quantization error (SNR) of each component's tensors.
#include <fmt/core.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include "apps/args.h"
#include "apps/cli_util.h"
#include "apps/commands.h"
#include "apps/synth_model.h"  // FormatBytes
#include "lib/tools/convert.h"
#include "lib/base/parallel.h"

namespace glmv::app {
namespace {

namespace fs = std::filesystem;

const std::vector<OptionSpec> kConvertOptions = {
    {"--out", "-o", true, "FILE  the model file to write (e.g. model.glmv)"},
    {"--recipe", "-r", true, "mixed|q8|q4|float  which tensors get int4 / int8 (default mixed; see above)"},
    {"--quantizer", "", true, "search|rtn  search each group's scale (default) or plain round-to-nearest "
                              "(llama.cpp's Q4_0/Q8_0 rule: the reference to measure the search against)"},
    {"--int4-grid", "", true, "nl|uniform  int4 values: the non-uniform grid Q4NLG32 (default with search; "
                              "1.4 dB better on bell-shaped weights) or Q4G32's uniform [-8, 7]"},
    {"--vision", "", true, "bf16|f32|q8  the vision tower's matrices (default bf16: GLM-V checkpoints' own type, "
                           "lossless for them; see above; the float recipe keeps the source's unless given)"},
    {"--force", "-f", false, "replace FILE if it exists"},
    {"--threads", "-t", true, "N  threads quantizing (default: all cores)"},
    {"--verbose", "-v", false, "print every tensor's format and SNR"},
    {"--help", "-h", false, "show this help"},
};

constexpr const char* kConvertHelp =
    "usage: glmv convert HF_DIR -o MODEL.glmv [--recipe mixed|q8|q4|float] [--quantizer search|rtn]\n\n"
    "Converts a Hugging Face GLM-V model directory (config.json, safetensors shards, tokenizer and\n"
    "processor files) into one .glmv file that glmv loads by mapping it: no copy, no repacking.\n\n"
    "Recipes (norms, biases, the router and its correction bias are f32 in all but float):\n"
    "  mixed  routed experts int4; attention, shared experts, dense MLP, embeddings, lm_head int8 (default)\n"
    "  q8     every text matrix int8\n"
    "  q4     every text matrix int4, except embeddings and lm_head (int8)\n"
    "  float  no quantization: the checkpoint's own types in the .glmv container\n"
    "int4 and int8 are grouped: 32 weights share one 16-bit scale (4.5 and 8.5 bits per weight). int4 uses a\n"
    "non-uniform grid (Q4NLG32) unless --int4-grid uniform or --quantizer rtn (Q4G32, llama.cpp's Q4_0 values).\n"
    "The vision tower's matrices are bf16 (f32 sources are rounded; the layers widen them to f32 as they run),\n"
    "or f32, or int8 with --vision q8 (measured to cost the tower accuracy; see apps/README.md); the rest of the\n"
    "tower is f32. Every format is used in place from the mapped file.\n\n"
    "The checkpoint is read tensor by tensor (its pages are released as it goes, so a 200 GB model needs\n"
    "little RAM), quantized on all cores and written to FILE.partial, renamed to FILE when complete; an\n"
    "interrupted or failed conversion leaves nothing under FILE. Free disk space is checked first.\n"
    "Progress is shown on a terminal; the summary goes to stdout.\n\n"
    "Examples:\n"
    "  glmv convert /models/GLM-4.5V -o glm45v-mixed.glmv\n"
    "  glmv convert tests/data/tiny-glm4v-moe -o /tmp/tiny-q8.glmv --recipe q8\n"
    "  glmv check-golden ../shared/golden/tiny-glm4v-moe --model /tmp/tiny-q8.glmv\n\n";

std::string FormatSnr(double db) { return std::isinf(db) ? "exact" : fmt::format("{:.1f} dB", db); }

// One line per component: tensors, formats, bytes before and after, and the SNR of its quantized tensors
// (worst, and the mean of the error energy over the whole component expressed as dB).
void PrintSummary(const ConvertReport& report, bool verbose) {
  struct Component {
    size_t tensors = 0;
    uint64_t source_bytes = 0, bytes = 0;
    std::map<std::string, size_t> dtypes;
    double worst_snr = std::numeric_limits<double>::infinity();
    std::string worst_tensor;
    double snr_sum = 0;
    size_t quantized = 0;
  };
  std::map<std::string, Component> by_component;
  for (const auto& t : report.tensors) {
    Component& c = by_component[t.component];
    ++c.tensors;
    uint64_t elements = 1;
    for (int64_t d : t.shape) elements *= static_cast<uint64_t>(d);
    c.source_bytes += elements * DTypeSize(t.source_dtype);
    c.bytes += t.bytes;
    ++c.dtypes[DTypeName(t.dtype)];
    if (!std::isinf(t.snr_db)) {
      c.snr_sum += t.snr_db, ++c.quantized;
      if (t.snr_db < c.worst_snr) c.worst_snr = t.snr_db, c.worst_tensor = t.name;
    }
    if (verbose) {
      fmt::print("  {:<70} {:>6} → {:<6} {:>10}  {}\n", t.name, DTypeName(t.source_dtype), DTypeName(t.dtype),
                 FormatBytes(t.bytes), FormatSnr(t.snr_db));
    }
  }
  fmt::print("{:<16} {:>8} {:>11} {:>11}  {:<22} {:>10} {:>10}  {}\n", "component", "tensors", "source", "converted",
             "formats", "mean SNR", "worst SNR", "worst tensor");
  for (const auto& [name, c] : by_component) {
    std::string dtypes;
    for (const auto& [d, n] : c.dtypes) dtypes += (dtypes.empty() ? "" : " ") + d + "×" + std::to_string(n);
    const std::string mean = c.quantized ? fmt::format("{:.1f} dB", c.snr_sum / static_cast<double>(c.quantized)) : "exact";
    fmt::print("{:<16} {:>8} {:>11} {:>11}  {:<22} {:>10} {:>10}  {}\n", name, c.tensors, FormatBytes(c.source_bytes),
               FormatBytes(c.bytes), dtypes, mean, FormatSnr(c.worst_snr), c.worst_tensor);
  }
}

}  // namespace

int RunConvert(int argc, char** argv) {
  auto args = Args::Parse(kConvertOptions, argc, argv, 2);
  const bool help = args.ok() && args->Has("--help");
  if (!args.ok() || help || args->positional().size() != 1 || !args->Has("--out")) {
    if (!args.ok()) fmt::print(stderr, "glmv convert: {}\n", args.status().message());
    else if (!help && args->positional().size() > 1) fmt::print(stderr, "glmv convert: one HF_DIR only, got '{}' too\n", args->positional()[1]);
    else if (!help) fmt::print(stderr, "glmv convert: HF_DIR and -o FILE are required\n");
    fmt::print(help ? stdout : stderr, "{}Options:\n{}", kConvertHelp, OptionsHelp(kConvertOptions));
    return help ? 0 : 2;
  }
  auto fail = [](const Status& s) {
    fmt::print(stderr, "glmv convert: {}\n", s.message());
    return 1;
  };
  ConvertOptions options;
  auto recipe = ParseConvertRecipe(args->Get("--recipe", "mixed"));
  if (!recipe.ok()) return fail(recipe.status().Annotate("--recipe"));
  options.recipe = *recipe;
  const std::string quantizer = args->Get("--quantizer", "search");
  if (quantizer == "rtn") {
    options.scheme = quant::QuantScheme::kRoundToNearest;
  } else if (quantizer != "search") {
    return fail(Status::Error("--quantizer must be search or rtn, not '" + quantizer + "'"));
  }
  const std::string grid = args->Get("--int4-grid", "nl");
  if (grid != "nl" && grid != "uniform") return fail(Status::Error("--int4-grid must be nl or uniform, not '" + grid + "'"));
  options.int4_uniform = grid == "uniform";
  auto vision = ParseVisionFormat(args->Get("--vision", "bf16"));
  if (!vision.ok()) return fail(vision.status().Annotate("--vision"));
  options.vision = *vision;
  options.float_recipe_vision = args->Has("--vision");
  auto threads = args->GetInt("--threads", 0);
  if (!threads.ok() || *threads < 0) return fail(Status::Error("--threads must be a number ≥ 0"));
  if (*threads > 0) SetNumThreads(static_cast<int>(*threads));

  const std::string src = args->positional()[0], out = args->Get("--out");
  std::error_code ec;
  if (fs::exists(out, ec) && !args->Has("--force")) {
    return fail(Status::Error(out + " exists; choose another name or pass --force to replace it"));
  }
  if (fs::is_directory(out, ec)) return fail(Status::Error(out + " is a directory; -o takes a file name"));
  if (fs::exists(src, ec) && fs::equivalent(src, out, ec)) return fail(Status::Error("-o must differ from the input"));

  InstallInterruptHandler();

  const bool tty = isatty(STDERR_FILENO) != 0;
  const double t0 = NowSeconds();
  double phase_t0 = t0, last_call = t0;
  double last_print = 0;
  bool hashing = true;
  auto progress = [&](const ConvertProgress& p) -> Status {
    if (Interrupted()) return Status::Error("interrupted");
    const double now = NowSeconds();
    // Rate and ETA per phase; the conversion started at the last checksum step.
    if (hashing && !p.hashing) hashing = false, phase_t0 = last_call, last_print = 0;
    last_call = now;
    const bool done = p.done_bytes >= p.total_bytes;
    // A terminal gets a bar redrawn 4× a second; a log gets a line every 10 s.
    if ((tty && now - last_print < 0.25 && !done) || (!tty && now - last_print < 10 && !done)) return Status::Ok();
    last_print = now;
    const double rate = static_cast<double>(p.done_bytes) / std::max(now - phase_t0, 1e-6);
    const double eta = rate > 0 ? static_cast<double>(p.total_bytes - p.done_bytes) / rate : 0;
    const double pct = p.total_bytes ? 100.0 * static_cast<double>(p.done_bytes) / static_cast<double>(p.total_bytes) : 100;
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(pct / 100 * kWidth);
    fmt::print(stderr, "{}glmv convert: {}[{}{}] {:5.1f} % {} / {}, {:.0f} MB/s, ETA {:.0f} s  {:.50}{}",
               tty ? "\r" : "", p.hashing ? "checksums " : "", std::string(static_cast<size_t>(filled), '#'),
               std::string(static_cast<size_t>(kWidth - filled), '.'), pct, FormatBytes(p.done_bytes),
               FormatBytes(p.total_bytes), rate / 1e6, eta, p.tensor ? *p.tensor : "", tty ? "\033[K" : "\n");
    return Status::Ok();
  };
  auto report = ConvertModel(src, out, options, progress);
  if (tty) fmt::print(stderr, "\n");
  if (!report.ok()) return fail(report.status().Annotate("nothing was written to " + out));
  const double seconds = NowSeconds() - t0;

  PrintSummary(*report, args->Has("--verbose"));
  if (report->ignored_tensors) {
    fmt::print("note: {} tensor(s) of the checkpoint are not used by the model and were left out\n", report->ignored_tensors);
  }
  fmt::print("convert: {} → {}: recipe {}, quantizer {}, {} tensors, {} → {} ({:.2f}×), {:.1f} s, {:.0f} MB/s, "
             "peak RSS {}, {} threads\n",
             src, out, ConvertRecipeName(options.recipe), quantizer, report->tensors.size(), FormatBytes(report->source_bytes),
             FormatBytes(report->file_bytes),
             report->file_bytes ? static_cast<double>(report->source_bytes) / static_cast<double>(report->file_bytes) : 0.0,
             seconds, static_cast<double>(report->source_bytes) / std::max(seconds, 1e-6) / 1e6, FormatBytes(PeakRssBytes()),
             NumThreads());
  return 0;
}

}  // namespace glmv::app
