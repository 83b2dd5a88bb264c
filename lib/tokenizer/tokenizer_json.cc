#include "lib/tokenizer/tokenizer_json.h"

#include <nlohmann/json.hpp>

#include "io/mapped_file.h"
#include "lib/tokenizer/byte_level.h"

namespace glmv {
namespace {

using nlohmann::json;

// Pattern that keeps the whole text as one piece (ByteLevel without any regex).
constexpr std::string_view kWholeText = R"([\s\S]+)";

bool IsNullOrFalse(const json& j, const char* key) {
  return !j.contains(key) || j[key].is_null() || (j[key].is_boolean() && !j[key].get<bool>());
}
bool IsNullOrEmpty(const json& j, const char* key) {
  return !j.contains(key) || j[key].is_null() || (j[key].is_string() && j[key].get<std::string>().empty());
}
std::string TypeOf(const json& j) {
  return j.is_object() && j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : "";
}

// Finds the regex the pre_tokenizer applies before ByteLevel.
Status ParsePreTokenizer(const json& p, const std::string& name, std::string& pattern) {
  if (p.is_null()) return Status::Error(name + ": pre_tokenizer is null; byte-level BPE needs ByteLevel");
  std::vector<const json*> steps;
  if (TypeOf(p) == "Sequence") {
    if (!p.contains("pretokenizers") || !p["pretokenizers"].is_array()) {
      return Status::Error(name + ": pre_tokenizer Sequence without a pretokenizers list");
    }
    for (const json& s : p["pretokenizers"]) steps.push_back(&s);
  } else {
    steps.push_back(&p);
  }
  bool have_regex = false, have_byte_level = false;
  for (const json* s : steps) {
    const std::string type = TypeOf(*s);
    if (have_byte_level) return Status::Error(name + ": pre_tokenizer step after ByteLevel is unsupported");
    if (type == "Split") {
      const json& pat = (*s).value("pattern", json());
      if (!pat.is_object() || !pat.contains("Regex") || !pat["Regex"].is_string()) {
        return Status::Error(name + ": pre_tokenizer Split needs {\"Regex\": ...} (String patterns are unsupported)");
      }
      if ((*s).value("behavior", std::string()) != "Isolated" || !IsNullOrFalse(*s, "invert")) {
        return Status::Error(name + ": pre_tokenizer Split must have behavior Isolated and invert false");
      }
      if (have_regex) return Status::Error(name + ": more than one regex in pre_tokenizer is unsupported");
      pattern = pat["Regex"].get<std::string>();
      have_regex = true;
    } else if (type == "ByteLevel") {
      if (!IsNullOrFalse(*s, "add_prefix_space")) {
        return Status::Error(name + ": ByteLevel add_prefix_space=true is unsupported");
      }
      const bool use_regex = !s->contains("use_regex") || (*s)["use_regex"] == true;
      if (use_regex) {
        if (have_regex) return Status::Error(name + ": more than one regex in pre_tokenizer is unsupported");
        pattern = std::string(kGpt2Pattern);
        have_regex = true;
      }
      have_byte_level = true;
    } else {
      return Status::Error(name + ": unsupported pre_tokenizer type \"" + type + "\"");
    }
  }
  if (!have_byte_level) return Status::Error(name + ": pre_tokenizer has no ByteLevel step");
  if (!have_regex) pattern = std::string(kWholeText);
  return Status::Ok();
}

Status ParseAddedTokens(const json& j, const std::string& name, std::vector<AddedToken>& out) {
  if (!j.contains("added_tokens") || j["added_tokens"].is_null()) return Status::Ok();
  if (!j["added_tokens"].is_array()) return Status::Error(name + ": added_tokens must be a list");
  for (const json& t : j["added_tokens"]) {
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
        !t["content"].is_string()) {
      return Status::Error(name + ": each added_tokens entry needs an integer id and a string content");
    }
    AddedToken a;
    a.id = t["id"].get<int64_t>();
    a.content = t["content"].get<std::string>();
    a.special = t.value("special", false);
    for (const char* flag : {"lstrip", "rstrip", "single_word"}) {
      if (!IsNullOrFalse(t, flag)) {
        return Status::Error(name + ": added token \"" + a.content + "\" sets " + flag + ", which is unsupported");
      }
    }
    out.push_back(std::move(a));
  }
  return Status::Ok();
}

// One merge entry: "a b" or ["a", "b"].
bool MergeParts(const json& m, std::string& left, std::string& right) {
  if (m.is_string()) {
    const std::string s = m.get<std::string>();
    const size_t space = s.find(' ');
    if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) return false;
    left = s.substr(0, space);
    right = s.substr(space + 1);
    return true;
  }
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
    left = m[0].get<std::string>();
    right = m[1].get<std::string>();
    return true;
  }
  return false;
}

