// The GLM-4.5V chat template rendered in C++ (no Jinja engine): spec §5.3 and the real templates in
// ../shared/ref/glm-4.5v. Two variants: GLM-4.5V's (default; `<|assistant|>\n`, thinking off adds
// `<think></think>\n`, images and videos as placeholders) and the GLM-4.5 text model's (`<|assistant|>`,
// thinking off adds `\n<think></think>`, media dropped).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "io/status.h"

namespace glmv {

enum class ChatTemplateVariant { kGlm45V, kGlm45Text };

struct ChatContentPart {
  enum class Type { kText, kImage, kVideo };
  Type type = Type::kText;
  std::string text;  // kText only
};

struct ChatToolCall {
  std::string name;
  nlohmann::ordered_json arguments = nlohmann::ordered_json::object();  // name → value, in order
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool" ("observation" is read as "tool")
  // Content is either a string or a list of parts; the template treats the two differently.
  bool content_is_list = false;
  std::string text;                    // string content
  std::vector<ChatContentPart> parts;  // list content (text, image, video)
  // For tool messages with list content: each response's text (`output` of an object, or the item).
  std::vector<std::string> tool_outputs;
  std::optional<std::string> reasoning;  // assistant `reasoning_content`
  std::vector<ChatToolCall> tool_calls;

  static ChatMessage Text(std::string role, std::string text);
};

struct ChatOptions {
  bool add_generation_prompt = true;
  std::optional<bool> enable_thinking;  // unset = the template's default (thinking on)
  nlohmann::ordered_json tools = nlohmann::ordered_json::array();  // OpenAI-style tool definitions
  ChatTemplateVariant variant = ChatTemplateVariant::kGlm45V;
};

std::string RenderChatPrompt(const std::vector<ChatMessage>& messages, const ChatOptions& options);

// Messages from OpenAI-style JSON: [{"role", "content": string | [{"type": "text"|"image"|"image_url"|
// "video"|"video_url", ...}], "reasoning_content", "tool_calls": [{"function": {"name", "arguments"}}]}].
// `arguments` may be an object or a JSON string holding one. Errors name the message index and field.
Result<std::vector<ChatMessage>> ChatMessagesFromJson(const nlohmann::ordered_json& messages);

}  // namespace glmv
