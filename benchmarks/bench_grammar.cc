// Constrained decoding's cost per token at GLM-4.5V's real vocabulary (issue 13): a representative
// response_format schema (strings with lengths and a pattern, an enum, numbers, an array, anyOf, free text
// with UTF-8) and a valid document for it, tokenized; at each of its steps, the engine's fast path (Allows of
// the id that comes) and the full Mask of a 151552-wide logits row (the token trie walked with the matcher,
// or the allowed set of a state met in the last few steps), then Accept. JSON lines: setup figures, then
// median and p99 microseconds of each, of Mask by the kind of place (inside a string or between values), and
// of the trie walk alone without the constraint's cache of recent states' masks.
//
//   bench_grammar [REF_DIR]   (default ../shared/ref/glm-4.5v: glm-4-9b-chat/tokenizer.model and
//                              glm-4.5/tokenizer_config.json; or a directory with a tokenizer.json)
//
// Single-threaded: the mask runs on the thread that steps the engine.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "benchmarks/bench_util.h"
#include "lib/sampling/json_schema.h"
#include "lib/sampling/token_constraint.h"

using namespace glmv;

namespace {

constexpr size_t kModelVocab = 151552;  // GLM-4.5V's logits row (the tokenizer has 151365 ids)

constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "title": {"type": "string", "maxLength": 120},
    "category": {"enum": ["book", "electronics", "clothing", "food", "other"]},
    "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
    "price": {"type": "number"},
    "in_stock": {"type": "boolean"},
    "rating": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 24}, "maxItems": 8},
    "description": {"type": "string"}
  },
  "required": ["title", "category", "sku", "price", "in_stock", "rating", "tags", "description"],
  "additionalProperties": false
})";

constexpr const char* kDocument =
    R"({"title":"The Pragmatic Programmer: 20th Anniversary Edition","category":"book","sku":"BKS-2019",)"
    R"("price":39.95,"in_stock":true,"rating":5,"tags":["programming","software craft","career","classic",)"
    R"("best practices","refactoring","testing","édition révisée"],"description":"A guide to the craft of )"
    R"(software development, revised for its twentieth anniversary. It covers topics from personal responsibility )"
    R"(and career development to architectural techniques for keeping code flexible and easy to adapt. Il est )"
    R"(aussi disponible en français — 也有中文版。 Readers learn to fight software rot, avoid the trap of )"
    R"(duplicating knowledge, write flexible, dynamic and adaptable code, test ruthlessly and effectively, )"
    R"(including property-based testing, and \"delight their users\".\nThe authors draw on decades of practice: )"
    R"(tracer bullets, prototypes and post-it notes; estimating; the power of plain text and of the shell; )"
    R"(debugging as problem solving rather than blame; text manipulation languages; design by contract; )"
    R"(assertive programming; how to balance resources; decoupling, juggling the real world, transforming )"
    R"(programming, inheritance tax, configuration; concurrency and shared state; actors and processes; )"
    R"(blackboards; listening to your lizard brain; programming by coincidence; algorithm speed; refactoring; )"
    R"(test to code; naming things; requirements pits; solving impossible puzzles; working together; the essence )"
    R"(of agility; pragmatic teams; coconuts don't cut it; pragmatic starter kits; delighting your users; pride )"
    R"(and prejudice. Prix indicatif : 39,95 € — 価格は変わることがあります。\tKeep it close at hand."})";

struct Stats {
  double median = 0, p99 = 0, mean = 0;
};

Stats Summarize(std::vector<double> us) {
  Stats s;
  if (us.empty()) return s;
  std::sort(us.begin(), us.end());
  s.median = us[us.size() / 2];
  s.p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  for (const double v : us) s.mean += v;
  s.mean /= static_cast<double>(us.size());
  return s;
}

Result<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::filesystem::path& dir) {
  if (std::filesystem::exists(dir / "tokenizer.json")) return Tokenizer::LoadFromDir(dir.string());
  return Tokenizer::FromTiktoken((dir / "glm-4-9b-chat" / "tokenizer.model").string(),
                                 (dir / "glm-4.5" / "tokenizer_config.json").string());
}

