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

Result<GenerateResult> GenerateWithGrammar(Engine& engine, const GenerateRequest& request,
                                           const std::function<void(const std::string&)>& on_text,
                                           std::shared_ptr<const Grammar> grammar, bool thinking) {
  if (!engine.tokenizer()) return Status::Error("--json-schema needs the model's tokenizer");
  GLMV_ASSIGN_OR_RETURN(std::unique_ptr<Sequence> s, engine.Start(request, on_text));
  const size_t vocab = static_cast<size_t>(engine.model().config().vocab_size);
  TokenConstraintOptions options;
  options.eos_ids = engine.model().config().eos_token_ids;
  if (thinking) options.arm_after_token = ThinkEndToken(*engine.tokenizer());
  s->SetConstraint(std::make_unique<TokenConstraint>(std::move(grammar), TokenTrie::FromTokenizer(*engine.tokenizer(), vocab),
                                                     std::move(options)));
  Sequence* one = s.get();
  engine.RunToCompletion(std::span<Sequence* const>(&one, 1));
  if (!s->status().ok()) return s->status();
  GenerateResult result = s->result();
  engine.Retire(std::move(s));
  return result;
}

}  // namespace glmv::app
