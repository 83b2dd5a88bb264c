// Hugging Face tokenizer.json for byte-level BPE: reading it into TokenizerParts (merge-driven BPE),
// and writing one from tiktoken ranks (the GLM-4.5 tokenizer.json itself is large and not vendored).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "io/status.h"
#include "lib/tokenizer/tokenizer.h"
#include "lib/tokenizer/tokenizer_regex.h"

namespace glmv {

// Accepts what byte-level BPE files use and rejects, naming the key, anything that would change
// tokenization and is not implemented: normalizer must be null; pre_tokenizer a ByteLevel
// (add_prefix_space=false) preceded by at most one Split (Regex pattern, behavior Isolated, not
// inverted) — ByteLevel(use_regex=true) alone means GPT-2's pattern; model BPE without dropout,
// byte_fallback or subword affixes; merges as "a b" strings or ["a", "b"] pairs; added tokens without
// lstrip/rstrip/single_word. post_processor is ignored (Encode never adds BOS/EOS).
Result<TokenizerParts> ParseHfTokenizerJson(std::string_view json_text, const std::string& name);

struct HfJsonOptions {
  std::string pattern = std::string(kGlm4Pattern);
  // tiktoken emits a piece that is a whole token without merging; `ignore_merges` does the same in
  // Hugging Face, so true reproduces tiktoken exactly even for tokens no merge sequence reaches.
  bool ignore_merges = true;
};

struct HfJson {
  std::string json;
  size_t merges = 0;
  // Tokens of >= 2 bytes that rank BPE over lower ranks never builds (so they get no merge).
  size_t unreachable = 0;
};

// A tokenizer.json equivalent to tiktoken ranks + added tokens. A token's merge is the two parts that
// rank BPE over its own bytes, with only lower ranks, stops at; merges are listed in rank order and
// the vocab is written in GPT-2's byte-to-unicode form.
Result<HfJson> BuildHfTokenizerJson(const std::vector<std::string>& tokens_by_rank,
                                    const std::vector<AddedToken>& added, const HfJsonOptions& options = {});
// The same from a ranks file and a tokenizer_config.json.
Result<HfJson> BuildHfTokenizerJsonFromTiktoken(const std::string& ranks_path, const std::string& config_path,
                                                const HfJsonOptions& options = {});

}  // namespace glmv
