// --json-schema FILE on `glmv run`: the answer constrained to a JSON schema, as the server's
// response_format json_schema does it (lib/sampling: the same subset, the same errors).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "apps/args.h"
#include "lib/engine/engine.h"
#include "lib/sampling/grammar.h"
#include "lib/sampling/token_constraint.h"
#include "lib/sampling/token_trie.h"

namespace glmv::app {

OptionSpec JsonSchemaOption();

// The compiled schema of --json-schema, or null without the flag. Errors name the file: unreadable, not JSON,
// or a keyword outside the supported subset (with its place in the schema).
Result<std::shared_ptr<const Grammar>> ReadJsonSchemaFlag(const Args& args);

// The engine's vocabulary as a byte trie (null without a tokenizer): built once, shared by every request.
std::shared_ptr<const TokenTrie> VocabularyTrie(const Engine& engine);

// A sequence's constraint to `grammar`: ends only at the model's eos ids once complete, and with `thinking`
// armed from the token after `</think>` (the reasoning stays free). `text_tokens`: added tokens that count
// as their text (TokenConstraintOptions). `run` and the server both use it.
std::unique_ptr<TokenConstraint> AnswerConstraint(const Engine& engine, std::shared_ptr<const Grammar> grammar,
                                                  std::shared_ptr<const TokenTrie> trie, bool thinking,
                                                  std::vector<std::pair<int64_t, std::string>> text_tokens = {});

// Engine::Generate with the answer held to `grammar` (see AnswerConstraint).
Result<GenerateResult> GenerateWithGrammar(Engine& engine, const GenerateRequest& request,
                                           const std::function<void(const std::string&)>& on_text,
                                           std::shared_ptr<const Grammar> grammar,
                                           std::shared_ptr<const TokenTrie> trie, bool thinking);

}  // namespace glmv::app
