// BuildHfTokenizerJson: tiktoken ranks -> Hugging Face tokenizer.json (see tokenizer_json.h).
#include <nlohmann/json.hpp>

#include "lib/tokenizer/bpe.h"
#include "lib/tokenizer/byte_level.h"
#include "lib/tokenizer/tiktoken_ranks.h"
#include "lib/tokenizer/tokenizer_json.h"

namespace glmv {
namespace {

// A JSON string literal. The inputs are byte-level forms and added-token texts read from JSON, so they
// are valid UTF-8; nlohmann throws otherwise, which is caught by the caller.
std::string Quote(const std::string& s) { return nlohmann::json(s).dump(); }

}  // namespace

Result<HfJson> BuildHfTokenizerJson(const std::vector<std::string>& tokens_by_rank,
                                    const std::vector<AddedToken>& added, const HfJsonOptions& options) {
  Vocab vocab;
  vocab.bytes = tokens_by_rank;
  for (size_t rank = 0; rank < tokens_by_rank.size(); ++rank) {
    if (!vocab.ids.emplace(tokens_by_rank[rank], static_cast<int32_t>(rank)).second) {
      return Status::Error("token of rank " + std::to_string(rank) + " repeats an earlier one");
    }
  }
  if (!vocab.IndexBytes()) return Status::Error("some byte value has no single-byte token");

  HfJson out;
  try {
    std::string& s = out.json;
    s += "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [";
    for (size_t i = 0; i < added.size(); ++i) {
      const AddedToken& a = added[i];
      s += i ? ",\n    " : "\n    ";
      s += "{\"id\": ";
      s += std::to_string(a.id);
      s += ", \"content\": ";
      s += Quote(a.content);
      s += ", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": ";
      s += a.special ? "true}" : "false}";
    }
    s += "\n  ],\n  \"normalizer\": null,\n";
    s += "  \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [\n";
    s += "    {\"type\": \"Split\", \"pattern\": {\"Regex\": ";
    s += Quote(options.pattern);
    s += "}, \"behavior\": \"Isolated\", \"invert\": false},\n";
    s += "    {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": false, \"use_regex\": false}]},\n";
    s += "  \"post_processor\": null,\n";
    s += "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, "
         "\"use_regex\": true},\n";
    s += "  \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"continuing_subword_prefix\": null, "
         "\"end_of_word_suffix\": null, \"fuse_unk\": false, \"byte_fallback\": false, \"ignore_merges\": ";
    s += options.ignore_merges ? "true" : "false";
    s += ",\n    \"vocab\": {";
    for (size_t rank = 0; rank < tokens_by_rank.size(); ++rank) {
      s += rank ? ",\n      " : "\n      ";
      s += Quote(BytesToByteLevel(tokens_by_rank[rank]));
      s += ": ";
      s += std::to_string(rank);
    }
    s += "\n    },\n    \"merges\": [";
    for (size_t rank = 0; rank < tokens_by_rank.size(); ++rank) {
      const std::string& token = tokens_by_rank[rank];
      if (token.size() < 2) continue;
      const std::vector<uint32_t> ends = RankBpeBoundaries(vocab, token, static_cast<int64_t>(rank));
      if (ends.size() != 2) {
        ++out.unreachable;
        continue;
      }
      s += out.merges++ ? ",\n      " : "\n      ";
      s += '[';
      s += Quote(BytesToByteLevel(token.substr(0, ends[0])));
      s += ", ";
      s += Quote(BytesToByteLevel(token.substr(ends[0])));
      s += ']';
    }
    s += "\n    ]\n  }\n}\n";
  } catch (const nlohmann::json::exception& e) {
    return Status::Error(std::string("cannot write tokenizer.json: ") + e.what());
  }
  return out;
}

Result<HfJson> BuildHfTokenizerJsonFromTiktoken(const std::string& ranks_path, const std::string& config_path,
                                                const HfJsonOptions& options) {
  GLMV_ASSIGN_OR_RETURN(std::vector<std::string> by_rank, ReadTiktokenRanks(ranks_path));
  GLMV_ASSIGN_OR_RETURN(std::vector<AddedToken> added, ReadAddedTokensDecoder(config_path));
  auto json = BuildHfTokenizerJson(by_rank, added, options);
  if (!json.ok()) return json.status().Annotate(ranks_path);
  return json;
}

}  // namespace glmv
