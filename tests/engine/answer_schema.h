// The schema of the constrained-decoding tests (issue 13): every value bounded (enum, const, an integer of
// at most 16 digits, boolean, a pattern string of 1 to 8 letters, an array of at most 3 items), so that even
// a random model's answer ends, and the same constraints checked in plain C++ on a parsed answer.
#pragma once

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

namespace glmv::test {

inline constexpr const char* kAnswerSchema = R"({
  "title": "answer", "type": "object",
  "properties": {
    "kind": {"const": "point"},
    "color": {"enum": ["red", "green", "blue"]},
    "count": {"type": "integer"},
    "ok": {"type": "boolean"},
    "name": {"type": "string", "pattern": "^[a-z]{1,8}$"},
    "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 3},
    "note": {"type": ["null", "boolean"]}
  },
  "required": ["kind", "color", "count", "ok", "name", "tags"],
  "additionalProperties": false
})";

// What in `a` breaks kAnswerSchema, or "" when nothing does.
inline std::string AnswerProblems(const nlohmann::ordered_json& a) {
  if (!a.is_object()) return "not an object";
  for (const char* key : {"kind", "color", "count", "ok", "name", "tags"}) {
    if (!a.contains(key)) return std::string("no ") + key;
  }
  for (const auto& [key, v] : a.items()) {
    if (key != "kind" && key != "color" && key != "count" && key != "ok" && key != "name" && key != "tags" && key != "note") {
      return "an unlisted property " + key;
    }
  }
  if (a["kind"] != "point") return "kind is not \"point\"";
  if (a["color"] != "red" && a["color"] != "green" && a["color"] != "blue") return "color is not in the enum";
  if (!a["count"].is_number_integer()) return "count is not an integer";
  if (!a["ok"].is_boolean()) return "ok is not a boolean";
  if (!a["name"].is_string()) return "name is not a string";
  const std::string name = a["name"].get<std::string>();
  if (name.empty() || name.size() > 8 || !std::all_of(name.begin(), name.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    return "name does not match ^[a-z]{1,8}$";
  }
  if (!a["tags"].is_array() || a["tags"].size() > 3) return "tags is not an array of at most 3";
  for (const auto& t : a["tags"]) {
    if (t != "a" && t != "b" && t != "c") return "a tag is not in the enum";
  }
  if (a.contains("note") && !a["note"].is_null() && !a["note"].is_boolean()) return "note is not null or boolean";
  return "";
}

}  // namespace glmv::test