void Emit(const char* measure, const Stats& s, size_t n) {
  bench::Emit({{"bench", "grammar"}, {"measure", measure}, {"steps", n}, {"median_us", s.median}, {"p99_us", s.p99},
               {"mean_us", s.mean}});
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path ref = argc > 1 ? argv[1] : "../shared/ref/glm-4.5v";
  double t0 = bench::Now();
  auto tok = LoadTokenizer(ref);
  if (!tok.ok()) {
    std::fprintf(stderr, "bench_grammar: %s\n", tok.status().message().c_str());
    return 1;
  }
  const double load_s = bench::Now() - t0;
  t0 = bench::Now();
  const auto trie = TokenTrie::FromTokenizer(**tok, kModelVocab);
  const double trie_s = bench::Now() - t0;
  t0 = bench::Now();
  auto grammar = CompileJsonSchema(nlohmann::ordered_json::parse(kSchema), {true});
  if (!grammar.ok()) {
    std::fprintf(stderr, "bench_grammar: %s\n", grammar.status().message().c_str());
    return 1;
  }
  const double compile_s = bench::Now() - t0;
  if (!nlohmann::json::accept(kDocument)) {
    std::fprintf(stderr, "bench_grammar: the document is not JSON\n");
    return 1;
  }
  const std::vector<int64_t> ids = (*tok)->EncodeOrdinary(kDocument);
  const std::vector<int64_t> eos = {151329, 151336, 151338};
  bench::Emit({{"bench", "grammar"}, {"setup", true}, {"vocab", kModelVocab}, {"trie_nodes", trie->num_nodes()},
               {"grammar_states", (*grammar)->num_states()}, {"grammar_edges", (*grammar)->num_edges()},
               {"document_bytes", std::string(kDocument).size()}, {"document_tokens", ids.size()},
               {"tokenizer_load_s", load_s}, {"trie_build_s", trie_s}, {"schema_compile_ms", compile_s * 1e3}});

  TokenConstraint c(*grammar, trie, {eos, std::nullopt});
  GrammarMatcher walker(*grammar);  // the same states, for the trie walk without the constraint's mask cache
  std::vector<GrammarMatcher::StateId> walk_scratch;
  std::vector<uint64_t> walk_bits;
  std::vector<float> logits(kModelVocab, 0.0f);
  std::vector<double> allows_us, mask_us, walk_us, accept_us, mask_string_us, mask_structure_us;
  size_t refused = 0, allowed_sum = 0;
  bool in_string = false;  // whether the step's state is inside a string (for the split by place)
  std::string text;
  for (const int64_t id : ids) {
    double t = bench::Now();
    const bool ok = c.Allows(id);
    allows_us.push_back((bench::Now() - t) * 1e6);
    refused += !ok;
    std::fill(logits.begin(), logits.end(), 0.0f);
    t = bench::Now();
    c.Mask(logits);
    const double mask = (bench::Now() - t) * 1e6;
    mask_us.push_back(mask);
    (in_string ? mask_string_us : mask_structure_us).push_back(mask);
    allowed_sum += static_cast<size_t>(std::count(logits.begin(), logits.end(), 0.0f));
    t = bench::Now();
    trie->Allowed(walker, walker.state(), walk_scratch, walk_bits);
    walk_us.push_back((bench::Now() - t) * 1e6);
    t = bench::Now();
    if (!c.Accept(id)) break;
    accept_us.push_back((bench::Now() - t) * 1e6);
    walker.Advance((*tok)->TokenText(id));
    // Inside a string after this token: an odd number of unescaped quotes so far.
    for (const char ch : (*tok)->TokenText(id)) {
      if (ch == '"' && !(text.size() && text.back() == '\\' && in_string)) in_string = !in_string;
      text += ch;
    }
  }
  const bool complete = c.Complete();
  bench::Emit({{"bench", "grammar"}, {"steps", mask_us.size()}, {"refused", refused}, {"complete", complete},
               {"mean_allowed_ids", mask_us.empty() ? 0.0 : static_cast<double>(allowed_sum) / static_cast<double>(mask_us.size())},
               {"match_states", c.matcher().num_states()}, {"frames", c.matcher().num_frames()}});
  Emit("allows", Summarize(allows_us), allows_us.size());
  Emit("mask", Summarize(mask_us), mask_us.size());
  Emit("mask_inside_string", Summarize(mask_string_us), mask_string_us.size());
  Emit("mask_between_values", Summarize(mask_structure_us), mask_structure_us.size());
  Emit("trie_walk_uncached", Summarize(walk_us), walk_us.size());
  Emit("accept", Summarize(accept_us), accept_us.size());
  return refused == 0 && complete ? 0 : 1;
}
