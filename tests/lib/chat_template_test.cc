// The C++ chat template against the real templates: tests/data/chat/<case>.<variant>.txt were rendered from
// ../shared/ref/glm-4.5v with Jinja2 as Hugging Face does (tests/tools/render_chat_templates.py) and read by
// hand. Cases: single turn, system + multi-turn with reasoning in history, reasoning after the last user
// turn, thinking off (with a user turn that already ends in /nothink), one image, two images, a video, tools
// with tool calls and responses (string and list forms).
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "lib/prompt/chat_template.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST_CASE("every rendered case equals the reference template's output, in both variants") {
  const auto dir = test::DataDir() / "chat";
  const auto cases = nlohmann::ordered_json::parse(Slurp(dir / "cases.json"));
  int compared = 0;
  for (auto it = cases.begin(); it != cases.end(); ++it) {
    const auto& c = it.value();
    auto messages = ChatMessagesFromJson(c["messages"]);
    REQUIRE_MESSAGE(messages.ok(), messages.status().message());
    for (auto [variant, suffix] : {std::pair{ChatTemplateVariant::kGlm45V, ".glm45v.txt"},
                                   std::pair{ChatTemplateVariant::kGlm45Text, ".glm45.txt"}}) {
      ChatOptions opt;
      opt.variant = variant;
      opt.add_generation_prompt = c.value("add_generation_prompt", true);
      if (c.contains("enable_thinking")) opt.enable_thinking = c["enable_thinking"].get<bool>();
      if (c.contains("tools")) opt.tools = c["tools"];
      const std::string want = Slurp(dir / (it.key() + suffix));
      const std::string got = RenderChatPrompt(*messages, opt);
      CHECK_MESSAGE(got == want, it.key() << suffix << "\n--- got:\n" << got << "\n--- want:\n" << want);
      ++compared;
    }
  }
  CHECK(compared == 18);
}

TEST_CASE("generation prompt and thinking switch, spelled out") {
  std::vector<ChatMessage> m = {ChatMessage::Text("user", "Hi")};
  ChatOptions opt;
  CHECK(RenderChatPrompt(m, opt) == "[gMASK]<sop><|user|>\nHi<|assistant|>\n");
  opt.enable_thinking = false;
  CHECK(RenderChatPrompt(m, opt) == "[gMASK]<sop><|user|>\nHi/nothink<|assistant|>\n<think></think>\n");
  opt.variant = ChatTemplateVariant::kGlm45Text;
  CHECK(RenderChatPrompt(m, opt) == "[gMASK]<sop><|user|>\nHi/nothink<|assistant|>\n<think></think>");
  opt.enable_thinking = true;
  CHECK(RenderChatPrompt(m, opt) == "[gMASK]<sop><|user|>\nHi<|assistant|>");
}

TEST_CASE("malformed message lists are errors naming the message") {
  using json = nlohmann::ordered_json;
  auto err = [](const json& j) {
    auto r = ChatMessagesFromJson(j);
    return r.ok() ? std::string() : r.status().message();
  };
  CHECK(err(json::object()).find("array") != std::string::npos);
  CHECK(err(json::parse(R"([{"content": "x"}])")).find("messages[0].role") != std::string::npos);
  CHECK(err(json::parse(R"([{"role": "wizard", "content": "x"}])")).find("'wizard'") != std::string::npos);
  CHECK(err(json::parse(R"([{"role": "user", "content": 5}])")).find("messages[0].content") != std::string::npos);
  CHECK(err(json::parse(R"([{"role": "user", "content": [{"type": "audio"}]}])")).find("'audio'") != std::string::npos);
  CHECK(err(json::parse(R"([{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{bad"}}]}])"))
            .find("arguments is not valid JSON") != std::string::npos);
  // OpenAI's string-encoded arguments are accepted.
  auto ok = ChatMessagesFromJson(json::parse(
      R"([{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{\"a\": 1}"}}]}])"));
  REQUIRE(ok.ok());
  CHECK((*ok)[0].tool_calls[0].arguments["a"] == 1);
}

}  // namespace
}  // namespace glmv
