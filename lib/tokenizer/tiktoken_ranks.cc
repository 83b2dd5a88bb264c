#include "lib/tokenizer/tiktoken_ranks.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

#include "io/mapped_file.h"
#include "lib/tokenizer/bpe.h"

namespace glmv {
namespace {

// Standard base64 (RFC 4648 alphabet, '=' padding required), the encoding tiktoken files use.
bool DecodeBase64(std::string_view in, std::string& out) {
  static const std::array<int8_t, 256> kValue = [] {
    std::array<int8_t, 256> v{};
    v.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) v[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
    return v;
  }();
  out.clear();
  if (in.empty() || in.size() % 4 != 0) return false;
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int pad = 0;
    uint32_t bits = 0;
    for (size_t k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=') {
        // Padding only at the end of the last group, and at most two characters of it.
        if (!last || k < 2) return false;
        ++pad;
        bits <<= 6;
        continue;
      }
      if (pad > 0 || kValue[static_cast<uint8_t>(c)] < 0) return false;
      bits = (bits << 6) | static_cast<uint32_t>(kValue[static_cast<uint8_t>(c)]);
    }
    out.push_back(static_cast<char>(bits >> 16));
    if (pad < 2) out.push_back(static_cast<char>((bits >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(bits & 0xFF));
  }
  return true;
}

std::string_view AsText(const MappedFile& f) {
  return {reinterpret_cast<const char*>(f.bytes().data()), f.size()};
}

}  // namespace

Result<std::vector<std::string>> ParseTiktokenRanks(std::string_view text, const std::string& name) {
  std::vector<std::pair<int64_t, std::string>> entries;
  BytesToId seen;  // bytes -> line, to report duplicates
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::string where = name + ":" + std::to_string(line_no) + ": ";
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos) {
      return Status::Error(where + "expected `base64 rank`");
    }
    std::string bytes;
    if (!DecodeBase64(line.substr(0, space), bytes)) return Status::Error(where + "bad base64");
    const std::string_view rank_text = line.substr(space + 1);
    int64_t rank = -1;
    const auto [end, ec] = std::from_chars(rank_text.data(), rank_text.data() + rank_text.size(), rank);
    if (ec != std::errc() || end != rank_text.data() + rank_text.size() || rank < 0 || rank > kMaxTokenId) {
      return Status::Error(where + "bad rank \"" + std::string(rank_text) + "\"");
    }
    if (auto [it, fresh] = seen.emplace(bytes, static_cast<int32_t>(line_no)); !fresh) {
      return Status::Error(where + "token repeats line " + std::to_string(it->second));
    }
    entries.emplace_back(rank, std::move(bytes));
  }
  if (entries.empty()) return Status::Error(name + ": no ranks");
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> by_rank;
  by_rank.reserve(entries.size());
  for (auto& [rank, bytes] : entries) {
    // Ranks are ids, so they must be exactly 0..n-1: a gap would be an id without a token.
    if (rank != static_cast<int64_t>(by_rank.size())) {
      if (rank < static_cast<int64_t>(by_rank.size())) {
        return Status::Error(name + ": rank " + std::to_string(rank) + " appears twice");
      }
      return Status::Error(name + ": ranks skip " + std::to_string(by_rank.size()));
    }
    by_rank.push_back(std::move(bytes));
  }
  return by_rank;
}

Result<std::vector<std::string>> ReadTiktokenRanks(const std::string& path) {
  GLMV_ASSIGN_OR_RETURN(MappedFile f, MappedFile::Open(path));
  return ParseTiktokenRanks(AsText(f), path);
}

Result<std::vector<AddedToken>> ParseAddedTokensDecoder(std::string_view json_text, const std::string& name) {
  using nlohmann::json;
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    return Status::Error(name + ": invalid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("added_tokens_decoder")) {
    return Status::Error(name + ": no added_tokens_decoder (the special tokens and their ids)");
  }
  const json& table = j["added_tokens_decoder"];
  if (!table.is_object()) return Status::Error(name + ": added_tokens_decoder must be an object");
  std::vector<AddedToken> added;
  for (const auto& [key, value] : table.items()) {
    const std::string where = name + ": added_tokens_decoder[\"" + key + "\"]";
    AddedToken a;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), a.id);
    if (ec != std::errc() || end != key.data() + key.size() || a.id < 0) {
      return Status::Error(where + ": key is not a token id");
    }
    if (value.is_string()) {  // older files store just the text
      a.content = value.get<std::string>();
    } else if (value.is_object() && value.contains("content") && value["content"].is_string()) {
      a.content = value["content"].get<std::string>();
      if (value.contains("special")) {
        if (!value["special"].is_boolean()) return Status::Error(where + ".special must be true or false");
        a.special = value["special"].get<bool>();
      }
    } else {
      return Status::Error(where + ": expected an object with a string \"content\"");
    }
    added.push_back(std::move(a));
  }
  std::sort(added.begin(), added.end(), [](const AddedToken& x, const AddedToken& y) { return x.id < y.id; });
  return added;
}

Result<std::vector<AddedToken>> ReadAddedTokensDecoder(const std::string& path) {
  GLMV_ASSIGN_OR_RETURN(MappedFile f, MappedFile::Open(path));
  return ParseAddedTokensDecoder(AsText(f), path);
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromTiktoken(const std::string& ranks_path,
                                                          const std::string& config_path) {
  GLMV_ASSIGN_OR_RETURN(std::vector<std::string> by_rank, ReadTiktokenRanks(ranks_path));
  GLMV_ASSIGN_OR_RETURN(std::vector<AddedToken> added, ReadAddedTokensDecoder(config_path));
  auto vocab = std::make_shared<Vocab>();
  vocab->ids.reserve(by_rank.size());
  for (size_t rank = 0; rank < by_rank.size(); ++rank) vocab->ids.emplace(by_rank[rank], static_cast<int32_t>(rank));
  vocab->bytes = std::move(by_rank);
  if (!vocab->IndexBytes()) return Status::Error(ranks_path + ": some byte value has no single-byte token");
  for (const AddedToken& a : added) {
    if (a.id < static_cast<int64_t>(vocab->bytes.size())) {
      return Status::Error(config_path + ": added token \"" + a.content + "\" has id " + std::to_string(a.id) +
                           ", which is a rank in " + ranks_path);
    }
  }
  // tiktoken files carry no pattern; GLM-4's is fixed (glm-4-9b-chat's tokenization_chatglm.py).
  GLMV_ASSIGN_OR_RETURN(std::unique_ptr<PreTokenizer> pre, PreTokenizer::Create(kGlm4Pattern));
  TokenizerParts parts;
  parts.bpe = MakeRankBpe(*vocab);
  parts.vocab = std::move(vocab);
  parts.pre_tokenizer = std::move(pre);
  parts.added = std::move(added);
  parts.source = ranks_path + " + " + config_path;
  return Create(std::move(parts));
}

}  // namespace glmv
