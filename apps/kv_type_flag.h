// --kv-type, shared by the commands that run a model (run, chat, serve, check-golden): the element type of
// the keys and values (lib/text/kv_cache.h, KvType).
#pragma once

#include <string>

#include "apps/args.h"
#include "io/status.h"
#include "lib/text/kv_cache.h"

namespace glmv::app {

OptionSpec KvTypeOption();
// Reads --kv-type. Default: f32 for a model directory (the reference's own arithmetic, which check-golden
// holds to 1e-4), bf16 for a .glmv file (half the bytes; its KL on the golden sets is in apps/README.md).
// An unknown value is an error naming the accepted ones.
Result<KvType> ReadKvType(const Args& args, const std::string& model_path);

}  // namespace glmv::app
