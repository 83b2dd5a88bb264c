// glmv chat: an interactive multi-turn session. History is kept (and its KV cache reused between turns);
// /think and /nothink switch the model's reasoning, /reset starts over, Ctrl-C stops the current answer.
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <string>

#include "apps/args.h"
#include "apps/cli_util.h"
#include "apps/commands.h"
#include "apps/expert_cache_stats.h"
#include "apps/generation_flags.h"
#include "apps/mem_budget_flag.h"
#include "apps/output_sink.h"
#include "lib/prompt/request_builder.h"
#include "lib/sampling/output_parser.h"

namespace glmv::app {
namespace {

std::atomic<bool> g_interrupted{false};
void OnSigint(int) { g_interrupted.store(true); }

constexpr const char* kChatHelp =
    "  /think     let the model reason before answering (default)\n"
    "  /nothink   answer directly\n"
    "  /reset     forget the conversation\n"
    "  /exit      quit (or Ctrl-D)\n"
    "  Ctrl-C     stop the current answer\n";

}  // namespace

int RunChat(int argc, char** argv) {
  std::vector<OptionSpec> spec = GenerationOptionSpecs();
  spec.push_back({"--help", "-h", false, "show this help"});
  auto args = Args::Parse(spec, argc, argv, 2);
  if (!args.ok()) return CommandFailed("chat", args.status());
  if (args->Has("--help")) {
    fmt::print("usage: glmv chat -m MODEL [options]\n\nAn interactive conversation. Type a message and press "
               "Enter. Commands:\n{}\n--mem-budget SIZE streams a .glmv file's routed experts through an expert cache "
               "(as glmv run --help explains);\n--stats prints the cache's statistics when the chat ends.\n\n"
               "Options:\n{}",
               kChatHelp, OptionsHelp(spec));
    return 0;
  }
  auto flags = ReadGenerationFlags(*args, /*greedy_default=*/false);
  if (!flags.ok()) return CommandFailed("chat", flags.status());
  GenerationFlags& f = *flags;
  if (Status plan = ApplyMemoryPlan(f.model_dir, f.mem_budget, "chat", f.engine); !plan.ok()) {
    return CommandFailed("chat", plan);
  }
  auto engine = Engine::Load(f.model_dir, f.engine);
  if (!engine.ok()) return CommandFailed("chat", engine.status());
  Engine& e = **engine;
  if (!e.tokenizer()) return CommandFailed("chat", Status::Error(f.model_dir + " has no tokenizer; chat needs one"));

  struct sigaction sa {};
  sa.sa_handler = OnSigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: Ctrl-C at the prompt interrupts the read
  sigaction(SIGINT, &sa, nullptr);

  const bool interactive = isatty(fileno(stdin)) != 0;
  if (interactive) fmt::print(stderr, "glmv chat — {} (context {} tokens). /help for commands.\n", f.model_dir, e.context_tokens());
  std::vector<ChatMessage> history;
  if (!f.system.empty()) history.push_back(ChatMessage::Text("system", f.system));
  std::string line;
  uint64_t tokens_run = 0;  // prompt tokens prefilled and tokens generated, for --stats
  while (true) {
    if (interactive) fmt::print(stderr, "> ");
    g_interrupted.store(false);
    if (!std::getline(std::cin, line)) {
      if (g_interrupted.load() && !std::cin.eof()) {  // Ctrl-C at the prompt
        std::cin.clear();
        fmt::print(stderr, "\n(Ctrl-D or /exit to quit)\n");
        continue;
      }
      break;
    }
    if (line.empty()) continue;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/help") { fmt::print(stderr, "{}", kChatHelp); continue; }
    if (line == "/think" || line == "/nothink") {
      f.chat.enable_thinking = line == "/think";
      fmt::print(stderr, "thinking {}\n", line == "/think" ? "on" : "off");
      continue;
    }
    if (line == "/reset") {
      history.resize(f.system.empty() ? 0 : 1);
      e.ResetCache();
      fmt::print(stderr, "conversation reset\n");
      continue;
    }
    history.push_back(ChatMessage::Text("user", line));
    GenerateRequest req = f.request;
    auto built = BuildRequestPrompt(e.model().model_config(), *e.tokenizer(), history, f.chat, {});
    if (!built.ok()) {
      fmt::print(stderr, "error: {}\n", built.status().message());
      history.pop_back();
      continue;
    }
    req.prompt = std::move(built->ids);
    TerminalSink sink;
    g_interrupted.store(false);
    auto result = e.Generate(req, [&](const std::string& piece) { sink.Push(piece); }, &g_interrupted);
    sink.Finish();
    if (!result.ok()) {
      fmt::print(stderr, "error: {}\n", result.status().message());
      history.pop_back();
      continue;
    }
    tokens_run += result->prompt_tokens - result->reused_prompt_tokens + result->ids.size();
    const ParsedOutput parsed = ParseModelOutput(result->text);
    ChatMessage answer = ChatMessage::Text("assistant", parsed.content);
    answer.reasoning = parsed.reasoning;
    history.push_back(std::move(answer));
    if (result->finish == FinishReason::kCancelled) fmt::print(stderr, "[stopped]\n");
    if (interactive) fmt::print(stderr, "{}\n", StatsLine(*result));
  }
  if (f.stats) fmt::print(stderr, "{}", ExpertCacheStatsText(e.cached_experts(), tokens_run));
  return 0;
}

}  // namespace glmv::app
