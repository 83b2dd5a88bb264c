// JSON schema → grammar (issue 13): unsupported keywords are errors that name the keyword and its path,
// annotations are ignored, and the matcher accepts and refuses hand-written documents for every supported
// keyword, including UTF-8, escapes and surrogate pairs. Every document a grammar accepts here also parses
// with nlohmann::json (checked in Full()).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "lib/sampling/grammar_matcher.h"
#include "lib/sampling/json_schema.h"

namespace glmv {
namespace {

using Json = nlohmann::ordered_json;

std::shared_ptr<const Grammar> Compile(const char* schema, bool strict = false) {
  auto g = CompileJsonSchema(Json::parse(schema), {strict});
  REQUIRE_MESSAGE(g.ok(), g.status().message());
  return std::move(g).value();
}

std::string CompileError(const char* schema) {
  auto g = CompileJsonSchema(Json::parse(schema));
  REQUIRE_FALSE(g.ok());
  return g.status().message();
}

// The whole of `text` is a complete document of the grammar.
bool Full(const std::shared_ptr<const Grammar>& g, std::string_view text) {
  GrammarMatcher m(g);
  const bool ok = m.Advance(text) && m.Complete();
  if (ok) CHECK_MESSAGE(Json::accept(text), "accepted but not JSON: " << text);
  return ok;
}

// `text` may start a document (complete or not).
bool Prefix(const std::shared_ptr<const Grammar>& g, std::string_view text) { return GrammarMatcher(g).Advance(text); }

TEST_CASE("unsupported keywords are errors naming the keyword and its JSON path") {
  auto check = [](const char* schema, const char* keyword, const char* path) {
    const std::string e = CompileError(schema);
    CHECK_MESSAGE(e.find(keyword) != std::string::npos, e);
    CHECK_MESSAGE(e.find(std::string("at ") + path) != std::string::npos, e);
  };
  check(R"({"type":"object","properties":{"date":{"type":"string","format":"date"}}})", "\"format\"", "#/properties/date");
  check(R"({"type":"integer","minimum":0})", "\"minimum\"", "#");
  check(R"({"oneOf":[{"type":"string"}]})", "\"oneOf\"", "#");
  check(R"({"type":"array","items":{"anyOf":[{"type":"null"},{"type":"number","multipleOf":2}]}})", "\"multipleOf\"",
        "#/items/anyOf/1");
  check(R"({"$ref":"#/$defs/a","$defs":{"a":{"type":"string","contentEncoding":"base64"}}})", "\"contentEncoding\"",
        "#/$defs/a");
  check(R"({"properties":{"a/b":{"not":{}}}})", "\"not\"", "#/properties/a~1b");
  check(R"({"type":"object","additionalProperties":{"type":"string"}})", "additionalProperties", "#/additionalProperties");
  check(R"({"type":"object","properties":{"a":{}},"required":["b"]})", "\"b\"", "#/required");
  check(R"({"$ref":"#/$defs/missing"})", "does not resolve", "#/$ref");
  check(R"({"$ref":"https://example.com/s.json"})", "only local $ref", "#/$ref");
  check(R"({"type":"float"})", "type must be one of", "#/type");
  check(R"({"enum":[]})", "non-empty", "#/enum");
  check(R"({"enum":[1,2],"type":"string"})", "no value has the schema's type", "#/enum");
  check(R"({"type":"string","minLength":3,"maxLength":2})", "accepts nothing", "#");
  check(R"({"type":"string","minLength":-1})", "minLength", "#/minLength");
  check(R"({"type":"array","items":[{"type":"string"}]})", "tuples", "#/items");
  check(R"({"properties":{"x":false}})", "accepts nothing", "#/properties/x");
  check(R"({"enum":["a"],"maxLength":3})", "enum beside \"maxLength\"", "#");
  check(R"({"type":"string","pattern":"[a-z]+"})", "anchored", "#/pattern");
  check(R"({"type":"string","pattern":"^(ab|cd)$"})", "'(' is not supported", "#/pattern");
  check(R"({"type":"string","pattern":"^a.c$"})", "'.' is not supported", "#/pattern");
  check(R"({"type":"string","pattern":"^[^a]$"})", "negated", "#/pattern");
  check(R"({"type":"string","pattern":"^a{2,1}$"})", "n < m", "#/pattern");
  check(R"({"type":"string","pattern":"^a\"$"})", "escape", "#/pattern");
  check(R"({"type":"string","pattern":"^[a-z]+$","maxLength":4})", "pattern beside", "#");
  // A grammar past the size limit is refused as a whole (no one keyword to name).
  CHECK(CompileError(R"({"type":"string","maxLength":100000000})").find("too large") != std::string::npos);
}

TEST_CASE("annotations are accepted and ignored") {
  const auto g = Compile(R"({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"x","title":"T",
    "description":"d","$comment":"c","type":"object","default":{},"examples":[{"a":1}],
    "properties":{"a":{"type":"integer","title":"A","description":"an a","default":3,"examples":[1,2]}},
    "required":["a"],"additionalProperties":false})");
  CHECK(Full(g, R"({"a":12})"));
  CHECK_FALSE(Full(g, R"({})"));
}

TEST_CASE("objects: listed properties in schema order, required ones present, no whitespace") {
  const auto g = Compile(R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},
    "c":{"type":"boolean"}},"required":["b"]})");
  CHECK(Full(g, R"({"a":1,"b":"x","c":true})"));
  CHECK(Full(g, R"({"b":"x"})"));
  CHECK(Full(g, R"({"a":1,"b":""})"));
  CHECK(Full(g, R"({"b":"x","c":false})"));
  CHECK_FALSE(Full(g, R"({"a":1})"));                // b is required
  CHECK_FALSE(Full(g, R"({"b":"x","a":1})"));        // order
  CHECK_FALSE(Full(g, R"({"b":"x","d":1})"));        // not listed
  CHECK_FALSE(Full(g, R"({"a": 1,"b":"x"})"));       // whitespace
  CHECK_FALSE(Full(g, R"({,"b":"x"})"));
  CHECK_FALSE(Full(g, R"({"a":1,,"b":"x"})"));
  CHECK_FALSE(Full(g, R"({"a":"1","b":"x"})"));      // a is an integer
  CHECK(Prefix(g, R"({"a":1,"b":"x")"));
  CHECK_FALSE(Full(g, R"({"a":1,"b":"x")"));         // a prefix is not complete
  const auto optional = Compile(R"({"properties":{"a":{"type":"null"},"b":{"type":"null"}}})");
  CHECK(Full(optional, "{}"));
  CHECK(Full(optional, R"({"b":null})"));
  CHECK(Full(optional, R"({"a":null,"b":null})"));
  CHECK_FALSE(Full(optional, R"({"a":null,})"));
}

