// Small pieces the subcommands share: an error's one line, Ctrl-C as a request to stop cleanly (synth,
// convert), wall-clock seconds and the process's peak memory for their summaries.
#pragma once

#include <cstddef>

#include "io/status.h"

namespace glmv::app {

// Prints "glmv COMMAND: message" to stderr and returns the exit code 1.
int CommandFailed(const char* command, const Status& s);

// After this, SIGINT and SIGTERM set a flag instead of killing the process, so the command can remove its
// partial output and exit with a message.
void InstallInterruptHandler();
bool Interrupted();

double NowSeconds();  // steady clock
size_t PeakRssBytes();  // VmHWM; 0 when /proc is unavailable

}  // namespace glmv::app