Status ParseModel(const json& m, const std::string& name, Vocab& vocab, MergeTable& merges, bool& ignore_merges) {
  if (!m.is_object() || TypeOf(m) != "BPE") return Status::Error(name + ": model.type must be \"BPE\"");
  if (m.contains("dropout") && !m["dropout"].is_null() && !(m["dropout"].is_number() && m["dropout"] == 0)) {
    return Status::Error(name + ": model.dropout is unsupported");
  }
  if (!IsNullOrFalse(m, "byte_fallback")) return Status::Error(name + ": model.byte_fallback is unsupported");
  if (!IsNullOrEmpty(m, "continuing_subword_prefix") || !IsNullOrEmpty(m, "end_of_word_suffix")) {
    return Status::Error(name + ": model.continuing_subword_prefix / end_of_word_suffix are unsupported");
  }
  ignore_merges = m.contains("ignore_merges") && m["ignore_merges"] == true;
  if (!m.contains("vocab") || !m["vocab"].is_object()) return Status::Error(name + ": missing model.vocab");
  if (!m.contains("merges") || !m["merges"].is_array()) return Status::Error(name + ": missing model.merges");

  for (const auto& [key, value] : m["vocab"].items()) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > kMaxTokenId) {
      return Status::Error(name + ": model.vocab[\"" + key + "\"] is not an id in [0, " + std::to_string(kMaxTokenId) +
                           "]");
    }
    auto bytes = ByteLevelToBytes(key);
    if (!bytes || bytes->empty()) {
      return Status::Error(name + ": model.vocab key \"" + key + "\" is not in the byte-level alphabet");
    }
    const auto id = value.get<int32_t>();
    if (static_cast<size_t>(id) >= vocab.bytes.size()) vocab.bytes.resize(static_cast<size_t>(id) + 1);
    if (!vocab.bytes[id].empty()) return Status::Error(name + ": model.vocab id " + std::to_string(id) + " repeats");
    vocab.bytes[id] = *bytes;
    vocab.ids.emplace(std::move(*bytes), id);
  }
  if (!vocab.IndexBytes()) return Status::Error(name + ": model.vocab lacks a token for some byte value");

  const json& list = m["merges"];
  merges.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = name + ": model.merges[" + std::to_string(i) + "]";
    std::string left, right;
    if (!MergeParts(list[i], left, right)) return Status::Error(where + " is neither \"a b\" nor [\"a\", \"b\"]");
    auto lb = ByteLevelToBytes(left), rb = ByteLevelToBytes(right);
    const int32_t l = lb ? vocab.Find(*lb) : -1, r = rb ? vocab.Find(*rb) : -1;
    const int32_t merged = (lb && rb) ? vocab.Find(*lb + *rb) : -1;
    if (l < 0 || r < 0 || merged < 0) {
      return Status::Error(where + " (\"" + left + "\", \"" + right + "\") uses or makes a token not in model.vocab");
    }
    if (!merges.emplace(MergeKey(l, r), MergeRule{static_cast<int32_t>(i), merged}).second) {
      return Status::Error(where + " repeats an earlier merge");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<TokenizerParts> ParseHfTokenizerJson(std::string_view json_text, const std::string& name) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    return Status::Error(name + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) return Status::Error(name + ": not a JSON object");
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    return Status::Error(name + ": normalizer \"" + TypeOf(j["normalizer"]) + "\" is unsupported (expected null)");
  }
  if (j.contains("decoder") && !j["decoder"].is_null() && TypeOf(j["decoder"]) != "ByteLevel") {
    return Status::Error(name + ": decoder \"" + TypeOf(j["decoder"]) + "\" is unsupported (expected ByteLevel)");
  }
  std::string pattern;
  GLMV_RETURN_IF_ERROR(ParsePreTokenizer(j.value("pre_tokenizer", json()), name, pattern));
  if (!j.contains("model")) return Status::Error(name + ": missing model");

  auto vocab = std::make_shared<Vocab>();
  MergeTable merges;
  bool ignore_merges = false;
  GLMV_RETURN_IF_ERROR(ParseModel(j["model"], name, *vocab, merges, ignore_merges));
  TokenizerParts parts;
  GLMV_RETURN_IF_ERROR(ParseAddedTokens(j, name, parts.added));
  auto pre = PreTokenizer::Create(pattern);
  if (!pre.ok()) return pre.status().Annotate(name);
  parts.pre_tokenizer = std::move(pre).value();
  parts.bpe = MakeMergeBpe(*vocab, std::move(merges), ignore_merges);
  parts.vocab = std::move(vocab);
  parts.source = name;
  return parts;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromHfJson(const std::string& path) {
  GLMV_ASSIGN_OR_RETURN(MappedFile f, MappedFile::Open(path));
  GLMV_ASSIGN_OR_RETURN(
      TokenizerParts parts,
      ParseHfTokenizerJson({reinterpret_cast<const char*>(f.bytes().data()), f.size()}, path));
  return Create(std::move(parts));
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromHfJsonText(std::string_view text, const std::string& source) {
  GLMV_ASSIGN_OR_RETURN(TokenizerParts parts, ParseHfTokenizerJson(text, source));
  return Create(std::move(parts));
}

}  // namespace glmv
