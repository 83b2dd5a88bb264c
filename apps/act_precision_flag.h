// --act-precision, shared by the commands that run a model (run, chat, check-golden, compare): how packed
// weights see their activations (lib/linear.h, ActPrecision).
#pragma once

#include "apps/args.h"
#include "io/status.h"

namespace glmv::app {

OptionSpec ActPrecisionOption();
// Reads --act-precision (default auto) and sets it process-wide; an unknown value is an error naming it.
Status ApplyActPrecision(const Args& args);

}  // namespace glmv::app
