#include "lib/prompt/chat_template.h"

#include "lib/prompt/python_json.h"

namespace glmv {
namespace {

constexpr const char* kWhitespace = " \t\n\r\f\v";

std::string Strip(const std::string& s, const char* chars = kWhitespace) {
  const size_t b = s.find_first_not_of(chars);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(chars) - b + 1);
}
std::string LStrip(const std::string& s, const char* chars) {
  const size_t b = s.find_first_not_of(chars);
  return b == std::string::npos ? "" : s.substr(b);
}
std::string RStrip(const std::string& s, const char* chars) {
  const size_t e = s.find_last_not_of(chars);
  return e == std::string::npos ? "" : s.substr(0, e + 1);
}
bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const char* Placeholder(ChatContentPart::Type t) {
  return t == ChatContentPart::Type::kImage ? "<|begin_of_image|><|image|><|end_of_image|>"
                                            : "<|begin_of_video|><|video|><|end_of_video|>";
}

// The template's visible_text(): string content as is; list content's texts (and, in GLM-4.5V's template,
// the media placeholders) concatenated.
std::string VisibleText(const ChatMessage& m, ChatTemplateVariant variant) {
  if (!m.content_is_list) return m.text;
  std::string out;
  for (const auto& p : m.parts) {
    if (p.type == ChatContentPart::Type::kText) {
      out += p.text;
    } else if (variant == ChatTemplateVariant::kGlm45V) {
      out += Placeholder(p.type);
    }
  }
  return out;
}

std::string ToolsPreamble(const nlohmann::ordered_json& tools) {
  std::string out =
      "<|system|>\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
      "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n";
  for (const auto& tool : tools) out += PythonJsonDumps(tool) + "\n";
  out +=
      "</tools>\n\nFor each function call, output the function name and arguments within the following XML "
      "format:\n<tool_call>{function-name}\n<arg_key>{arg-key-1}</arg_key>\n<arg_value>{arg-value-1}</arg_value>\n"
      "<arg_key>{arg-key-2}</arg_key>\n<arg_value>{arg-value-2}</arg_value>\n...\n</tool_call>";
  return out;
}

void RenderAssistant(const ChatMessage& m, bool after_last_user, ChatTemplateVariant variant, std::string& out) {
  out += "<|assistant|>";
  std::string content = VisibleText(m, variant);
  std::string reasoning;
  if (m.reasoning) {
    reasoning = *m.reasoning;
  } else if (const size_t close = content.find("</think>"); close != std::string::npos) {
    // Reasoning written inline: the text between the last <think> before the first </think> and it.
    std::string before = RStrip(content.substr(0, close), "\n");
    const size_t open = before.rfind("<think>");
    if (open != std::string::npos) before = before.substr(open + 7);
    reasoning = LStrip(before, "\n");
    content = LStrip(content.substr(content.rfind("</think>") + 8), "\n");
  }
  // Past reasoning is dropped; only an assistant turn after the last user turn keeps its thinking.
  out += (after_last_user && !reasoning.empty()) ? "\n<think>" + Strip(reasoning) + "</think>" : "\n<think></think>";
  if (!Strip(content).empty()) out += "\n" + Strip(content);
  for (const auto& call : m.tool_calls) {
    out += "\n<tool_call>" + call.name + "\n";
    for (auto it = call.arguments.begin(); it != call.arguments.end(); ++it) {
      const auto& v = it.value();
      out += "<arg_key>" + it.key() + "</arg_key>\n<arg_value>" +
             (v.is_string() ? v.get<std::string>() : PythonJsonDumps(v)) + "</arg_value>\n";
    }
    out += "</tool_call>";
  }
}

}  // namespace

ChatMessage ChatMessage::Text(std::string role, std::string text) {
  ChatMessage m;
  m.role = std::move(role);
  m.text = std::move(text);
  return m;
}

