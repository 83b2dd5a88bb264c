// The GLM-4 / GLM-4.5(V) tokenizer (spec §5.1–5.2): byte-level BPE with a regex pre-tokenizer and added
// (special) tokens matched as whole strings first. It loads from either of two files, through two
// independent BPE implementations that the tests cross-check:
//  - tokenizer.json (Hugging Face): BPE driven by the merge list (lib/tokenizer_json.cc);
//  - tokenizer.model (tiktoken ranks, `base64(bytes) rank` per line) plus tokenizer_config.json for the
//    added tokens: BPE driven by token ranks (lib/tiktoken_ranks.cc).
// Ids are int64_t throughout to match the model's input ids.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/status.h"
#include "lib/tokenizer/bpe.h"
#include "lib/tokenizer/tokenizer_regex.h"

namespace glmv {

// A token matched as a whole string before BPE (Hugging Face "added token").
struct AddedToken {
  int64_t id = 0;
  std::string content;
  // Hugging Face's `special` flag: true for control tokens (<|user|>, [gMASK], ...); false for added
  // tokens that are ordinary output text (<think>, <tool_call>, <|image|>, ...). Both are matched whole.
  bool special = true;
};

// What a loader hands to the tokenizer; see Tokenizer::Create.
struct TokenizerParts {
  std::shared_ptr<const Vocab> vocab;  // regular tokens
  std::unique_ptr<BpeModel> bpe;       // runs over `vocab`
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::vector<AddedToken> added;
  std::string source;  // file name(s), for messages
};

class Tokenizer {
 public:
  // `dir`/tokenizer.json when present, else `dir`/tokenizer.model + `dir`/tokenizer_config.json.
  static Result<std::unique_ptr<Tokenizer>> LoadFromDir(const std::string& dir);
  // Hugging Face tokenizer.json (BPE model, ByteLevel, Split regex pre-tokenizer).
  static Result<std::unique_ptr<Tokenizer>> FromHfJson(const std::string& path);
  // The same from the text of a tokenizer.json; `source` names it in errors.
  static Result<std::unique_ptr<Tokenizer>> FromHfJsonText(std::string_view text, const std::string& source);
  // tiktoken ranks file + tokenizer_config.json (`added_tokens_decoder`).
  static Result<std::unique_ptr<Tokenizer>> FromTiktoken(const std::string& ranks_path,
                                                        const std::string& config_path);
  // Checks that ids are unique and contents non-empty; used by both loaders.
  static Result<std::unique_ptr<Tokenizer>> Create(TokenizerParts parts);

  // Text (any bytes) -> ids. Added tokens in the text are matched whole (leftmost, then longest), BPE
  // runs on the text between them. No BOS or prefix is added: GLM prompts carry [gMASK]<sop> as text.
  // Ill-formed UTF-8 bytes become their single-byte tokens, so Decode(Encode(s)) == s for every s.
  std::vector<int64_t> Encode(std::string_view text) const;
  // As Encode, but added-token strings in the text are encoded as plain text (for untrusted input).
  std::vector<int64_t> EncodeOrdinary(std::string_view text) const;

  // Ids -> raw bytes (not necessarily valid UTF-8 for an arbitrary id sequence). Added tokens render
  // as their text. Ids outside the vocabulary render as nothing.
  std::string Decode(std::span<const int64_t> ids) const;
  // One token's raw bytes or added-token text; empty for an unknown id.
  std::string TokenText(int64_t id) const;
  // The id of an added token's text or of a regular token's raw bytes (not its byte-level form).
  std::optional<int64_t> TokenId(std::string_view token) const;
  // True for added tokens flagged special (see AddedToken::special).
  bool IsSpecial(int64_t id) const;
  // True for any added token.
  bool IsAdded(int64_t id) const;
  // Number of ids: the largest id + 1 (151365 for GLM-4.5). The model's embedding may be larger.
  size_t size() const { return text_.size(); }
  const std::vector<AddedToken>& added_tokens() const { return added_; }
  const std::string& source() const { return source_; }

  // Streaming decode for generation: Push returns only complete UTF-8 characters and holds back an
  // unfinished multi-byte character (at most 3 bytes) until later tokens complete it. Ill-formed bytes
  // are passed through raw as soon as they are known to be ill-formed, so the stream never stalls, and
  // Flush returns whatever is held back, raw. Hence the concatenation of all Push() and Flush() results
  // equals Decode(all ids), byte for byte; use ReplaceInvalidUtf8 (tokenizer_utf8.h) if the consumer
  // needs valid UTF-8.
  class StreamDecoder {
   public:
    explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
    std::string Push(int64_t id);
    std::string Flush();

   private:
    const Tokenizer& tokenizer_;
    std::string pending_;
  };

 private:
  Tokenizer() = default;
  // Appends the ids of text that holds no added tokens.
  void EncodePlain(std::string_view text, std::vector<int64_t>& out) const;
  void EncodeValidUtf8(std::string_view text, std::vector<int64_t>& out) const;
  void EncodePiece(std::string_view piece, std::vector<int64_t>& out) const;
  // Leftmost-longest added token at or after `from`: its index in added_ and start; nullopt if none.
  std::optional<std::pair<size_t, size_t>> FindAdded(std::string_view text, size_t from) const;

  enum Kind : uint8_t { kAbsent = 0, kRegular, kAdded, kAddedSpecial };

  std::shared_ptr<const Vocab> vocab_;
  std::unique_ptr<BpeModel> bpe_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::vector<AddedToken> added_;
  std::unordered_map<std::string, int64_t> added_ids_;  // content -> id
  std::vector<std::string> text_;  // by id: what Decode emits
  std::vector<Kind> kind_;         // by id
  // For each first byte, the added tokens starting with it, longest first.
  std::vector<std::vector<uint32_t>> added_by_first_byte_;
  std::string source_;

  // Per-piece BPE results: text repeats the same words, and BPE dominates encoding time.
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringViewHash, std::equal_to<>> cache_;
};

}  // namespace glmv
