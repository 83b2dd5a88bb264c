#include "apps/act_precision_flag.h"

#include "lib/model/linear.h"

namespace glmv::app {

OptionSpec ActPrecisionOption() {
  return {"--act-precision", "", true,
          "auto|int8|int8x2  activations of int4/int8 weights: int8x2 quantizes them twice (~14-bit, 2x dot "
          "products); auto (default) does so for decode rows, prefill rows once"};
}

Result<ActPrecision> ReadActPrecision(const Args& args) {
  auto precision = ParseActPrecision(args.Get("--act-precision", "auto"));
  if (!precision.ok()) return Status::Error("--act-precision: " + precision.status().message());
  return *precision;
}

}  // namespace glmv::app