std::string RenderChatPrompt(const std::vector<ChatMessage>& messages, const ChatOptions& options) {
  const ChatTemplateVariant variant = options.variant;
  const bool thinking_off = options.enable_thinking.has_value() && !*options.enable_thinking;
  std::string out = "[gMASK]<sop>";
  if (options.tools.is_array() && !options.tools.empty()) out += ToolsPreamble(options.tools);
  int last_user = -1;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].role == "user") last_user = static_cast<int>(i);
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const std::string role = m.role == "observation" ? "tool" : m.role;
    if (role == "user") {
      out += "<|user|>\n";
      out += VisibleText(m, variant);
      if (thinking_off && !EndsWith(VisibleText(m, variant), "/nothink")) out += "/nothink";
    } else if (role == "assistant") {
      RenderAssistant(m, static_cast<int>(i) > last_user, variant, out);
    } else if (role == "tool") {
      if (!m.content_is_list) {
        const bool run_start = i == 0 || (messages[i - 1].role != "tool" && messages[i - 1].role != "observation");
        if (run_start) out += "<|observation|>";
        out += "\n<tool_response>\n" + m.text + "\n</tool_response>";
      } else {
        out += "<|observation|>";
        for (const auto& response : m.tool_outputs) out += "\n<tool_response>\n" + response + "\n</tool_response>";
      }
    } else if (role == "system") {
      out += "<|system|>\n" + VisibleText(m, variant);
    }
  }
  if (options.add_generation_prompt) {
    if (variant == ChatTemplateVariant::kGlm45V) {
      out += thinking_off ? "<|assistant|>\n<think></think>\n" : "<|assistant|>\n";
    } else {
      out += thinking_off ? "<|assistant|>\n<think></think>" : "<|assistant|>";
    }
  }
  return out;
}

Result<std::vector<ChatMessage>> ChatMessagesFromJson(const nlohmann::ordered_json& messages) {
  using json = nlohmann::ordered_json;
  if (!messages.is_array()) return Status::Error("messages must be an array");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& j = messages[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!j.is_object()) return Status::Error(where + " must be an object");
    if (!j.contains("role") || !j["role"].is_string()) return Status::Error(where + ".role must be a string");
    ChatMessage m;
    m.role = j["role"].get<std::string>();
    if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool" && m.role != "observation") {
      return Status::Error(where + ".role '" + m.role + "' is not system, user, assistant or tool");
    }
    const json content = j.contains("content") ? j["content"] : json();
    if (content.is_string()) {
      m.text = content.get<std::string>();
    } else if (content.is_array()) {
      m.content_is_list = true;
      for (size_t k = 0; k < content.size(); ++k) {
        const json& item = content[k];
        const std::string iw = where + ".content[" + std::to_string(k) + "]";
        if (m.role == "tool") {
          if (item.is_object() && item.contains("output") && item["output"].is_string()) {
            m.tool_outputs.push_back(item["output"].get<std::string>());
          } else {
            m.tool_outputs.push_back(item.is_string() ? item.get<std::string>() : PythonJsonDumps(item));
          }
          continue;
        }
        if (item.is_string()) {
          m.parts.push_back({ChatContentPart::Type::kText, item.get<std::string>()});
          continue;
        }
        if (!item.is_object()) return Status::Error(iw + " must be a string or an object");
        const std::string type = item.value("type", std::string());
        if (type == "text") {
          if (!item.contains("text") || !item["text"].is_string()) return Status::Error(iw + ".text must be a string");
          m.parts.push_back({ChatContentPart::Type::kText, item["text"].get<std::string>()});
        } else if (type == "image" || type == "image_url" || item.contains("image")) {
          m.parts.push_back({ChatContentPart::Type::kImage, ""});
        } else if (type == "video" || type == "video_url" || item.contains("video")) {
          m.parts.push_back({ChatContentPart::Type::kVideo, ""});
        } else {
          return Status::Error(iw + ": unknown content type '" + type + "'");
        }
      }
    } else if (!content.is_null()) {
      return Status::Error(where + ".content must be a string, a list or null");
    }
    if (j.contains("reasoning_content") && j["reasoning_content"].is_string()) {
      m.reasoning = j["reasoning_content"].get<std::string>();
    }
    if (j.contains("tool_calls") && j["tool_calls"].is_array()) {
      for (size_t k = 0; k < j["tool_calls"].size(); ++k) {
        const std::string tw = where + ".tool_calls[" + std::to_string(k) + "]";
        json tc = j["tool_calls"][k];
        if (tc.is_object() && tc.contains("function")) tc = tc["function"];
        if (!tc.is_object() || !tc.contains("name") || !tc["name"].is_string()) {
          return Status::Error(tw + " needs a function name");
        }
        ChatToolCall call;
        call.name = tc["name"].get<std::string>();
        if (tc.contains("arguments")) {
          json args = tc["arguments"];
          if (args.is_string()) {  // OpenAI sends arguments as a JSON string
            args = json::parse(args.get<std::string>(), nullptr, false);
            if (args.is_discarded()) return Status::Error(tw + ".arguments is not valid JSON");
          }
          if (!args.is_object()) return Status::Error(tw + ".arguments must be an object");
          call.arguments = args;
        }
        m.tool_calls.push_back(std::move(call));
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace glmv
