// Small pieces the long-running subcommands share (synth, convert): Ctrl-C as a request to stop cleanly,
// wall-clock seconds and the process's peak memory for their summaries.
#pragma once

#include <cstddef>

namespace glmv::app {

// After this, SIGINT and SIGTERM set a flag instead of killing the process, so the command can remove its
// partial output and exit with a message.
void InstallInterruptHandler();
bool Interrupted();

double NowSeconds();  // steady clock
size_t PeakRssBytes();  // VmHWM; 0 when /proc is unavailable

}  // namespace glmv::app
