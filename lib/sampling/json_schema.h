// OpenAI's response_format as a grammar: {"type":"json_object"} is any JSON object, {"type":"json_schema"}
// the documents a JSON schema accepts, compiled into a byte-level Grammar (grammar.h) that constrains
// decoding so that every answer parses and validates.
//
// The supported subset (draft 2020-12 names; `definitions` as in draft 7):
//   type (a name or a list of names), enum, const, anyOf, $ref to "#" or a JSON pointer inside the schema
//   ("#/$defs/name", "#/definitions/name"; recursion allowed), $defs, definitions;
//   object: properties, required, additionalProperties (false, true or absent);
//   array: items (one schema), minItems, maxItems;
//   string: minLength, maxLength (in code points), pattern (string_pattern.h's simple form; not together
//   with minLength or maxLength); number, integer, boolean, null (no range keywords).
// Annotations are accepted and ignored: title, description, $schema, $id, default, examples, $comment.
// Any other keyword is an error that names it and its JSON pointer (e.g. `#/properties/age`), as is a
// keyword of the wrong type, a `required` name missing from `properties`, or a $ref that does not resolve.
//
// Choices the grammar makes (every answer still validates):
//  - Objects hold only the listed properties, in the order the schema lists them (so parse with
//    nlohmann::ordered_json to keep it); a required property is always present, an optional one may be left
//    out. `additionalProperties: true` adds no others. An object schema without `properties`: `{}` when
//    strict (absent additionalProperties counts as false) or with additionalProperties false, else any object.
//  - No whitespace, bounded numbers (json_grammar.h).
//  - enum and const emit each value as compact JSON (nlohmann's dump()); they combine with `type` only
//    (values of other types are dropped), not with other keywords.
//  - Without `type`, the keywords present choose it (properties → object, items → array, pattern → string);
//    with none of them, any JSON value. Keywords of a type not chosen are ignored, as JSON Schema says.
//  - Definitions are compiled when referenced: an unused definition is not checked.
#pragma once

#include <memory>
#include <string>
#include <nlohmann/json.hpp>

#include "io/status.h"
#include "lib/sampling/grammar.h"

namespace glmv {

struct JsonSchemaOptions {
  bool strict = false;  // json_schema.strict of the request
};

// The compiler behind CompileJsonSchema, for grammars that embed JSON values (e.g. the tool-call format's
// argument values, tool_call_grammar.h): it adds rules to the caller's builder. `root` is the schema that
// "#" means in a $ref; it must outlive the compiler.
class JsonSchemaCompiler {
 public:
  JsonSchemaCompiler(GrammarBuilder& b, const nlohmann::ordered_json& root, const JsonSchemaOptions& options);
  ~JsonSchemaCompiler();
  JsonSchemaCompiler(const JsonSchemaCompiler&) = delete;
  JsonSchemaCompiler& operator=(const JsonSchemaCompiler&) = delete;

  // The rule whose sentences are the compact JSON documents `root` accepts.
  Result<uint32_t> RootRule();
  // The same for `node`, a schema inside root; `path` (a JSON pointer, e.g. "#/properties/city") names it
  // in errors.
  Result<uint32_t> Rule(const nlohmann::ordered_json& node, const std::string& path);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// {"type":"json_object"}: any JSON object.
std::shared_ptr<const Grammar> JsonObjectGrammar();

// {"type":"json_schema"}: the grammar of the documents `schema` accepts, or an error naming the unsupported
// keyword and where it is (a client error, HTTP 400).
Result<std::shared_ptr<const Grammar>> CompileJsonSchema(const nlohmann::ordered_json& schema,
                                                         const JsonSchemaOptions& options = {});

}  // namespace glmv
