// The glmv binary as a user runs it: exit codes, stdout, --json, repeatability with a seed, and clear
// errors for bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/wait.h>

#include "tests/engine/answer_schema.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

struct Run {
  int status = -1;
  std::string out;  // stdout only (stderr goes to the test log)
};

Run Glmv(const std::string& args, const std::string& stdin_text = "") {
  const test::CommandResult r = test::RunCommand(std::string(GLMV_BIN) + " " + args, stdin_text, false);
  return {r.status, r.out};
}

const std::string kTiny = (test::DataDir() / "tiny-glm4v-moe").string();

TEST_CASE("run --prompt-ids prints the reference's greedy continuation") {
  auto r = Glmv("run -m " + kTiny + " --prompt-ids 282,284,287,162,87,60,14,57,155,272,233,288 -n 8");
  CHECK(r.status == 0);
  CHECK(r.out == "17 64 1 16 115 273 13 274\n");
}

TEST_CASE("run -p --json: valid JSON with the documented fields, repeatable with a seed") {
  const std::string cmd = "run -m " + kTiny + " -p \"Hello there\" -n 12 --seed 5 --temp 1.0 --json";
  auto a = Glmv(cmd), b = Glmv(cmd);
  REQUIRE(a.status == 0);
  auto j = nlohmann::json::parse(a.out, nullptr, false);
  REQUIRE(!j.is_discarded());
  const auto j2 = nlohmann::json::parse(b.out);
  CHECK(j["ids"] == j2["ids"]);  // everything but the timings repeats
  CHECK(j["content"] == j2["content"]);
  for (const char* key : {"reasoning", "content", "boxes", "tool_calls", "ids", "finish_reason", "seed", "usage", "timings"}) {
    CHECK_MESSAGE(j.contains(key), key);
  }
  CHECK(j["usage"]["completion_tokens"] == 12);
  CHECK(j["usage"]["prompt_tokens"].get<int>() > 5);
  CHECK(j["timings"].contains("time_to_first_token_seconds"));
  CHECK(j["timings"].contains("generated_tokens_per_second"));
  auto other = Glmv("run -m " + kTiny + " -p \"Hello there\" -n 12 --seed 6 --temp 1.0 --json");
  CHECK(nlohmann::json::parse(other.out)["ids"] != j["ids"]);
}

TEST_CASE("run streams text to stdout") {
  auto r = Glmv("run -m " + kTiny + " -p Hi -n 6 --seed 1 --no-think");
  CHECK(r.status == 0);
  CHECK(!r.out.empty());
  CHECK(r.out.back() == '\n');
}

TEST_CASE("chat: several turns from standard input, commands, exit") {
  auto r = Glmv("chat -m " + kTiny + " -n 4 --seed 2", "Hello\n/nothink\nAnd now?\n/reset\n/think\nAgain\n/exit\nnot read\n");
  CHECK(r.status == 0);
  // Three answers, each ended by a newline on stdout.
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') >= 3);
  auto eof = Glmv("chat -m " + kTiny + " -n 2", "Hi\n");  // end of input ends the session
  CHECK(eof.status == 0);
}

TEST_CASE("chat --cache-bytes bounds the kept turns; a size it cannot read is refused") {
  // 1 KiB holds no page of keys and values: every turn is prefilled whole, and still answered.
  auto r = Glmv("chat -m " + kTiny + " -n 3 --seed 2 --cache-bytes 1KiB", "Hello\nAnd now?\nAgain\n");
  CHECK(r.status == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') >= 3);
  CHECK(Glmv("chat -m " + kTiny + " --cache-bytes 0", "Hi\n").status == 1);
  CHECK(Glmv("run -m " + kTiny + " -p hi --cache-bytes lots").status == 1);
}

TEST_CASE("tokenize / detokenize") {
  auto t = Glmv("tokenize -m " + kTiny + " \"[gMASK]<sop>hello\"");
  REQUIRE(t.status == 0);
  CHECK(t.out.rfind("282 284 ", 0) == 0);
  auto empty = Glmv("tokenize -m " + kTiny + " \"\"");
  CHECK(empty.status == 0);
  CHECK(empty.out == "\n");
  auto from_stdin = Glmv("tokenize -m " + kTiny, "[gMASK]<sop>hello");
  CHECK(from_stdin.out == t.out);
  auto back = Glmv("detokenize -m " + kTiny + " " + t.out.substr(0, t.out.size() - 1));
  CHECK(back.out == "[gMASK]<sop>hello\n");
  CHECK(Glmv("detokenize -m " + kTiny + " 99999").status != 0);
}

TEST_CASE("run --json-schema: the answer parses and satisfies the schema; a schema outside the subset is refused") {
  test::TempDir dir;
  const auto schema = (dir / "answer.json").string();
  const auto bad = (dir / "bad.json").string();
  std::ofstream(schema) << test::kAnswerSchema;
  std::ofstream(bad) << R"({"type": "string", "format": "date"})";
  for (int seed : {1, 2, 3}) {
    CAPTURE(seed);
    auto r = Glmv("run -m " + kTiny + " -p \"Describe it\" --no-think --temp 1 -n 600 --seed " + std::to_string(seed) +
                  " --json-schema " + schema);
    CHECK(r.status == 0);
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    const auto answer = nlohmann::ordered_json::parse(out, nullptr, false);
    REQUIRE_MESSAGE(!answer.is_discarded(), r.out);
    CHECK_MESSAGE(test::AnswerProblems(answer).empty(), r.out);
  }
  CHECK(Glmv("run -m " + kTiny + " -p hi --json-schema " + bad).status == 1);
  CHECK(Glmv("run -m " + kTiny + " -p hi --json-schema " + (dir / "missing.json").string()).status == 1);
  CHECK(Glmv("run -m " + kTiny + " --prompt-ids 1,2 --json-schema " + schema).status == 1);
}

TEST_CASE("bad input gives a clear error and a non-zero exit") {
  CHECK(Glmv("run -m /nonexistent -p hi").status == 1);
  CHECK(Glmv("run -m " + kTiny).status == 1);
  CHECK(Glmv("run -m " + kTiny + " -p hi --temp abc").status == 1);
  CHECK(Glmv("run -m " + kTiny + " --prompt-ids 1,x").status == 1);
  CHECK(Glmv("run -m " + kTiny + " --prompt-ids 1,99999").status == 1);
  CHECK(Glmv("frobnicate").status == 2);
  CHECK(Glmv("check-golden " + kTiny).status == 0);
}

}  // namespace
}  // namespace glmv
