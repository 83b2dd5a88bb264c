// GLM-4.5's tool-call format as a grammar (tool_choice "required" or a named function): which texts it
// accepts, its errors for schemas outside the subset, the arguments typed back by the schema, added tokens
// that count as their text, and random walks over the tiny tokenizer that always end in a call whose
// arguments satisfy a closed schema.
#include <doctest/doctest.h>

#include <random>

#include "lib/sampling/grammar_matcher.h"
#include "lib/sampling/token_constraint.h"
#include "lib/sampling/tool_call_grammar.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using Json = nlohmann::ordered_json;
const std::vector<int64_t> kEos = {280, 287, 289};  // tiny-glm4v-moe's config.json

const char* kTools = R"([
  {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {
      "city": {"type": "string", "enum": ["Paris", "Zürich", "Oslo"]},
      "days": {"type": "integer"},
      "metric": {"type": "boolean"},
      "note": {"type": "string", "maxLength": 5}},
     "required": ["city", "days"]}}},
  {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}
])";

std::vector<ToolFunction> Functions(const char* tools = kTools) {
  auto f = ToolFunctionsFromJson(Json::parse(tools));
  REQUIRE_MESSAGE(f.ok(), f.status().message());
  return std::move(f).value();
}

std::shared_ptr<const Grammar> Compile(std::span<const ToolFunction> functions, bool many) {
  auto g = CompileToolCallGrammar(functions, many);
  REQUIRE_MESSAGE(g.ok(), g.status().message());
  return std::move(g).value();
}

bool Complete(const std::shared_ptr<const Grammar>& g, const std::string& text) {
  GrammarMatcher m(g);
  return m.Advance(text) && m.Complete();
}

TEST_CASE("the tool-call grammar accepts GLM's format for the schema and nothing else") {
  const auto functions = Functions();
  const auto one = Compile(functions, false);
  const std::string paris =
      "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n"
      "<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n</tool_call>";
  CHECK(Complete(one, paris));
  CHECK(Complete(one, "\n" + paris));  // GLM's line break after </think>
  CHECK(Complete(one, "<tool_call>ping\n</tool_call>"));
  CHECK(Complete(one,
                 "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Zürich</arg_value>\n<arg_key>days</arg_key>\n"
                 "<arg_value>-14</arg_value>\n<arg_key>metric</arg_key>\n<arg_value>true</arg_value>\n<arg_key>note</arg_key>\n"
                 "<arg_value>a b\nc</arg_value>\n</tool_call>"));
  // A string is raw, other values JSON; required arguments present, in the schema's order; known names only.
  CHECK_FALSE(Complete(one, "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>\"Paris\"</arg_value>\n"
                            "<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n</tool_call>"));
  CHECK_FALSE(Complete(one, "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Rome</arg_value>\n"
                            "<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n</tool_call>"));
  CHECK_FALSE(Complete(one, "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n"
                            "<arg_key>days</arg_key>\n<arg_value>two</arg_value>\n</tool_call>"));
  CHECK_FALSE(Complete(one, "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n</tool_call>"));
  CHECK_FALSE(Complete(one, "<tool_call>get_weather\n<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n"
                            "<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n</tool_call>"));
  CHECK_FALSE(Complete(one, "<tool_call>get_time\n</tool_call>"));
  CHECK_FALSE(Complete(one, "Sure! <tool_call>ping\n</tool_call>"));
  CHECK_FALSE(Complete(one, "<tool_call>ping\n</tool_call>\n<tool_call>ping\n</tool_call>"));
  const auto many = Compile(functions, true);
  CHECK(Complete(many, "<tool_call>ping\n</tool_call>\n" + paris));
  const std::vector<ToolFunction> just_ping = {functions[1]};
  CHECK_FALSE(Complete(Compile(just_ping, false), paris));  // a named function: that one only
}

TEST_CASE("tools outside the supported subset are errors naming the function and the keyword") {
  auto error = [](const char* tools) {
    auto f = ToolFunctionsFromJson(Json::parse(tools));
    if (!f.ok()) return f.status().message();
    auto g = CompileToolCallGrammar(*f, false);
    return g.ok() ? std::string() : g.status().message();
  };
  CHECK(error(R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
      "properties": {"when": {"type": "string", "format": "date"}}}}}])").find("format") != std::string::npos);
  CHECK(error(R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
      "properties": {"when": {"type": "string", "format": "date"}}}}}])").find("'f'") != std::string::npos);
  CHECK(error(R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}])").find("object") !=
        std::string::npos);
  CHECK(error(R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
      "properties": {}, "required": ["x"]}}}])").find("required") != std::string::npos);
  CHECK(error(R"([{"type": "function", "function": {"parameters": {}}}])").find("name") != std::string::npos);
  CHECK(error(R"([{"type": "retrieval"}])").find("tools[0]") != std::string::npos);
  CHECK(!CompileToolCallGrammar({}, false).ok());
}

