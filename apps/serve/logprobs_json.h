// OpenAI's `logprobs` object of a choice (or of a stream chunk): {"content": [{token, logprob, bytes,
// top_logprobs: [{token, logprob, bytes}]}], "refusal": null}. The log-probabilities are the raw model's
// (lib/sampling/logprobs.h: before penalties, grammar masks and temperature). `token` is the token's text
// with ill-formed UTF-8 replaced by U+FFFD (a byte-level token may hold part of a character); `bytes` are
// its exact bytes.
#pragma once

#include <span>

#include <nlohmann/json.hpp>

#include "lib/sampling/logprobs.h"
#include "lib/tokenizer/tokenizer.h"

namespace glmv::app {

nlohmann::ordered_json LogprobsJson(std::span<const TokenLogprob> tokens, const Tokenizer* tokenizer);

}  // namespace glmv::app
