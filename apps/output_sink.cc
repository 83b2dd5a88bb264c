#include "apps/output_sink.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace glmv::app {

TerminalSink::TerminalSink() : dim_(isatty(fileno(stderr)) != 0) {}

void TerminalSink::Reasoning(const std::string& text) {
  if (dim_ && !in_dim_) std::fputs("\x1b[2m", stderr), in_dim_ = true;
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
}

void TerminalSink::Content(const std::string& text) {
  if (in_dim_) std::fputs("\x1b[0m\n", stderr), in_dim_ = false;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  wrote_content_ = true;
}

void TerminalSink::Push(const std::string& piece) {
  splitter_.Push(piece, [&](const std::string& s) { Reasoning(s); }, [&](const std::string& s) { Content(s); });
}

void TerminalSink::Finish() {
  splitter_.Flush([&](const std::string& s) { Reasoning(s); }, [&](const std::string& s) { Content(s); });
  if (in_dim_) std::fputs("\x1b[0m\n", stderr), in_dim_ = false;
  std::fputs("\n", stdout);
  std::fflush(stdout);
}

std::string StatsLine(const GenerateResult& r) {
  const size_t prefilled = r.prompt_tokens - r.reused_prompt_tokens;
  return fmt::format("prompt {} tokens ({} reused) at {:.1f} tok/s | generated {} tokens at {:.1f} tok/s | "
                     "first token after {:.3f} s | finish: {}",
                     r.prompt_tokens, r.reused_prompt_tokens,
                     static_cast<double>(prefilled) / std::max(r.prefill_seconds, 1e-9), r.ids.size(),
                     static_cast<double>(r.ids.size()) / std::max(r.decode_seconds, 1e-9), r.first_token_seconds,
                     FinishReasonName(r.finish));
}

}  // namespace glmv::app
