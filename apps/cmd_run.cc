// glmv run: one prompt in, one answer out — streamed to the terminal, or as one JSON object (--json).
#include <fmt/core.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/generation_flags.h"
#include "apps/output_sink.h"
#include "apps/visual_inputs.h"
#include "lib/output_parser.h"

namespace glmv::app {
namespace {

std::vector<OptionSpec> RunOptions() {
  std::vector<OptionSpec> spec = {
      {"--prompt", "-p", true, "TEXT  the question (the chat template is applied)"},
      {"--prompt-ids", "", true, "IDS  raw prompt as comma-separated token ids (no template; greedy by default)"},
      {"--json", "", false, "print one JSON object (reasoning, content, boxes, tool_calls, usage, timings)"},
      {"--draw-boxes", "", true, "OUT.png  write the image(s) with the answer's boxes drawn and numbered"},
  };
  for (auto& o : ImageOptionSpecs()) spec.push_back(o);
  for (auto& o : GenerationOptionSpecs()) spec.push_back(o);
  spec.push_back({"--help", "-h", false, "show this help"});
  return spec;
}

Result<std::vector<int64_t>> ParseIds(const std::string& text) {
  std::vector<int64_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0') return Status::Error("--prompt-ids: '" + item + "' is not an integer");
    ids.push_back(v);
  }
  if (ids.empty()) return Status::Error("--prompt-ids is empty");
  return ids;
}

int Fail(const Status& s) {
  fmt::print(stderr, "glmv run: {}\n", s.message());
  return 1;
}

nlohmann::ordered_json ResultJson(const GenerateResult& r, const GenerationFlags& f, bool have_text,
                                  const LoadedImages& images) {
  using json = nlohmann::ordered_json;
  json j;
  if (have_text) {
    const ParsedOutput p = ParseModelOutput(r.text);
    j["reasoning"] = p.reasoning;
    j["content"] = p.content;
    j["boxes"] = json::array();
    // Boxes are 0–1000 on the model's scale; "pixels" has them in each input image's own pixels.
    for (const auto& b : p.boxes) {
      json box = {{"normalized", b.normalized}};
      json pixels = json::array();
      for (const auto& img : images.images) pixels.push_back(BoxToPixels(b, img.width, img.height));
      if (images.images.size() == 1) box["pixels"] = pixels[0];
      else if (!images.images.empty()) box["pixels_by_image"] = pixels;
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

}  // namespace

int RunGenerate(int argc, char** argv) {
  const auto spec = RunOptions();
  auto args = Args::Parse(spec, argc, argv, 2);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("--help")) {
    fmt::print("usage: glmv run -m MODEL -p \"question\" [options]\n"
               "       glmv run -m MODEL --prompt-ids 282,284,... [-n N]\n\n"
               "Answers one prompt. The answer streams to stdout; the model's reasoning (thinking mode) to\n"
               "stderr, dimmed; timings to stderr at the end. --json prints a single JSON object instead.\n"
               "With --prompt-ids the ids are fed as they are (no template) and the generated ids are printed\n"
               "on one line; this also works for models without a tokenizer.\n\n{}",
               OptionsHelp(spec));
    return 0;
  }
  const bool by_ids = args->Has("--prompt-ids");
  if (by_ids == args->Has("--prompt")) return Fail(Status::Error("give exactly one of -p/--prompt and --prompt-ids"));
  auto flags = ReadGenerationFlags(*args, /*greedy_default=*/by_ids);
  if (!flags.ok()) return Fail(flags.status());
  GenerationFlags& f = *flags;

  auto engine = Engine::Load(f.model_dir, f.engine);
  if (!engine.ok()) return Fail(engine.status());
  Engine& e = **engine;
  GenerateRequest req = f.request;
  LoadedImages images;
  const auto image_paths = args->GetAll("--image");
  if (!image_paths.empty()) {
    if (by_ids) return Fail(Status::Error("--image needs -p (the template places the image)"));
    if (!e.vision()) return Fail(e.vision_status());
    auto cfg = ImageConfigFromArgs(*args, f.model_dir);
    if (!cfg.ok()) return Fail(cfg.status());
    auto loaded = LoadImages(image_paths, *cfg);
    if (!loaded.ok()) return Fail(loaded.status());
    images = std::move(loaded).value();
    req.visual = images.visual;
  }
  if (args->Has("--draw-boxes") && image_paths.empty()) return Fail(Status::Error("--draw-boxes needs --image"));
  if (by_ids) {
    auto ids = ParseIds(args->Get("--prompt-ids"));
    if (!ids.ok()) return Fail(ids.status());
    req.prompt = *ids;
  } else {
    if (!e.tokenizer()) {
      return Fail(Status::Error(f.model_dir + " has no tokenizer (tokenizer.json, or tokenizer.model + "
                                "tokenizer_config.json); pass the prompt as --prompt-ids"));
    }
    std::vector<ChatMessage> messages;
    if (!f.system.empty()) messages.push_back(ChatMessage::Text("system", f.system));
    ChatMessage user = ChatMessage::Text("user", args->Get("--prompt"));
    if (!images.images.empty()) {  // images first, then the question, as the reference's examples do
      user.content_is_list = true;
      for (size_t i = 0; i < images.images.size(); ++i) user.parts.push_back({ChatContentPart::Type::kImage, ""});
      user.parts.push_back({ChatContentPart::Type::kText, user.text});
    }
    messages.push_back(std::move(user));
    auto ids = ExpandImagePlaceholders(e.model().model_config(),
                                       e.tokenizer()->Encode(RenderChatPrompt(messages, f.chat)), images.tokens_per_image);
    if (!ids.ok()) return Fail(ids.status());
    req.prompt = std::move(ids).value();
  }
  if (req.max_tokens == 0) {
    fmt::print("\n");
    return 0;
  }
  const bool json_out = args->Has("--json");
  TerminalSink sink;
  bool first_id = true;
  auto on_text = [&](const std::string& piece) {
    if (!json_out && !by_ids) sink.Push(piece);
  };
  auto result = e.Generate(req, on_text);
  if (!result.ok()) return Fail(result.status());
  if (args->Has("--draw-boxes")) {
    auto written = DrawBoxesToFiles(images, ParseModelOutput(result->text).boxes, args->Get("--draw-boxes"));
    if (!written.ok()) return Fail(written.status());
    for (const auto& w : *written) fmt::print(stderr, "boxes drawn: {}\n", w);
  }
  if (json_out) {
    fmt::print("{}\n", ResultJson(*result, f, e.tokenizer() != nullptr, images)
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }
  if (by_ids) {
    for (int64_t id : result->ids) fmt::print("{}{}", first_id ? "" : " ", id), first_id = false;
    fmt::print("\n");
  } else {
    sink.Finish();
  }
  fmt::print(stderr, "{}\n", StatsLine(*result));
  return 0;
}

}  // namespace glmv::app
