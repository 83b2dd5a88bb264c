#include "apps/json_schema_flag.h"

#include <fstream>
#include <sstream>

#include "lib/sampling/json_schema.h"
#include "lib/sampling/token_constraint.h"
#include "lib/sampling/token_trie.h"

namespace glmv::app {

OptionSpec JsonSchemaOption() {
  return {"--json-schema", "", true, "FILE  hold the answer to this JSON schema (the subset response_format takes)"};
}

Result<std::shared_ptr<const Grammar>> ReadJsonSchemaFlag(const Args& args) {
  if (!args.Has("--json-schema")) return std::shared_ptr<const Grammar>();
  const std::string path = args.Get("--json-schema");
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Error("--json-schema " + path + ": cannot read the file");
  std::stringstream ss;
  ss << f.rdbuf();
  const auto schema = nlohmann::ordered_json::parse(ss.str(), nullptr, false);
  if (schema.is_discarded() || !schema.is_object()) {
    return Status::Error("--json-schema " + path + ": not a JSON object (a JSON schema is one)");
  }
  auto grammar = CompileJsonSchema(schema);
  if (!grammar.ok()) return Status::Error("--json-schema " + path + ": " + grammar.status().message());
  return std::move(grammar).value();
}

std::shared_ptr<const TokenTrie> VocabularyTrie(const Engine& engine) {
  if (!engine.tokenizer()) return nullptr;
  return TokenTrie::FromTokenizer(*engine.tokenizer(), static_cast<size_t>(engine.model().config().vocab_size));
}

std::unique_ptr<TokenConstraint> AnswerConstraint(const Engine& engine, std::shared_ptr<const Grammar> grammar,
                                                  std::shared_ptr<const TokenTrie> trie, bool thinking,
                                                  std::vector<std::pair<int64_t, std::string>> text_tokens) {
  TokenConstraintOptions options;
  options.text_tokens = std::move(text_tokens);
  options.eos_ids = engine.model().config().eos_token_ids;
  if (thinking && engine.tokenizer()) options.arm_after_token = ThinkEndToken(*engine.tokenizer());
  return std::make_unique<TokenConstraint>(std::move(grammar), std::move(trie), std::move(options));
}

Result<GenerateResult> GenerateWithGrammar(Engine& engine, const GenerateRequest& request,
                                           const std::function<void(const std::string&)>& on_text,
                                           std::shared_ptr<const Grammar> grammar,
                                           std::shared_ptr<const TokenTrie> trie, bool thinking) {
  if (!trie) return Status::Error("--json-schema needs the model's tokenizer");
  GLMV_ASSIGN_OR_RETURN(std::unique_ptr<Sequence> s, engine.Start(request, on_text));
  s->SetConstraint(AnswerConstraint(engine, std::move(grammar), std::move(trie), thinking));
  Sequence* one = s.get();
  engine.RunToCompletion(std::span<Sequence* const>(&one, 1));
  if (!s->status().ok()) return s->status();
  GenerateResult result = s->result();
  engine.Retire(std::move(s));
  return result;
}

}  // namespace glmv::app
