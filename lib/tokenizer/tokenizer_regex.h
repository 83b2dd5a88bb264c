// Pre-tokenization: the regular expression that cuts text into the pieces BPE works on, run with PCRE2
// in UTF + Unicode-property mode, compiled (and JIT-compiled where available) once per tokenizer.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/status.h"

namespace glmv {

// GLM-4 / GLM-4.5 (spec §5.1; cl100k's pattern): digits in runs of at most three.
inline constexpr std::string_view kGlm4Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// GPT-2's pattern, which Hugging Face `ByteLevel(use_regex=true)` applies.
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class PreTokenizer {
 public:
  static Result<std::unique_ptr<PreTokenizer>> Create(std::string_view pattern);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Appends the pieces of `text`, which must be well-formed UTF-8 (see tokenizer_utf8.h), in order.
  // Like Hugging Face's Split(behavior=Isolated): every match is a piece and so is any text between
  // matches, so the pieces always concatenate back to `text`. (tiktoken drops unmatched text; the GLM
  // pattern matches every character, so the two agree.) Thread-safe.
  void Split(std::string_view text, std::vector<std::string_view>& pieces) const;

  const std::string& pattern() const { return pattern_; }

 private:
  PreTokenizer() = default;
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*; kept opaque so pcre2.h stays inside the .cc
};

}  // namespace glmv
