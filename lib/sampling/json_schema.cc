#include "lib/sampling/json_schema.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <vector>

#include "lib/sampling/json_grammar.h"

namespace glmv {
namespace {

using Json = nlohmann::ordered_json;

constexpr int kMaxNesting = 64;  // schema objects inside each other; deeper schemas are refused

const std::set<std::string_view> kAnnotations = {"title", "description", "$schema", "$id", "default", "examples",
                                                 "$comment"};
const std::set<std::string_view> kKeywords = {"type", "properties", "required", "additionalProperties", "items",
                                              "minItems", "maxItems", "minLength", "maxLength", "pattern", "enum",
                                              "const", "anyOf", "$ref", "$defs", "definitions"};
const std::set<std::string_view> kTypes = {"object", "array", "string", "number", "integer", "boolean", "null"};

// `path` + "/" + `key`, escaped as a JSON pointer token.
std::string Child(const std::string& path, std::string_view key) {
  std::string out = path + "/";
  for (const char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

bool HasType(const Json& v, std::string_view type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") return v.is_number_integer() || (v.is_number_float() && std::trunc(v.get<double>()) == v.get<double>());
  if (type == "boolean") return v.is_boolean();
  return v.is_null();
}

}  // namespace

class JsonSchemaCompiler::Impl {
 public:
  Impl(GrammarBuilder& b, const Json& root, const JsonSchemaOptions& options)
      : root_(root), options_(options), b_(b), json_(b_) {}

  // The rule for the schema at JSON pointer `ref` ("#" or "#/..."), compiled once (so recursion ends).
  Result<uint32_t> RefRule(const std::string& ref, const std::string& path) {
    if (const auto it = rules_.find(ref); it != rules_.end()) return it->second;
    const Json* target = &root_;
    if (ref != "#") {
      if (ref.rfind("#/", 0) != 0) return Error("only local $ref (\"#\" or \"#/...\") is supported, not \"" + ref + "\"", path);
      try {
        target = &root_.at(Json::json_pointer(ref.substr(1)));
      } catch (const nlohmann::json::exception&) {
        return Error("$ref \"" + ref + "\" does not resolve", path);
      }
    }
    const uint32_t rule = b_.DeclareRule();
    rules_[ref] = rule;
    GLMV_ASSIGN_OR_RETURN(const Frag body, Node(*target, ref));
    b_.DefineRule(rule, body);
    return rule;
  }

  // A rule for a sub-schema (so that repetitions can call it).
  Result<uint32_t> SubRule(const Json& node, const std::string& path) {
    const uint32_t rule = b_.DeclareRule();
    GLMV_ASSIGN_OR_RETURN(const Frag body, Node(node, path));
    b_.DefineRule(rule, body);
    return rule;
  }

 private:
  static Status Error(const std::string& what, const std::string& path) {
    return Status::Error("JSON schema: " + what + " at " + path);
  }

  // The keyword's value as a count (a non-negative integer), nullopt when absent.
  static Result<std::optional<size_t>> Count(const Json& node, const char* key, const std::string& path) {
    if (!node.contains(key)) return std::optional<size_t>();
    const Json& v = node[key];
    if (!v.is_number_unsigned()) return Error(std::string(key) + " must be a non-negative integer", Child(path, key));
    return std::optional<size_t>(v.get<size_t>());
  }

  // Every keyword is supported or an annotation; those in `alone_with` are the only others allowed beside
  // `keyword` (when it is present).
  static Status CheckSiblings(const Json& node, const std::string& path, const char* keyword,
                              std::initializer_list<std::string_view> alone_with) {
    if (!node.contains(keyword)) return Status::Ok();
    for (const auto& [key, v] : node.items()) {
      if (key == keyword || kAnnotations.count(key) || std::find(alone_with.begin(), alone_with.end(), key) != alone_with.end()) continue;
      return Error(std::string(keyword) + " beside \"" + key + "\" is not supported", path);
    }
    return Status::Ok();
  }

  Result<Frag> Node(const Json& node, const std::string& path) {
    if (node.is_boolean()) {
      if (!node.get<bool>()) return Error("the schema false accepts nothing", path);
      return b_.Call(json_.AnyValueRule());
    }
    if (!node.is_object()) return Error("a schema must be an object or a boolean", path);
    if (depth_ >= kMaxNesting) return Error("schemas nested deeper than " + std::to_string(kMaxNesting), path);
    if (b_.too_large()) return Error("the grammar grew too large", path);
    for (const auto& [key, v] : node.items()) {
      if (!kAnnotations.count(key) && !kKeywords.count(key)) return Error("unsupported keyword \"" + key + "\"", path);
    }
    for (const char* defs : {"$defs", "definitions"}) {
      if (node.contains(defs) && !node[defs].is_object()) return Error(std::string(defs) + " must be an object", Child(path, defs));
    }
    ++depth_;
    Result<Frag> f = Constrained(node, path);
    --depth_;
    return f;
  }

  Result<Frag> Constrained(const Json& node, const std::string& path) {
    GLMV_RETURN_IF_ERROR(CheckSiblings(node, path, "$ref", {"$defs", "definitions"}));
    GLMV_RETURN_IF_ERROR(CheckSiblings(node, path, "anyOf", {"$defs", "definitions"}));
    GLMV_RETURN_IF_ERROR(CheckSiblings(node, path, "enum", {"type", "$defs", "definitions"}));
    GLMV_RETURN_IF_ERROR(CheckSiblings(node, path, "const", {"type", "$defs", "definitions"}));
    GLMV_ASSIGN_OR_RETURN(const std::vector<std::string> types, Types(node, path));
    if (node.contains("$ref")) {
      if (!node["$ref"].is_string()) return Error("$ref must be a string", Child(path, "$ref"));
      GLMV_ASSIGN_OR_RETURN(const uint32_t rule, RefRule(node["$ref"].get<std::string>(), Child(path, "$ref")));
      return b_.Call(rule);
    }
    if (node.contains("enum") || node.contains("const")) return Values(node, path, types);
    std::vector<Frag> choices;
    if (node.contains("anyOf")) {
      const Json& list = node["anyOf"];
      if (!list.is_array() || list.empty()) return Error("anyOf must be a non-empty array", Child(path, "anyOf"));
      for (size_t i = 0; i < list.size(); ++i) {
        GLMV_ASSIGN_OR_RETURN(const Frag f, Node(list[i], Child(Child(path, "anyOf"), std::to_string(i))));
        choices.push_back(f);
      }
      return b_.Alt(choices);
    }
    if (types.empty()) return b_.Call(json_.AnyValueRule());
    for (const std::string& type : types) {
      GLMV_ASSIGN_OR_RETURN(const Frag f, Typed(node, path, type));
      choices.push_back(f);
    }
    return choices.size() == 1 ? choices[0] : b_.Alt(choices);
  }

  // `type` as a list (with "integer" dropped beside "number"), or the type the keywords imply; empty: any.
  static Result<std::vector<std::string>> Types(const Json& node, const std::string& path) {
    std::vector<std::string> types;
    if (node.contains("type")) {
      const Json& t = node["type"];
      const Json list = t.is_array() ? t : Json::array({t});
      for (const Json& name : list) {
        if (!name.is_string() || !kTypes.count(name.get<std::string>())) {
          return Error("type must be one of object, array, string, number, integer, boolean, null (or a list of them)",
                       Child(path, "type"));
        }
        if (std::find(types.begin(), types.end(), name.get<std::string>()) == types.end()) types.push_back(name);
      }
      if (types.empty()) return Error("type is an empty list", Child(path, "type"));
      if (std::find(types.begin(), types.end(), "number") != types.end()) {
        types.erase(std::remove(types.begin(), types.end(), "integer"), types.end());
      }
      return types;
    }
    auto any = [&](std::initializer_list<const char*> keys) {
      return std::any_of(keys.begin(), keys.end(), [&](const char* k) { return node.contains(k); });
    };
    if (any({"properties", "required", "additionalProperties"})) types.push_back("object");
    if (any({"items", "minItems", "maxItems"})) types.push_back("array");
    if (any({"minLength", "maxLength", "pattern"})) types.push_back("string");
    return types;
  }

  // enum / const: the listed values (of the listed types, when `type` is given) as compact JSON.
  Result<Frag> Values(const Json& node, const std::string& path, const std::vector<std::string>& types) {
    if (node.contains("enum") && node.contains("const")) return Error("enum beside const is not supported", path);
    const bool is_enum = node.contains("enum");
    const Json values = is_enum ? node["enum"] : Json::array({node["const"]});
    const std::string where = Child(path, is_enum ? "enum" : "const");
    if (!values.is_array() || values.empty()) return Error("enum must be a non-empty array", where);
    std::vector<Frag> choices;
    for (const Json& v : values) {
      const bool typed = types.empty() || std::any_of(types.begin(), types.end(), [&](const std::string& t) { return HasType(v, t); });
      if (typed) choices.push_back(b_.Literal(v.dump()));
    }
    if (choices.empty()) return Error("no value has the schema's type", where);
    return b_.Alt(choices);
  }

  Result<Frag> Typed(const Json& node, const std::string& path, const std::string& type) {
    if (type == "object") return Object(node, path);
    if (type == "array") return Array(node, path);
    if (type == "string") return String(node, path);
    if (type == "number") return json_.Number();
    if (type == "integer") return json_.Integer();
    if (type == "boolean") return b_.Alt({b_.Literal("true"), b_.Literal("false")});
    return b_.Literal("null");
  }

  Result<Frag> String(const Json& node, const std::string& path) {
    GLMV_ASSIGN_OR_RETURN(const std::optional<size_t> min, Count(node, "minLength", path));
    GLMV_ASSIGN_OR_RETURN(const std::optional<size_t> max, Count(node, "maxLength", path));
    if (min && max && *min > *max) return Error("minLength above maxLength accepts nothing", path);
    if (!node.contains("pattern")) return json_.String(min.value_or(0), max);
    if (min || max) return Error("pattern beside minLength or maxLength is not supported", path);
    if (!node["pattern"].is_string()) return Error("pattern must be a string", Child(path, "pattern"));
    auto atoms = ParseStringPattern(node["pattern"].get<std::string>());
    if (!atoms.ok()) return Error(atoms.status().message(), Child(path, "pattern"));
    return json_.PatternString(*atoms);
  }

  Result<Frag> Array(const Json& node, const std::string& path) {
    GLMV_ASSIGN_OR_RETURN(const std::optional<size_t> min, Count(node, "minItems", path));
    GLMV_ASSIGN_OR_RETURN(const std::optional<size_t> max, Count(node, "maxItems", path));
    if (min && max && *min > *max) return Error("minItems above maxItems accepts nothing", path);
    if (max == size_t{0}) return b_.Literal("[]");
    uint32_t item = 0;
    if (node.contains("items")) {
      if (node["items"].is_array()) return Error("items as a list (tuples) is not supported", Child(path, "items"));
      GLMV_ASSIGN_OR_RETURN(item, SubRule(node["items"], Child(path, "items")));
    } else {
      item = json_.AnyValueRule();
    }
    const size_t first = std::max<size_t>(min.value_or(0), 1) - 1;
    const std::optional<size_t> more_max = max ? std::optional<size_t>(*max - 1) : std::nullopt;
    const Frag more = b_.Repeat([&] { return b_.Seq({b_.Literal(","), b_.Call(item)}); }, first, more_max);
    Frag items = b_.Seq({b_.Call(item), more});
    if (min.value_or(0) == 0) items = b_.Optional(items);
    return b_.Seq({b_.Literal("["), items, b_.Literal("]")});
  }

  Result<Frag> Object(const Json& node, const std::string& path) {
    std::optional<bool> additional;
    if (node.contains("additionalProperties")) {
      if (!node["additionalProperties"].is_boolean()) {
        return Error("additionalProperties must be true or false (a schema is not supported)", Child(path, "additionalProperties"));
      }
      additional = node["additionalProperties"].get<bool>();
    }
    std::set<std::string> required;
    if (node.contains("required")) {
      const Json& r = node["required"];
      if (!r.is_array()) return Error("required must be an array of names", Child(path, "required"));
      for (const Json& name : r) {
        if (!name.is_string()) return Error("required must be an array of names", Child(path, "required"));
        const std::string n = name.get<std::string>();
        if (!node.contains("properties") || !node["properties"].is_object() || !node["properties"].contains(n)) {
          return Error("required names \"" + n + "\", which is not in properties", Child(path, "required"));
        }
        required.insert(n);
      }
    }
    if (!node.contains("properties")) {
      if (additional == false || (!additional && options_.strict)) return b_.Literal("{}");
      return json_.AnyObject();
    }
    const Json& props = node["properties"];
    if (!props.is_object()) return Error("properties must be an object", Child(path, "properties"));
    struct Property {
      std::string key;  // "name": as JSON
      uint32_t rule;
      bool required;
    };
    std::vector<Property> list;
    for (const auto& [name, schema] : props.items()) {
      GLMV_ASSIGN_OR_RETURN(const uint32_t rule, SubRule(schema, Child(Child(path, "properties"), name)));
      list.push_back({Json(name).dump() + ":", rule, required.count(name) > 0});
    }
    // Properties in schema order, commas between those present. Built from the last property back: rest[k]
    // is properties k.. after some property was written, first[k] the same before any was written.
    auto member = [&](const Property& p, bool comma) {
      return b_.Seq({b_.Literal(comma ? "," + p.key : p.key), b_.Call(p.rule)});
    };
    Frag rest = b_.Empty(), first = b_.Empty();
    for (size_t k = list.size(); k-- > 0;) {
      const Property& p = list[k];
      const Frag starts_here = b_.Seq({member(p, false), rest});
      first = p.required ? starts_here : b_.Alt({starts_here, first});
      const Frag next = member(p, true);
      rest = b_.Seq({p.required ? next : b_.Optional(next), rest});
    }
    return b_.Seq({b_.Literal("{"), first, b_.Literal("}")});
  }

  const Json& root_;
  JsonSchemaOptions options_;
  GrammarBuilder& b_;
  JsonFragments json_;
  std::map<std::string, uint32_t> rules_;  // by $ref
  int depth_ = 0;
};

JsonSchemaCompiler::JsonSchemaCompiler(GrammarBuilder& b, const nlohmann::ordered_json& root, const JsonSchemaOptions& options)
    : impl_(std::make_unique<Impl>(b, root, options)) {}

JsonSchemaCompiler::~JsonSchemaCompiler() = default;

Result<uint32_t> JsonSchemaCompiler::RootRule() { return impl_->RefRule("#", "#"); }

Result<uint32_t> JsonSchemaCompiler::Rule(const nlohmann::ordered_json& node, const std::string& path) {
  return impl_->SubRule(node, path);
}

std::shared_ptr<const Grammar> JsonObjectGrammar() {
  static const std::shared_ptr<const Grammar> grammar = [] {
    GrammarBuilder b;
    JsonFragments json(b);
    const uint32_t root = b.DeclareRule();
    b.DefineRule(root, json.AnyObject());
    return std::make_shared<const Grammar>(std::move(b.Build(root)).value());
  }();
  return grammar;
}

Result<std::shared_ptr<const Grammar>> CompileJsonSchema(const nlohmann::ordered_json& schema, const JsonSchemaOptions& options) {
  GrammarBuilder b;
  GLMV_ASSIGN_OR_RETURN(const uint32_t root, JsonSchemaCompiler(b, schema, options).RootRule());
  GLMV_ASSIGN_OR_RETURN(Grammar g, b.Build(root));
  return std::make_shared<const Grammar>(std::move(g));
}

}  // namespace glmv
