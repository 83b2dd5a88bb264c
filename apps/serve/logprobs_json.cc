#include "apps/serve/logprobs_json.h"

#include <algorithm>

#include "lib/tokenizer/tokenizer_utf8.h"

namespace glmv::app {

namespace {

using json = nlohmann::ordered_json;

json Entry(int64_t id, float logprob, const Tokenizer* tokenizer) {
  const std::string text = tokenizer ? tokenizer->TokenText(id) : "";
  json bytes = json::array();
  for (const char c : text) bytes.push_back(static_cast<uint8_t>(c));
  // JSON has no -infinity: a token the model gives no chance (a padding row) gets OpenAI's floor.
  return {{"token", ReplaceInvalidUtf8(text)}, {"logprob", std::max(logprob, -9999.0f)}, {"bytes", bytes}};
}

}  // namespace

json LogprobsJson(std::span<const TokenLogprob> tokens, const Tokenizer* tokenizer) {
  json content = json::array();
  for (const TokenLogprob& t : tokens) {
    json e = Entry(t.id, t.logprob, tokenizer);
    json top = json::array();
    for (const auto& [id, lp] : t.top) top.push_back(Entry(id, lp, tokenizer));
    e["top_logprobs"] = std::move(top);
    content.push_back(std::move(e));
  }
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

}  // namespace glmv::app
