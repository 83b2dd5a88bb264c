// glmv serve under --mem-budget (issue 14) on the tiny model converted to .glmv: /metrics exports the expert
// cache's counters from the start, a request moves them (misses, evictions and disk bytes above zero), and
// a server with mapped experts exports none of them.
#include <doctest/doctest.h>
#include <httplib.h>

#include <regex>
#include <string>

#include "tests/serve/serve_client.h"
#include "tests/serve/serve_process.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

using test::Number;

using test::Metric;

const std::string kTiny = (test::DataDir() / "tiny-glm4v-moe").string();
const char* const kExpertMetrics[] = {
    "glmv_expert_cache_hits_total",      "glmv_expert_cache_misses_total",    "glmv_expert_cache_evictions_total",
    "glmv_expert_disk_bytes_total",      "glmv_expert_stall_seconds_total",   "glmv_expert_prefetch_issued_total",
    "glmv_expert_prefetch_useful_total", "glmv_expert_cache_hit_rate",
};

TEST_CASE("serve --mem-budget: /metrics exports the expert cache's counters, and a request moves them") {
  test::TempDir dir;
  // Without a vision tower, whose share would give the tiny cache every expert (lib/engine/memory_plan.h).
  const std::string model = test::WriteTextOnlyTinyGlmv(GLMV_BIN, dir);
  // The minimum for one slot, from the refusal; then room for one layer's 8 experts (of 16).
  const auto refused = test::RunCommand(std::string(GLMV_BIN) + " serve -m " + model + " --parallel 1 --mem-budget 1");
  REQUIRE(refused.status == 1);
  const uint64_t minimum = Number(refused.err, "below the minimum of (\\d+) bytes");
  const uint64_t pinned = Number(refused.err, "2 experts one MoE step pins (\\d+) bytes");
  test::ServeProcess server({"-m", model, "--parallel", "1", "--mem-budget", std::to_string(minimum + 3 * pinned)});
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(300, 0);
  for (const char* name : kExpertMetrics) {
    CAPTURE(name);
    CHECK(Metric(c, name) == 0);
  }
  const test::Answer a = test::Post(c, test::Chat("Hello there, how are you?", 8).dump());
  REQUIRE(a.status == 200);
  // Published before the answer goes out.
  CHECK(Metric(c, "glmv_expert_cache_misses_total") > 0);
  CHECK(Metric(c, "glmv_expert_cache_evictions_total") > 0);
  CHECK(Metric(c, "glmv_expert_disk_bytes_total") >= 4096 * Metric(c, "glmv_expert_cache_misses_total"));
  CHECK(Metric(c, "glmv_expert_stall_seconds_total") > 0);
  CHECK(Metric(c, "glmv_expert_prefetch_useful_total") <= Metric(c, "glmv_expert_prefetch_issued_total"));
  const double hits = Metric(c, "glmv_expert_cache_hits_total");
  const test::Answer again = test::Post(c, test::Chat("Hello there, how are you?", 8).dump());
  REQUIRE(again.status == 200);
  CHECK(again.body["choices"][0]["message"]["content"] == a.body["choices"][0]["message"]["content"]);
  CHECK(Metric(c, "glmv_expert_cache_hits_total") + Metric(c, "glmv_expert_cache_misses_total") > hits);
  // One scrape, so that the counters and the rate are of the same moment.
  auto r = c.Get("/metrics");
  REQUIRE(r);
  const double h = test::MetricIn(r->body, "glmv_expert_cache_hits_total");
  const double m = test::MetricIn(r->body, "glmv_expert_cache_misses_total");
  CHECK(test::MetricIn(r->body, "glmv_expert_cache_hit_rate") == doctest::Approx(h / (h + m)).epsilon(1e-4));
}

TEST_CASE("serve with mapped experts exports no expert cache metrics") {
  test::ServeProcess server({"-m", kTiny});
  httplib::Client c("127.0.0.1", server.port());
  auto r = c.Get("/metrics");
  REQUIRE(r);
  CHECK(r->body.find("glmv_steps_total") != std::string::npos);
  CHECK(r->body.find("glmv_expert_") == std::string::npos);
}

}  // namespace
}  // namespace glmv
