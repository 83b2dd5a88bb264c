// glmv run: one prompt in, one answer out — streamed to the terminal, or as one JSON object (--json).
// Images (--image), a video (--video) and PDF pages (--pdf; --per-page for one answer per page) join the
// question in the user turn; --input takes any of the three and tells them apart by content.
#include <fmt/core.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/args.h"
#include "apps/cli_util.h"
#include "apps/commands.h"
#include "apps/expert_cache_stats.h"
#include "apps/generation_flags.h"
#include "apps/input_limits.h"
#include "apps/json_schema_flag.h"
#include "apps/media_inputs.h"
#include "apps/mem_budget_flag.h"
#include "apps/output_sink.h"
#include "apps/pdf_inputs.h"
#include "apps/video_inputs.h"
#include "apps/visual_inputs.h"
#include "lib/sampling/output_parser.h"
#include "lib/prompt/request_builder.h"

namespace glmv::app {
namespace {

std::vector<OptionSpec> RunOptions() {
  std::vector<OptionSpec> spec = {
      {"--prompt", "-p", true, "TEXT  the question (the chat template is applied)"},
      {"--prompt-ids", "", true, "IDS  raw prompt as comma-separated token ids (no template; greedy by default)"},
      {"--json", "", false, "print one JSON object (reasoning, content, boxes, tool_calls, usage, timings)"},
      {"--draw-boxes", "", true, "OUT.png  write the image(s) with the answer's boxes drawn and numbered"},
      JsonSchemaOption(),
  };
  for (auto* more : {MediaInputOptionSpecs, ImageOptionSpecs, VideoOptionSpecs, PdfOptionSpecs, InputLimitOptionSpecs}) {
    for (auto& o : more()) spec.push_back(o);
  }
  for (auto& o : GenerationOptionSpecs()) spec.push_back(o);
  spec.push_back({"--help", "-h", false, "show this help"});
  return spec;
}

// One request to the model: the user turn's content and what its placeholders stand for.
struct Job {
  std::vector<ChatContentPart> parts;  // images/pages, video, then the question
  RequestMedia media;                  // their pixels, grids, visual tokens and video layouts, in prompt order
  std::vector<RgbImage> pictures;      // the images and PDF pages as decoded, in prompt order (boxes refer to them)
  std::vector<int> pages;              // PDF page numbers of this request (for --per-page headings)
};

nlohmann::ordered_json ResultJson(const GenerateResult& r, const GenerationFlags& f, bool have_text, const Job& job) {
  using json = nlohmann::ordered_json;
  json j;
  if (!job.pages.empty()) j["pages"] = job.pages;
  if (have_text) {
    const ParsedOutput p = ParseModelOutput(r.text);
    j["reasoning"] = p.reasoning;
    j["content"] = p.content;
    j["boxes"] = json::array();
    // Boxes are 0–1000 on the model's scale; "pixels" has them in each input picture's own pixels.
    for (const auto& b : p.boxes) {
      json box = {{"normalized", b.normalized}};
      json pixels = json::array();
      for (const auto& img : job.pictures) pixels.push_back(BoxToPixels(b, img.width, img.height));
      if (job.pictures.size() == 1) box["pixels"] = pixels[0];
      else if (!job.pictures.empty()) box["pixels_by_image"] = pixels;
      j["boxes"].push_back(box);
    }
    j["tool_calls"] = json::array();
    for (const auto& t : p.tool_calls) j["tool_calls"].push_back({{"name", t.name}, {"arguments", t.arguments}});
  }
  j["ids"] = r.ids;
  j["finish_reason"] = FinishReasonName(r.finish);
  j["seed"] = f.request.sampling.seed;
  const size_t prefilled = r.prompt_tokens - r.reused_prompt_tokens;
  j["usage"] = {{"prompt_tokens", r.prompt_tokens}, {"completion_tokens", r.ids.size()}};
  j["timings"] = {{"vision_seconds", r.vision_seconds},
                  {"prompt_seconds", r.prefill_seconds},
                  {"prompt_tokens_per_second", static_cast<double>(prefilled) / std::max(r.prefill_seconds, 1e-9)},
                  {"generated_seconds", r.decode_seconds},
                  {"generated_tokens_per_second", static_cast<double>(r.ids.size()) / std::max(r.decode_seconds, 1e-9)},
                  {"time_to_first_token_seconds", r.first_token_seconds}};
  return j;
}

// Builds the requests: one, or one per PDF page with --per-page. Images come first in the prompt, then the
// video, then the PDF's pages, whichever flags named them.
Result<std::vector<Job>> MakeJobs(const Args& args, const MediaFiles& media, const InputLimits& limits,
                                  const GenerationFlags& f, const Engine& e, const std::string& question) {
  if (media.any() && !e.vision()) return e.vision_status();
  GLMV_ASSIGN_OR_RETURN(ImagePreprocessConfig image_cfg, ImageConfigFromArgs(args, f.model_dir));
  Job base;
  if (!media.images.empty()) {
    GLMV_ASSIGN_OR_RETURN(std::vector<LoadedImage> images, LoadImages(media.images, image_cfg, limits));
    for (LoadedImage& image : images) {
      base.media.AddImage(image.preprocessed);
      base.pictures.push_back(std::move(image.image));
      base.parts.push_back({ChatContentPart::Type::kImage, ""});
    }
  }
  if (!media.video.empty()) {
    GLMV_ASSIGN_OR_RETURN(VideoPreprocessConfig video_cfg, VideoConfigFromArgs(args, f.model_dir));
    GLMV_ASSIGN_OR_RETURN(VideoLoadOptions options, VideoLoadOptionsFromArgs(args, limits));
    GLMV_ASSIGN_OR_RETURN(LoadedVideo video, LoadVideo(media.video, options, video_cfg));
    base.media.AddVideo(std::move(video.video));
    base.parts.push_back({ChatContentPart::Type::kVideo, ""});
  }
  std::vector<Job> jobs;
  if (!media.pdf.empty()) {
    GLMV_ASSIGN_OR_RETURN(const PdfOptions pdf_options, PdfOptionsFromArgs(args));
    GLMV_ASSIGN_OR_RETURN(LoadedPdf pdf, LoadPdf(media.pdf, pdf_options, image_cfg, limits));
    for (const auto& [first, last] : PdfRequestRanges(pdf)) {
      GLMV_ASSIGN_OR_RETURN(PdfRequest request, MakePdfRequest(pdf, first, last, question));
      PrintPdfRequest(pdf, request);
      Job job = base;
      job.pages = request.page_numbers;
      // Pages come after any --image pictures, in both the pixels and the boxes' reference images.
      for (LoadedImage& page : request.pages) {
        job.media.AddImage(page.preprocessed);
        job.pictures.push_back(std::move(page.image));
      }
      job.parts.insert(job.parts.end(), request.parts.begin(), request.parts.end());  // pages, texts, question
      jobs.push_back(std::move(job));
    }
    return jobs;
  }
  base.parts.push_back({ChatContentPart::Type::kText, question});
  jobs.push_back(std::move(base));
  return jobs;
}

}  // namespace

int RunGenerate(int argc, char** argv) {
  const auto spec = RunOptions();
  auto args = Args::Parse(spec, argc, argv, 2);
  if (!args.ok()) return CommandFailed("run", args.status());
  if (args->Has("--help")) {
    fmt::print("usage: glmv run -m MODEL -p \"question\" [--input F ...] [options]\n"
               "       glmv run -m MODEL --prompt-ids 282,284,... [-n N]\n\n"
               "Answers one prompt. The answer streams to stdout; the model's reasoning (thinking mode) to\n"
               "stderr, dimmed; timings to stderr at the end. --json prints a single JSON object instead (one\n"
               "per page with --pdf --per-page). With --prompt-ids the ids are fed as they are (no template)\n"
               "and the generated ids are printed on one line; this also works for models without a tokenizer.\n\n"
               "Media: --input FILE takes a JPEG, PNG or WebP image, a video or a PDF and tells which by the\n"
               "file's first bytes, not its name; --image, --video and --pdf name the kind themselves. Images go\n"
               "first in the prompt, then the video, then the PDF's pages. Untrusted files are bounded by the limit flags\n"
               "(--max-image-pixels, --max-decoded-frames, --max-decoded-bytes, --max-file-bytes, --max-pages,\n"
               "--decode-time-limit, --pdf-max-tokens): a file over a limit is an error naming the file, the limit\n"
               "and the flag that raises it.\n\n"
               "Memory: --mem-budget SIZE streams the routed experts of a .glmv file through an expert cache so that\n"
               "the other weights, the KV reserve (--ctx) and the cache fit SIZE; a budget below the minimum is refused\n"
               "with the minimum stated. Without it, a model that does not fit in 90% of available memory (MemAvailable,\n"
               "cgroup limit) gets that budget, and one line says so. --stats prints the cache's hit rate, disk bytes and\n"
               "stall time per token and prefetch accuracy at the end.\n\n{}",
               OptionsHelp(spec));
    return 0;
  }
  const bool by_ids = args->Has("--prompt-ids");
  if (by_ids == args->Has("--prompt")) {
    return CommandFailed("run", Status::Error("give exactly one of -p/--prompt and --prompt-ids"));
  }
  auto flags = ReadGenerationFlags(*args, /*greedy_default=*/by_ids);
  if (!flags.ok()) return CommandFailed("run", flags.status());
  GenerationFlags& f = *flags;
  const bool json_out = args->Has("--json");
  auto limits = InputLimitsFromArgs(*args);
  if (!limits.ok()) return CommandFailed("run", limits.status());
  auto media = CollectMediaFiles(*args);
  if (!media.ok()) return CommandFailed("run", media.status());
  if (by_ids && args->Has("--json-schema")) {
    return CommandFailed("run", Status::Error("--json-schema needs -p (a templated answer)"));
  }
  if (by_ids && media->any()) {
    return CommandFailed("run",
                         Status::Error("--input, --image, --video and --pdf need -p (the template places them)"));
  }
  if (args->Has("--draw-boxes") && media->images.empty() && media->pdf.empty()) {
    return CommandFailed("run", Status::Error("--draw-boxes needs an image or a PDF"));
  }

  if (Status plan = ApplyMemoryPlan(f.model_dir, f.mem_budget, "run", f.engine); !plan.ok()) {
    return CommandFailed("run", plan);
  }
  auto engine = Engine::Load(f.model_dir, f.engine);
  if (!engine.ok()) return CommandFailed("run", engine.status());
  Engine& e = **engine;
  uint64_t tokens_run = 0;  // prompt tokens prefilled and tokens generated, for --stats
  auto count = [&](const GenerateResult& r) { tokens_run += r.prompt_tokens - r.reused_prompt_tokens + r.ids.size(); };
  if (by_ids) {
    GenerateRequest req = f.request;
    auto ids = ParseIdList(args->Get("--prompt-ids"), "--prompt-ids");
    if (!ids.ok()) return CommandFailed("run", ids.status());
    req.prompt = *ids;
    if (req.max_tokens == 0) return fmt::print("\n"), 0;
    auto result = e.Generate(req);
    if (!result.ok()) return CommandFailed("run", result.status());
    count(*result);
    if (json_out) {
      fmt::print("{}\n", ResultJson(*result, f, false, Job()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      std::string line;
      for (int64_t id : result->ids) line += (line.empty() ? "" : " ") + std::to_string(id);
      fmt::print("{}\n", line);
      fmt::print(stderr, "{}\n", StatsLine(*result));
    }
    if (f.stats) fmt::print(stderr, "{}", ExpertCacheStatsText(e.cached_experts(), tokens_run));
    return 0;
  }
  if (!e.tokenizer()) {
    return CommandFailed("run", Status::Error(f.model_dir + " has no tokenizer (tokenizer.json, or tokenizer.model + "
                              "tokenizer_config.json); pass the prompt as --prompt-ids"));
  }
  auto schema = ReadJsonSchemaFlag(*args);
  if (!schema.ok()) return CommandFailed("run", schema.status());
  const std::shared_ptr<const Grammar> grammar = *schema;
  const std::shared_ptr<const TokenTrie> trie = grammar ? VocabularyTrie(e) : nullptr;  // once for every page's request
  auto jobs = MakeJobs(*args, *media, *limits, f, e, args->Get("--prompt"));
  if (!jobs.ok()) return CommandFailed("run", Explain(*limits, jobs.status()));
  for (const Job& job : *jobs) {
    std::vector<ChatMessage> messages;
    if (!f.system.empty()) messages.push_back(ChatMessage::Text("system", f.system));
    ChatMessage user = ChatMessage::Text("user", args->Get("--prompt"));
    if (job.parts.size() > 1 || job.parts[0].type != ChatContentPart::Type::kText) {
      user.content_is_list = true;
      user.parts = job.parts;
    }
    messages.push_back(std::move(user));
    auto built = BuildRequestPrompt(e.model().model_config(), *e.tokenizer(), messages, f.chat,
                                    job.media);
    if (!built.ok()) return CommandFailed("run", built.status());
    GenerateRequest req = f.request;
    req.prompt = std::move(built->ids);
    req.visual = std::move(built->visual);
    if (!job.pages.empty() && jobs->size() > 1 && !json_out) {
      fmt::print("== page {} ==\n", job.pages[0]);
      std::fflush(stdout);
    }
    if (req.max_tokens == 0) {
      fmt::print("\n");
      continue;
    }
    TerminalSink sink;
    auto on_text = [&](const std::string& piece) {
      if (!json_out) sink.Push(piece);
    };
    auto result = grammar ? GenerateWithGrammar(e, req, on_text, grammar, trie, f.chat.enable_thinking.value_or(true))
                          : e.Generate(req, on_text);
    if (!result.ok()) return CommandFailed("run", result.status());
    count(*result);
    if (args->Has("--draw-boxes")) {
      std::string out = args->Get("--draw-boxes");
      if (!job.pages.empty() && jobs->size() > 1) {  // one drawing per page request
        const auto dot = out.rfind('.');
        out = out.substr(0, dot) + "-page" + std::to_string(job.pages[0]) + (dot == std::string::npos ? "" : out.substr(dot));
      }
      auto written = DrawBoxesToFiles(job.pictures, ParseModelOutput(result->text).boxes, out);
      if (!written.ok()) return CommandFailed("run", written.status());
      for (const auto& w : *written) fmt::print(stderr, "boxes drawn: {}\n", w);
    }
    if (json_out) {
      fmt::print("{}\n", ResultJson(*result, f, true, job).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      continue;
    }
    sink.Finish();
    fmt::print(stderr, "{}\n", StatsLine(*result));
  }
  if (f.stats) fmt::print(stderr, "{}", ExpertCacheStatsText(e.cached_experts(), tokens_run));
  return 0;
}

}  // namespace glmv::app
