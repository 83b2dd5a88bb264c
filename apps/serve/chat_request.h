// POST /v1/chat/completions, as the OpenAI API defines it, into an engine request. Runs on the HTTP thread
// that received the request: JSON checks, the chat template, tokenizing, and the decoding and preprocessing
// of its images, videos and PDFs (media_parts.h; never inside the scheduler's steps). Every problem becomes an OpenAI-shaped 4xx naming the
// field; nothing in a request can crash the server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/engine/sequence.h"
#include "lib/media/image_preprocess.h"
#include "lib/media/input_limits.h"
#include "lib/media/pdf_inputs.h"
#include "lib/media/video_preprocess.h"
#include "lib/model/config.h"
#include "lib/sampling/grammar_cache.h"
#include "lib/sampling/tool_call_grammar.h"
#include "lib/tokenizer/tokenizer.h"

namespace glmv::app {

// An error answered to the client: {"error": {"message", "type", "param", "code"}} with `status`.
struct HttpError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // the offending field ("" for none)
  std::string code;   // e.g. "context_length_exceeded" ("" for none)
};

// What parsing a request needs of the loaded model and the server's settings (read-only, shared by the
// HTTP threads).
struct ChatModelInfo {
  const ModelConfig* config = nullptr;
  const Tokenizer* tokenizer = nullptr;
  ImagePreprocessConfig image_config;
  InputLimits limits;
  size_t context_tokens = 0;
  size_t max_images = 16;        // image parts in one request (PDF pages are bounded by pdf_options.max_pages)
  VideoPreprocessConfig video_config;  // the model's video processor, with --video-max-pixels
  VideoLoadOptions video_options;      // --fps, --max-frames; limits: the decoder's, from `limits`
  size_t max_videos = 1;               // video_url parts in one request
  PdfOptions pdf_options;              // --dpi, --max-pages (per PDF), --pdf-max-tokens (its pages together)
  size_t max_pdfs = 1;                 // PDF file parts in one request
  std::string local_files_root;  // --allow-local-files DIR, resolved ("" : file:// refused)
  GrammarCache* grammars = nullptr;  // response_format's compiled schemas (thread-safe); null: refused
  size_t max_choices = 1;            // the largest `n` (the server's --parallel: one slot per choice)
};

struct ChatTask {
  GenerateRequest request;  // prompt ids, visual inputs, sampling, max tokens, stop strings
  bool stream = false;
  bool include_usage = false;              // stream_options.include_usage
  bool thinking = true;                    // chat_template_kwargs.enable_thinking
  std::vector<std::pair<int, int>> image_sizes;  // width, height of each image and PDF page, for boxes in pixels
  std::string model;                       // as the client named it (echoed back)
  // response_format json_object / json_schema, or a forced tool call (tool_choice "required" or a named
  // function); null for free text.
  std::shared_ptr<const Grammar> grammar;
  std::vector<std::pair<int64_t, std::string>> text_tokens;  // added tokens the grammar may write (tool tags)
  std::vector<ToolFunction> functions;     // the request's tools: their schemas type the calls' arguments
  size_t n = 1;                            // choices (`n`), each in a slot of its own
};

// Parses and prepares one request body. On error returns the HttpError to answer.
std::optional<HttpError> ParseChatRequest(const std::string& body, const ChatModelInfo& info, ChatTask& task);

// The error object OpenAI clients read.
nlohmann::ordered_json ErrorJson(const HttpError& e);

}  // namespace glmv::app
