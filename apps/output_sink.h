// Where a streamed answer goes on the terminal: the answer to stdout, the model's reasoning to stderr
// (dimmed when stderr is a terminal), so `glmv run ... > answer.txt` keeps only the answer.
#pragma once

#include <string>

#include "lib/engine/engine.h"
#include "lib/sampling/output_parser.h"

namespace glmv::app {

class TerminalSink {
 public:
  TerminalSink();
  void Push(const std::string& piece);  // a streamed piece of decoded text
  void Finish();                        // flush held-back text and end the line

 private:
  void Reasoning(const std::string& text);
  void Content(const std::string& text);
  ReasoningSplitter splitter_;
  bool dim_ = false;
  bool in_dim_ = false;
  bool wrote_content_ = false;
};

// One line of timings for stderr: prompt and generation speed, time to first token, why it stopped.
std::string StatsLine(const GenerateResult& r);

}  // namespace glmv::app