TEST_CASE("arguments come back typed by the schema: raw strings stay text, the rest is JSON") {
  CHECK(IsRawStringSchema(Json::parse(R"({"type": "string"})")));
  CHECK(IsRawStringSchema(Json::parse(R"({"enum": ["a", "b"]})")));
  CHECK(IsRawStringSchema(Json::parse(R"({"pattern": "^[a-z]+$", "description": "d"})")));
  CHECK_FALSE(IsRawStringSchema(Json::parse(R"({"enum": ["a", 1]})")));
  CHECK_FALSE(IsRawStringSchema(Json::parse(R"({"type": ["string", "null"]})")));
  CHECK_FALSE(IsRawStringSchema(Json::parse(R"({"anyOf": [{"type": "string"}]})")));
  const auto functions = Functions(R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
      "properties": {"code": {"type": "string"}, "n": {"type": "integer"}, "list": {"type": "array"}}}}}])");
  const ParsedOutput out = ParseModelOutput(
      "<tool_call>f\n<arg_key>code</arg_key>\n<arg_value>007</arg_value>\n<arg_key>n</arg_key>\n<arg_value>7</arg_value>\n"
      "<arg_key>list</arg_key>\n<arg_value>[1,\"x\"]</arg_value>\n<arg_key>extra</arg_key>\n<arg_value>true</arg_value>\n"
      "</tool_call>");
  REQUIRE(out.tool_calls.size() == 1);
  const Json args = ToolCallArguments(out.tool_calls[0], functions);
  CHECK(args["code"] == "007");  // the parser alone would read a number
  CHECK(args["n"] == 7);
  CHECK(args["list"] == Json::parse(R"([1, "x"])"));
  CHECK(args["extra"] == true);  // not in the schema: the parser's reading
}

// Random walks over the tiny tokenizer under the grammar: choose uniformly among the allowed ids until eos.
// `used` counts the text tokens chosen.
std::optional<std::string> Walk(TokenConstraint& c, const TokenTrie& trie, const std::vector<std::pair<int64_t, std::string>>& texts,
                                uint32_t seed, int& used) {
  std::mt19937 rng(seed);
  std::string text;
  for (int step = 0; step < 400; ++step) {
    const auto& bits = c.AllowedIds();
    std::vector<int64_t> ids;
    for (size_t id = 0; id < trie.vocab(); ++id) {
      if (TokenConstraint::IsSet(bits, id)) ids.push_back(static_cast<int64_t>(id));
    }
    REQUIRE_FALSE(ids.empty());
    const int64_t id = ids[std::uniform_int_distribution<size_t>(0, ids.size() - 1)(rng)];
    for (const auto& [t, s] : texts) used += t == id;
    REQUIRE(c.Allows(id));
    REQUIRE(c.Accept(id));
    if (std::find(kEos.begin(), kEos.end(), id) != kEos.end()) return text;
    std::string bytes = trie.bytes(id);
    for (const auto& [t, s] : texts) {
      if (t == id) bytes = s;
    }
    text += bytes;
  }
  return std::nullopt;
}

TEST_CASE("random walks end in one call whose arguments satisfy the closed schema; added tokens write their text") {
  auto tok = Tokenizer::FromHfJson((test::DataDir() / "tiny-glm4v-moe" / "tokenizer.json").string());
  REQUIRE(tok.ok());
  const auto trie = TokenTrie::FromTokenizer(**tok, 300);
  CHECK(ToolCallTextTokens(**tok).empty());  // the tiny tokenizer has no <tool_call> token
  const auto functions = Functions();
  const std::vector<ToolFunction> weather = {functions[0]};
  // Id 296 (<|begin_of_box|>, added: no bytes in the trie) stands in for GLM-4.5's <tool_call> token.
  const std::vector<std::pair<int64_t, std::string>> texts = {{296, "<tool_call>"}};
  int ended = 0, used_token = 0;
  for (uint32_t seed = 0; seed < 12; ++seed) {
    TokenConstraint c(Compile(weather, false), trie, {kEos, std::nullopt, texts});
    const auto text = Walk(c, *trie, texts, seed, used_token);
    if (!text) continue;
    ++ended;
    const ParsedOutput out = ParseModelOutput(*text);
    REQUIRE_MESSAGE(out.tool_calls.size() == 1, *text);
    CHECK(out.content.empty());
    const Json args = ToolCallArguments(out.tool_calls[0], weather);
    CAPTURE(args.dump());
    CHECK(out.tool_calls[0].name == "get_weather");
    CHECK((args["city"] == "Paris" || args["city"] == "Zürich" || args["city"] == "Oslo"));
    CHECK(args["days"].is_number_integer());
    if (args.contains("metric")) CHECK(args["metric"].is_boolean());
    if (args.contains("note")) CHECK(args["note"].get<std::string>().size() <= 5 * 4);
  }
  CHECK(ended >= 10);
  MESSAGE(ended << " walks ended; " << used_token << " of them wrote <tool_call> with the added token");
  CHECK(used_token >= 1);
  TokenConstraint c(Compile(weather, false), trie, {kEos, std::nullopt, texts});
  CHECK(c.Allows(296));
  CHECK(TokenConstraint::IsSet(c.AllowedIds(), 296));
  REQUIRE(c.Accept(296));
  CHECK_FALSE(c.Allows(296));  // no second <tool_call> right after the first
  CHECK_FALSE(c.Allows(297));  // other added tokens still write nothing
}

}  // namespace
}  // namespace glmv
