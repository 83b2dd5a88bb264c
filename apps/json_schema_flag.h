// --json-schema FILE on `glmv run`: the answer constrained to a JSON schema, as the server's
// response_format json_schema does it (lib/sampling: the same subset, the same errors).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "apps/args.h"
#include "lib/engine/engine.h"
#include "lib/sampling/grammar.h"

namespace glmv::app {

OptionSpec JsonSchemaOption();

// The compiled schema of --json-schema, or null without the flag. Errors name the file: unreadable, not JSON,
// or a keyword outside the supported subset (with its place in the schema).
Result<std::shared_ptr<const Grammar>> ReadJsonSchemaFlag(const Args& args);

// Engine::Generate with the answer held to `grammar` (from the token after `</think>` when `thinking`).
Result<GenerateResult> GenerateWithGrammar(Engine& engine, const GenerateRequest& request,
                                           const std::function<void(const std::string&)>& on_text,
                                           std::shared_ptr<const Grammar> grammar, bool thinking);

}  // namespace glmv::app
