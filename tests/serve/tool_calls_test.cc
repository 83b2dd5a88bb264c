// The server's tool pieces in-process: tools/tool_choice read into a forced grammar or refused with a 400,
// and the stream's splitter that turns <tool_call> blocks into calls and never lets their text out as
// content, whatever the pieces' boundaries.
#include <doctest/doctest.h>

#include "apps/serve/tool_calls.h"

namespace glmv::app {
namespace {

using json = nlohmann::ordered_json;

const json kTools = json::parse(R"([{"type": "function", "function": {"name": "get_weather",
  "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
  "required": ["city"]}}}])");

struct Parsed {
  std::optional<HttpError> error;
  ChatTask task;
  ChatOptions chat;
};

Parsed Parse(const json& body, GrammarCache* grammars) {
  ChatModelInfo info;
  info.grammars = grammars;
  Parsed p;
  p.error = ParseTools(body, info, p.task, p.chat);
  return p;
}

TEST_CASE("tool_choice: auto and none leave the answer free; required and a named function force a call") {
  GrammarCache grammars;
  json body = {{"tools", kTools}};
  Parsed p = Parse(body, &grammars);
  CHECK(!p.error);
  CHECK(!p.task.grammar);
  CHECK(p.chat.tools.size() == 1);
  REQUIRE(p.task.functions.size() == 1);
  body["tool_choice"] = "none";
  p = Parse(body, &grammars);
  CHECK(!p.error);
  CHECK(p.chat.tools.empty());  // the template lists no tools
  body["tool_choice"] = "required";
  p = Parse(body, &grammars);
  CHECK(!p.error);
  CHECK(p.task.grammar);
  body["tool_choice"] = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  p = Parse(body, &grammars);
  CHECK(!p.error);
  CHECK(p.task.grammar);
  CHECK(grammars.size() == 2);
  p = Parse(body, &grammars);  // the same tools again: the kept grammar
  CHECK(grammars.hits() == 1);
}

TEST_CASE("tool errors are 400s naming the field") {
  GrammarCache grammars;
  auto error = [&](const json& body) {
    Parsed p = Parse(body, &grammars);
    REQUIRE(p.error);
    CHECK(p.error->status == 400);
    return p.error->param + ": " + p.error->message;
  };
  CHECK(error({{"tools", kTools}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}}}).find("nope") !=
        std::string::npos);
  CHECK(error({{"tool_choice", "required"}}).find("tools") != std::string::npos);
  CHECK(error({{"tools", kTools}, {"tool_choice", "sometimes"}}).find("tool_choice") == 0);
  CHECK(error({{"tools", "x"}}).find("tools") == 0);
  CHECK(error({{"tools", json::array({{{"type", "function"}, {"function", {{"name", 3}}}}})}}).find("name") != std::string::npos);
  json bad_schema = kTools;
  bad_schema[0]["function"]["parameters"]["properties"]["city"]["format"] = "city";
  CHECK(error({{"tools", bad_schema}, {"tool_choice", "required"}}).find("format") != std::string::npos);
  ChatModelInfo info;
  info.grammars = &grammars;
  ChatTask task;
  task.grammar = JsonObjectGrammar();  // response_format was given
  ChatOptions chat;
  const auto both = ParseTools({{"tools", kTools}, {"tool_choice", "required"}}, info, task, chat);
  REQUIRE(both);
  CHECK(both->message.find("response_format") != std::string::npos);
}

struct Split {
  std::string content;
  std::vector<ParsedToolCall> calls;
};

// `closed`: every block in the pieces closes, so no tag may reach the content.
Split Run(const std::vector<std::string>& pieces, bool closed = true) {
  ToolCallSplitter s;
  Split out;
  auto on_content = [&](const std::string& t) {
    if (closed) CHECK(t.find("<tool") == std::string::npos);
    if (closed) CHECK(t.find("arg_") == std::string::npos);
    out.content += t;
  };
  for (const auto& p : pieces) s.Push(p, on_content, [&](const ParsedToolCall& c) { out.calls.push_back(c); });
  s.Flush(on_content);
  return out;
}

TEST_CASE("the splitter holds tool-call blocks back whatever the pieces, and trims content as the parser does") {
  const std::string text =
      "\nLet me check.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n</tool_call>\n"
      "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Oslo</arg_value>\n</tool_call>\n";
  for (size_t size : {1, 2, 3, 7, 11, 1000}) {
    CAPTURE(size);
    std::vector<std::string> pieces;
    for (size_t i = 0; i < text.size(); i += size) pieces.push_back(text.substr(i, size));
    const Split s = Run(pieces);
    CHECK(s.content == "Let me check.");
    REQUIRE(s.calls.size() == 2);
    CHECK(s.calls[1].arguments["city"] == "Oslo");
  }
  // An unclosed block is content in the end, as ParseModelOutput has it; a lone '<' is not held forever.
  const Split open = Run({"a <", "b <tool_", "call>x"}, false);
  CHECK(open.content == "a <b <tool_call>x");
  CHECK(open.calls.empty());
  CHECK(Run({"  "}).content.empty());
}

}  // namespace
}  // namespace glmv::app