TEST_CASE("objects without properties: {} when strict or additionalProperties false, else any object") {
  const char* open = R"({"type":"object"})";
  CHECK(Full(Compile(open), R"({"x":[1,{"y":null}],"z":"é"})"));
  CHECK(Full(Compile(open, true), "{}"));
  CHECK_FALSE(Full(Compile(open, true), R"({"x":1})"));
  CHECK_FALSE(Full(Compile(R"({"type":"object","additionalProperties":false})"), R"({"x":1})"));
  const auto any = JsonObjectGrammar();  // response_format json_object
  CHECK(Full(any, "{}"));
  CHECK(Full(any, R"({"a":[1,-2.5e3,"x",{"b":null,"c":true}],"d":{}})"));
  CHECK_FALSE(Full(any, "[]"));
  CHECK_FALSE(Full(any, R"("x")"));
  CHECK_FALSE(Full(any, R"({"a":})"));
  CHECK_FALSE(Full(any, R"({"a":1}})"));
}

TEST_CASE("arrays: items, minItems, maxItems") {
  const auto g = Compile(R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3})");
  CHECK(Full(g, "[1]"));
  CHECK(Full(g, "[1,-2,30]"));
  CHECK_FALSE(Full(g, "[]"));
  CHECK_FALSE(Full(g, "[1,2,3,4]"));
  CHECK_FALSE(Full(g, "[1,]"));
  CHECK_FALSE(Full(g, R"(["1"])"));
  const auto any = Compile(R"({"type":"array","maxItems":2})");
  CHECK(Full(any, "[]"));
  CHECK(Full(any, R"([{"a":[]},"b"])"));
  CHECK_FALSE(Full(any, "[1,2,3]"));
  CHECK(Full(Compile(R"({"type":"array","maxItems":0})"), "[]"));
  const auto many = Compile(R"({"type":"array","items":{"type":"boolean"},"minItems":2})");
  CHECK_FALSE(Full(many, "[true]"));
  CHECK(Full(many, "[true,false,true,true,false]"));
}

