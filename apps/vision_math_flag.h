// --vision-math, shared by the commands that run a model (run, chat, serve, check-golden): the vision tower's
// arithmetic (lib/vision/vision_model.h, VisionMath).
#pragma once

#include "apps/args.h"
#include "io/status.h"
#include "lib/vision/vision_model.h"

namespace glmv::app {

OptionSpec VisionMathOption();
// Reads --vision-math (default auto). An unknown value is an error naming the accepted ones.
Result<VisionMath> ReadVisionMath(const Args& args);

}  // namespace glmv::app
