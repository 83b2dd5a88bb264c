#include "lib/sampling/tool_call_grammar.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "lib/sampling/json_grammar.h"
#include "lib/sampling/json_schema.h"

namespace glmv {
namespace {

using Json = nlohmann::ordered_json;

const std::set<std::string_view> kAnnotations = {"title", "description", "$schema", "$id", "default", "examples",
                                                 "$comment"};
const std::set<std::string_view> kParameterKeywords = {"type", "properties", "required", "additionalProperties",
                                                       "$defs", "definitions"};
const std::set<std::string_view> kStringKeywords = {"type", "enum", "const", "minLength", "maxLength", "pattern"};

Status Error(const std::string& function, const std::string& what) {
  return Status::Error("tools: function '" + function + "': " + what);
}

std::string Pointer(std::string_view key) {
  std::string out = "#/properties/";
  for (const char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

// A raw value of a string schema (IsRawStringSchema): the enum's or const's texts, a pattern's characters,
// or min..max characters.
Frag RawValue(GrammarBuilder& b, JsonFragments& json, const Json& schema) {
  if (schema.contains("enum") || schema.contains("const")) {
    const Json values = schema.contains("enum") ? schema["enum"] : Json::array({schema["const"]});
    std::vector<Frag> choices;
    for (const Json& v : values) choices.push_back(b.Literal(v.get<std::string>()));
    return b.Alt(choices);
  }
  if (schema.contains("pattern")) return json.RawPatternString(ParseStringPattern(schema["pattern"].get<std::string>()).value());
  const auto count = [&](const char* key) -> std::optional<size_t> {
    if (!schema.contains(key)) return std::nullopt;
    return schema[key].get<size_t>();
  };
  return json.RawString(count("minLength").value_or(0), count("maxLength"));
}

// `<arg_key>K</arg_key>\n<arg_value>V</arg_value>\n` for each property of f's parameters.
Result<Frag> Arguments(GrammarBuilder& b, const ToolFunction& f) {
  const Json& p = f.parameters;
  if (p.is_null() || (p.is_object() && p.empty())) return b.Empty();
  if (!p.is_object()) return Error(f.name, "parameters must be a JSON schema object");
  for (const auto& [key, v] : p.items()) {
    if (!kAnnotations.count(key) && !kParameterKeywords.count(key)) {
      return Error(f.name, "unsupported keyword \"" + key + "\" in parameters");
    }
  }
  if (p.contains("type") && p["type"] != "object") return Error(f.name, "parameters must have type \"object\"");
  if (!p.contains("properties")) return b.Empty();
  if (!p["properties"].is_object()) return Error(f.name, "parameters.properties must be an object");
  std::set<std::string> required;
  if (p.contains("required")) {
    if (!p["required"].is_array()) return Error(f.name, "parameters.required must be an array of names");
    for (const Json& name : p["required"]) {
      if (!name.is_string() || !p["properties"].contains(name.get<std::string>())) {
        return Error(f.name, "parameters.required names " + name.dump() + ", which is not in properties");
      }
      required.insert(name.get<std::string>());
    }
  }
  JsonSchemaOptions options;
  options.strict = f.strict;
  JsonSchemaCompiler compiler(b, p, options);
  JsonFragments json(b);
  std::vector<Frag> parts;
  for (const auto& [key, schema] : p["properties"].items()) {
    // Compiled as JSON even when written raw: the same checks and errors as response_format's.
    auto rule = compiler.Rule(schema, Pointer(key));
    if (!rule.ok()) return Error(f.name, rule.status().message());
    const Frag value = IsRawStringSchema(schema) ? RawValue(b, json, schema) : b.Call(*rule);
    const Frag arg = b.Seq({b.Literal("<arg_key>" + key + "</arg_key>\n<arg_value>"), value, b.Literal("</arg_value>\n")});
    parts.push_back(required.count(key) ? arg : b.Optional(arg));
  }
  return parts.empty() ? b.Empty() : b.Seq(parts);
}

}  // namespace

Result<std::vector<ToolFunction>> ToolFunctionsFromJson(const Json& tools) {
  if (!tools.is_array()) return Status::Error("tools must be an array");
  std::vector<ToolFunction> out;
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string where = "tools[" + std::to_string(i) + "]";
    const Json& t = tools[i];
    if (!t.is_object() || t.value("type", std::string("function")) != "function" || !t.contains("function") ||
        !t["function"].is_object()) {
      return Status::Error(where + " must be {\"type\": \"function\", \"function\": {...}}");
    }
    const Json& f = t["function"];
    if (!f.contains("name") || !f["name"].is_string() || f["name"].get<std::string>().empty()) {
      return Status::Error(where + ".function.name must be a non-empty string");
    }
    ToolFunction fn;
    fn.name = f["name"].get<std::string>();
    if (fn.name.find_first_of("<\n") != std::string::npos) return Status::Error(where + ".function.name holds '<' or a newline");
    if (f.contains("parameters")) fn.parameters = f["parameters"];
    if (f.contains("strict") && f["strict"].is_boolean()) fn.strict = f["strict"].get<bool>();
    out.push_back(std::move(fn));
  }
  return out;
}

bool IsRawStringSchema(const Json& schema) {
  if (!schema.is_object()) return false;
  for (const auto& [key, v] : schema.items()) {
    if (!kAnnotations.count(key) && !kStringKeywords.count(key)) return false;
  }
  if (schema.contains("type") && schema["type"] != "string") return false;
  if (schema.contains("enum") || schema.contains("const")) {
    const Json values = schema.contains("enum") ? schema["enum"] : Json::array({schema["const"]});
    return values.is_array() && !values.empty() &&
           std::all_of(values.begin(), values.end(), [](const Json& v) { return v.is_string(); });
  }
  return schema.contains("type") || schema.contains("pattern") || schema.contains("minLength") || schema.contains("maxLength");
}

Result<std::shared_ptr<const Grammar>> CompileToolCallGrammar(std::span<const ToolFunction> functions, bool many) {
  if (functions.empty()) return Status::Error("tools: no function to call");
  GrammarBuilder b;
  std::vector<Frag> calls;
  for (const ToolFunction& f : functions) {
    GLMV_ASSIGN_OR_RETURN(const Frag args, Arguments(b, f));
    calls.push_back(b.Seq({b.Literal("<tool_call>" + f.name + "\n"), args, b.Literal("</tool_call>")}));
  }
  const uint32_t call = b.DeclareRule();
  b.DefineRule(call, b.Alt(calls));
  Frag body = b.Seq({b.Optional(b.Literal("\n")), b.Call(call)});
  if (many) body = b.Seq({body, b.Star(b.Seq({b.Literal("\n"), b.Call(call)}))});
  const uint32_t root = b.DeclareRule();
  b.DefineRule(root, body);
  GLMV_ASSIGN_OR_RETURN(Grammar g, b.Build(root));
  return std::make_shared<const Grammar>(std::move(g));
}

Json ToolCallArguments(const ParsedToolCall& call, std::span<const ToolFunction> functions) {
  const auto f = std::find_if(functions.begin(), functions.end(), [&](const ToolFunction& x) { return x.name == call.name; });
  if (f == functions.end() || !f->parameters.is_object() || !f->parameters.contains("properties") ||
      !f->parameters["properties"].is_object()) {
    return call.arguments;
  }
  const Json& props = f->parameters["properties"];
  Json out = Json::object();
  for (const auto& [key, value] : call.raw_arguments) {
    if (!props.contains(key)) {
      out[key] = call.arguments.contains(key) ? call.arguments[key] : Json(value);
    } else if (IsRawStringSchema(props[key])) {
      out[key] = value;
    } else {
      const Json parsed = Json::parse(value, nullptr, false);
      out[key] = parsed.is_discarded() ? Json(value) : parsed;
    }
  }
  return out;
}

std::vector<std::pair<int64_t, std::string>> ToolCallTextTokens(const Tokenizer& tokenizer) {
  std::vector<std::pair<int64_t, std::string>> out;
  for (const char* tag : {"<tool_call>", "</tool_call>", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>"}) {
    const auto id = tokenizer.TokenId(tag);
    if (id && tokenizer.IsAdded(*id)) out.emplace_back(*id, tag);
  }
  return out;
}

}  // namespace glmv