TEST_CASE("strings: lengths in code points, UTF-8 and escapes") {
  const auto g = Compile(R"({"type":"string","minLength":1,"maxLength":5})");
  CHECK(Full(g, R"("héllo")"));           // 5 code points, 6 bytes
  CHECK_FALSE(Full(g, R"("héllo!")"));
  CHECK_FALSE(Full(g, R"("")"));
  CHECK(Full(g, "\"\xF0\x9F\x98\x80\""));    // one 4-byte character
  CHECK(Full(g, R"("\u00e9\n\"\\\/")"));  // 5 characters, escaped
  CHECK(Full(g, R"("\ud83d\ude00")"));      // a surrogate pair is one character
  CHECK_FALSE(Full(g, R"("\ud83d")"));      // a lone high surrogate
  CHECK_FALSE(Full(g, R"("\ude00")"));      // a lone low surrogate
  CHECK_FALSE(Full(g, R"("\ud83dx")"));
  CHECK_FALSE(Full(g, R"("\x")"));
  CHECK_FALSE(Full(g, R"("\u12")"));
  CHECK_FALSE(Full(g, "\"a\tb\""));         // a raw control character
  CHECK_FALSE(Prefix(g, "\"\xC0\x80"));      // overlong
  CHECK_FALSE(Prefix(g, "\"\xED\xA0\x80"));  // an encoded surrogate
  CHECK_FALSE(Prefix(g, "\"\xF5"));
  CHECK_FALSE(Prefix(g, "\"\xF4\x90"));      // above U+10FFFF
  CHECK(Prefix(g, "\"\xE4\xB8"));            // an unfinished character may go on
  CHECK(Full(g, "\"\xE4\xB8\xAD\xE6\x96\x87\""));
  const auto free = Compile(R"({"type":"string"})");
  CHECK(Full(free, R"("")"));
  CHECK(Full(free, R"("any \u0041 text, é, 中文")"));
  CHECK(Full(free, "\"\x7F\""));  // DEL needs no escape in JSON
}

TEST_CASE("strings: patterns") {
  const auto word = Compile(R"({"type":"string","pattern":"^[a-z]{1,8}$"})");
  CHECK(Full(word, R"("abc")"));
  CHECK(Full(word, R"("abcdefgh")"));
  CHECK_FALSE(Full(word, R"("")"));
  CHECK_FALSE(Full(word, R"("abcdefghi")"));
  CHECK_FALSE(Full(word, R"("aB")"));
  const auto code = Compile(R"({"type":"string","pattern":"^[A-Z]{2}-\\d{4}$"})");
  CHECK(Full(code, R"("AB-1234")"));
  CHECK_FALSE(Full(code, R"("AB-123")"));
  CHECK_FALSE(Full(code, R"("A-1234")"));
  const auto ident = Compile(R"({"type":"string","pattern":"^[A-Za-z_][A-Za-z0-9_]*$"})");
  CHECK(Full(ident, R"("_x9")"));
  CHECK_FALSE(Full(ident, R"("9x")"));
  const auto cafe = Compile(R"({"type":"string","pattern":"^caf[eé]?\\.$"})");
  CHECK(Full(cafe, R"("caf.")"));
  CHECK(Full(cafe, R"("café.")"));
  CHECK_FALSE(Full(cafe, R"("cafée.")"));
  // A printable-ASCII range leaves out the two characters JSON must escape.
  const auto printable = Compile(R"({"type":"string","pattern":"^[ -~]+$"})");
  CHECK(Full(printable, R"("a b~!")"));
  CHECK_FALSE(Full(printable, R"("a\"b")"));
  CHECK_FALSE(Full(printable, R"("a\\b")"));
}

TEST_CASE("numbers, integers, booleans, null") {
  const auto num = Compile(R"({"type":"number"})");
  for (const char* ok : {"0", "-1", "3.25", "-1.5e10", "1E+2", "2e-05", "9999999999999999"}) CHECK_MESSAGE(Full(num, ok), ok);
  for (const char* bad : {"01", "1.", ".5", "+1", "1e999", "99999999999999999", "-", "1e", "NaN"}) {
    CHECK_MESSAGE(!Full(num, bad), bad);
  }
  const auto integer = Compile(R"({"type":"integer"})");
  CHECK(Full(integer, "0"));
  CHECK(Full(integer, "-12"));
  CHECK_FALSE(Full(integer, "1.0"));
  CHECK_FALSE(Full(integer, "-0"));
  CHECK_FALSE(Full(integer, "1e3"));
  const auto boolean = Compile(R"({"type":"boolean"})");
  CHECK(Full(boolean, "true"));
  CHECK(Full(boolean, "false"));
  CHECK_FALSE(Full(boolean, "True"));
  CHECK(Full(Compile(R"({"type":"null"})"), "null"));
  CHECK_FALSE(Full(Compile(R"({"type":"null"})"), "nul"));
}

TEST_CASE("enum, const, anyOf and type lists") {
  const auto e = Compile(R"({"enum":["red","green",1,null,{"a":[1,"é"]}]})");
  for (const char* ok : {R"("red")", R"("green")", "1", "null", R"({"a":[1,"é"]})"}) CHECK_MESSAGE(Full(e, ok), ok);
  for (const char* bad : {R"("blue")", R"("re")", "2", "10", R"({"a":[1]})"}) CHECK_MESSAGE(!Full(e, bad), bad);
  const auto typed = Compile(R"({"type":"string","enum":["red",1]})");
  CHECK(Full(typed, R"("red")"));
  CHECK_FALSE(Full(typed, "1"));
  const auto c = Compile(R"({"const":"point"})");
  CHECK(Full(c, R"("point")"));
  CHECK_FALSE(Full(c, R"("points")"));
  CHECK(Full(Compile(R"({"const":[1,"two",{"three":3.5}]})"), R"([1,"two",{"three":3.5}])"));
  CHECK_FALSE(Full(Compile(R"({"const":[1,2]})"), "1"));
  CHECK(Full(Compile(R"({"type":"integer","enum":[1.0,2.5]})"), "1.0"));
  const auto any = Compile(R"({"anyOf":[{"type":"string","maxLength":2},{"type":"integer"}]})");
  CHECK(Full(any, R"("ab")"));
  CHECK(Full(any, "42"));
  CHECK_FALSE(Full(any, R"("abc")"));
  CHECK_FALSE(Full(any, "true"));
  const auto nullable = Compile(R"({"type":["string","null"],"maxLength":1})");
  CHECK(Full(nullable, "null"));
  CHECK(Full(nullable, R"("x")"));
  CHECK_FALSE(Full(nullable, R"("xy")"));
  CHECK_FALSE(Full(nullable, "0"));
  // number with integer in one list: number covers both
  const auto both = Compile(R"({"type":["integer","number"]})");
  CHECK(Full(both, "1.5"));
  CHECK(Full(both, "2"));
}

TEST_CASE("$ref to $defs and definitions, recursion, and the root") {
  const auto tree = Compile(R"({"$ref":"#/$defs/node","$defs":{"node":{"type":"object",
    "properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},
    "required":["value","children"],"additionalProperties":false}}})");
  CHECK(Full(tree, R"({"value":1,"children":[]})"));
  CHECK(Full(tree, R"({"value":1,"children":[{"value":2,"children":[{"value":3,"children":[]}]},{"value":4,"children":[]}]})"));
  CHECK_FALSE(Full(tree, R"({"value":1,"children":[{"value":2}]})"));
  const auto old = Compile(R"({"type":"array","items":{"$ref":"#/definitions/c"},
    "definitions":{"c":{"enum":["x","y"]}}})");
  CHECK(Full(old, R"(["x","y","x"])"));
  CHECK_FALSE(Full(old, R"(["z"])"));
  const auto list = Compile(R"({"anyOf":[{"type":"null"},{"type":"array","items":{"$ref":"#"},"maxItems":1}]})");
  CHECK(Full(list, "[[[null]]]"));
  CHECK_FALSE(Full(list, "[[null,null]]"));
}

TEST_CASE("Compact keeps the current stacks: the rest of a document still matches, a wrong one still does not") {
  const auto tree = Compile(R"({"$defs":{"n":{"type":"array","items":{"anyOf":[{"$ref":"#/$defs/n"},{"type":"string"}]}}},
    "$ref":"#/$defs/n"})");
  const std::string doc = R"([["a",["é\n",[]]],"b"])";
  for (size_t split = 0; split <= doc.size(); ++split) {
    CAPTURE(split);
    GrammarMatcher m(tree);
    REQUIRE(m.Advance(doc.substr(0, split)));
    const size_t before = m.num_states();
    CHECK(m.Compact(0));
    CHECK(m.num_states() <= before);
    CHECK_FALSE(m.Accepts(doc.substr(split) + "]"));
    CHECK(m.Advance(doc.substr(split)));
    CHECK(m.Complete());
  }
}

TEST_CASE("a left-recursive schema compiles and matches nothing instead of looping") {
  const auto g = Compile(R"({"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/a"}}})");
  GrammarMatcher m(g);
  CHECK(m.state() == GrammarMatcher::kDead);
  CHECK_FALSE(m.Advance("1"));
}

}  // namespace
}  // namespace glmv
