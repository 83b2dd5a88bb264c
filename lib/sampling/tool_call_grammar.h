// GLM-4.5's tool-call format (spec §5.3; the chat templates in ../shared/ref/glm-4.5v) as a grammar, so that
// OpenAI's tool_choice "required" or a named function can force the answer into a call:
//
//   <tool_call>NAME\n<arg_key>KEY</arg_key>\n<arg_value>VALUE</arg_value>\n ... </tool_call>
//
// The arguments follow the function's `parameters` JSON schema: an object schema whose `properties` are the
// arguments, written in the schema's order (required ones always, optional ones maybe); without properties
// a call has none. A value of a string schema is written raw, as the template writes a string argument;
// every other value is compact JSON under json_schema.h's subset and choices. A raw value holds no '<'
// (which would start the closing tag) and no control character but tab, newline and carriage return.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/status.h"
#include "lib/sampling/grammar.h"
#include "lib/sampling/output_parser.h"
#include "lib/tokenizer/tokenizer.h"

namespace glmv {

struct ToolFunction {
  std::string name;
  nlohmann::ordered_json parameters;  // a JSON schema (null: no arguments)
  bool strict = false;                // function.strict
};

// The functions of OpenAI's `tools` ([{"type": "function", "function": {"name", "parameters", "strict"}}]),
// or an error naming the entry that is not one.
Result<std::vector<ToolFunction>> ToolFunctionsFromJson(const nlohmann::ordered_json& tools);

// Calls of the `functions` (any of them): exactly one call, or with `many` one or more separated by a
// newline; an optional newline first (the line break GLM writes after `</think>`). Errors name the function
// and the place in its schema of a keyword outside the supported subset.
Result<std::shared_ptr<const Grammar>> CompileToolCallGrammar(std::span<const ToolFunction> functions, bool many);

// A value of `schema` is written raw (unquoted): the schema is a string (type "string", or string keywords
// only) or an enum/const of strings only.
bool IsRawStringSchema(const nlohmann::ordered_json& schema);

// `call`'s arguments typed by its function's schema: text for a raw string parameter, else the value parsed
// as JSON (its text when it does not parse). Unknown functions and parameters keep the parser's guess
// (ParsedToolCall::arguments).
nlohmann::ordered_json ToolCallArguments(const ParsedToolCall& call, std::span<const ToolFunction> functions);

// The tokenizer's added tokens of the format (<tool_call>, <arg_key>, ... as GLM-4.5 has them) with their
// text, for TokenConstraintOptions::text_tokens; none for a tokenizer without them.
std::vector<std::pair<int64_t, std::string>> ToolCallTextTokens(const Tokenizer& tokenizer);

}  // namespace glmv
