// --act-precision, shared by the commands that run a model (run, chat, check-golden, compare): how packed
// weights see their activations (lib/linear.h, ActPrecision).
#pragma once

#include "apps/args.h"
#include "io/status.h"
#include "lib/model/linear.h"

namespace glmv::app {

OptionSpec ActPrecisionOption();
// Reads --act-precision (default auto); an unknown value is an error naming it.
Result<ActPrecision> ReadActPrecision(const Args& args);

}  // namespace glmv::app
