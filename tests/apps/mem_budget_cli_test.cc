// --mem-budget through the binary (issue 14): on the tiny model converted to .glmv in a temporary folder, a
// budget below the minimum is refused by run, chat and serve with the minimum stated (serve's larger: it
// reserves KV for --parallel sequences), a Hugging Face directory and malformed sizes are refused, and a
// budget that holds only one layer's experts gives the same greedy ids as the mapped run, with --stats
// showing the cache at work (and chat's at the end of the conversation). Those runs use the tiny model
// without its vision tower: with it, the tower's share of the budget goes to the cache (lent back while
// images encode) and holds every tiny expert, which the last case checks.
#include <doctest/doctest.h>

#include <regex>
#include <string>

#include "tests/test_util.h"

namespace glmv {
namespace {

using test::Number;

const std::string kTiny = (test::DataDir() / "tiny-glm4v-moe").string();
const std::string kPrompt = " --prompt-ids 282,284,287,162,87,60,14,57,155,272,233,288 -n 8";

test::CommandResult Glmv(const std::string& args) { return test::RunCommand(std::string(GLMV_BIN) + " " + args); }

std::string ConvertTiny(const test::TempDir& dir) {
  const std::string out = (dir / "tiny.glmv").string();
  const auto r = Glmv("convert " + kTiny + " -o " + out);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  return out;
}

TEST_CASE("--mem-budget below the minimum is refused by run, chat and serve, stating the minimum in bytes and GiB") {
  test::TempDir dir;
  const std::string model = ConvertTiny(dir);
  const auto run = Glmv("run -m " + model + kPrompt + " --mem-budget 1");
  CHECK(run.status == 1);
  CHECK(run.out.empty());
  const uint64_t run_min = Number(run.err, "below the minimum of (\\d+) bytes \\(\\d+\\.\\d\\d GiB\\)");
  CHECK(run_min > 0);
  CHECK(run.err.find("KV reserve") != std::string::npos);

  const auto chat = Glmv("chat -m " + model + " --mem-budget 1000");
  CHECK(chat.status == 1);
  CHECK(Number(chat.err, "below the minimum of (\\d+) bytes") == run_min);

  // The server checks before it takes a port, and reserves KV for --parallel sequences.
  const auto serve = Glmv("serve -m " + model + " --port 0 --parallel 4 --mem-budget 1M");
  CHECK(serve.status == 1);
  CHECK(serve.out.find("listening") == std::string::npos);
  CHECK(Number(serve.err, "below the minimum of (\\d+) bytes") > run_min);
}

TEST_CASE("--mem-budget needs a .glmv model and a size in its grammar; --help explains it") {
  const auto hf = Glmv("run -m " + kTiny + kPrompt + " --mem-budget 8G");
  CHECK(hf.status == 1);
  CHECK(hf.err.find("not one (glmv convert") != std::string::npos);
  for (const char* bad : {"8GB", "8g", "0", "8T", "1.5", "lots"}) {
    CAPTURE(bad);
    const auto r = Glmv("run -m " + kTiny + kPrompt + " --mem-budget " + bad);
    CHECK(r.status == 1);
    CHECK(r.err.find("--mem-budget") != std::string::npos);
    CHECK((r.err.find("KiB, MiB, GiB") != std::string::npos || r.err.find("more than 0 bytes") != std::string::npos));
  }
  for (const char* command : {"run", "chat", "serve"}) {
    CAPTURE(command);
    const auto help = Glmv(std::string(command) + " --help");
    CHECK(help.status == 0);
    CHECK(help.out.find("--mem-budget") != std::string::npos);
  }
}

TEST_CASE("run under a budget of one layer's experts: the mapped run's greedy ids, and --stats shows reads") {
  test::TempDir dir;
  const std::string model = test::WriteTextOnlyTinyGlmv(GLMV_BIN, dir);
  const auto mapped = Glmv("run -m " + model + kPrompt + " --stats");
  REQUIRE_MESSAGE(mapped.status == 0, mapped.err);
  CHECK(mapped.err.find("expert cache: off") != std::string::npos);

  const auto refused = Glmv("run -m " + model + kPrompt + " --mem-budget 1");
  const uint64_t minimum = Number(refused.err, "below the minimum of (\\d+) bytes");
  const uint64_t pinned = Number(refused.err, "2 experts one MoE step pins (\\d+) bytes");
  // Room for 8 of the 16 experts: one layer's, so steps rarely split into groups and prefetch has room.
  const uint64_t budget = minimum + 3 * pinned;
  const auto cached = Glmv("run -m " + model + kPrompt + " --stats --expert-prefetch 2 --mem-budget " + std::to_string(budget));
  REQUIRE_MESSAGE(cached.status == 0, cached.err);
  CHECK(cached.out == mapped.out);
  CHECK(!cached.out.empty());
  MESSAGE(cached.err);
  CHECK(Number(cached.err, "expert cache: (\\d+) slots") == 8);
  CHECK(Number(cached.err, "(\\d+) misses") > 0);
  CHECK(Number(cached.err, "(\\d+) evictions") > 0);
  CHECK(Number(cached.err, "expert disk: (\\d+) bytes read") > 0);
  CHECK(std::regex_search(cached.err, std::regex("\\d+\\.\\d% hit rate")));
  CHECK(std::regex_search(cached.err, std::regex("\\d+ bytes per token over 20 tokens")));
  CHECK(std::regex_search(cached.err, std::regex("ms per token")));
  CHECK(std::regex_search(cached.err, std::regex("\\d+ issued, \\d+ useful \\(\\d+\\.\\d% accuracy\\), \\d+ useful bytes")));
  CHECK(Number(cached.err, "(\\d+) predicted, \\d+ used") > 0);
  CHECK(Number(cached.err, "predicted, (\\d+) used") > 0);

  // At the minimum itself (the pinned slots alone), MoE steps acquire their experts in groups that fit:
  // the same ids.
  const auto at_minimum = Glmv("run -m " + model + kPrompt + " --stats --mem-budget " + std::to_string(minimum));
  REQUIRE_MESSAGE(at_minimum.status == 0, at_minimum.err);
  CHECK(at_minimum.out == mapped.out);
  CHECK(Number(at_minimum.err, "expert cache: (\\d+) slots") == 2);
  // Without --expert-prefetch nothing is read ahead.
  CHECK(Number(at_minimum.err, "(\\d+) predicted, \\d+ used") == 0);
  CHECK(Number(at_minimum.err, "expert prefetch: (\\d+) issued") == 0);
  const auto negative = Glmv("run -m " + model + kPrompt + " --expert-prefetch -1 --mem-budget " + std::to_string(budget));
  CHECK(negative.status == 1);
  CHECK(negative.err.find("--expert-prefetch") != std::string::npos);

  // chat prints the same summary when the conversation ends.
  const auto chat = test::RunCommand(std::string(GLMV_BIN) + " chat -m " + model + " -n 4 --seed 1 --stats --mem-budget " +
                                     std::to_string(budget), "Hello\nHow are you?\n");
  REQUIRE_MESSAGE(chat.status == 0, chat.err);
  CHECK(Number(chat.err, "expert cache: (\\d+) slots") == 8);
  CHECK(Number(chat.err, "(\\d+) misses") > 0);
  CHECK(chat.err.find("bytes per token") != std::string::npos);
}

TEST_CASE("with a vision tower, the minimum budget's cache also holds the tower's share: every tiny expert") {
  test::TempDir dir;
  const std::string model = ConvertTiny(dir);
  const auto mapped = Glmv("run -m " + model + kPrompt);
  REQUIRE_MESSAGE(mapped.status == 0, mapped.err);
  const auto refused = Glmv("run -m " + model + kPrompt + " --mem-budget 1");
  const uint64_t minimum = Number(refused.err, "below the minimum of (\\d+) bytes");
  const auto cached = Glmv("run -m " + model + kPrompt + " --stats --mem-budget " + std::to_string(minimum));
  REQUIRE_MESSAGE(cached.status == 0, cached.err);
  CHECK(cached.out == mapped.out);
  MESSAGE(cached.err);
  CHECK(Number(cached.err, "expert cache: (\\d+) slots") == 16);  // 2 pinned + the tower's ~250 KB, capped at 16
  CHECK(Number(cached.err, "(\\d+) evictions") == 0);
}

}  // namespace
}  // namespace glmv
