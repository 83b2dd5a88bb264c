// Sizes on the command line: --kv-memory's (and every other size flag's) grammar, and --mem-budget's strict one
// (bytes, K/M/G, KiB/MiB/GiB and nothing else); 0, junk and negative sizes are errors naming the flag.
#include <doctest/doctest.h>

#include "apps/byte_size.h"

namespace glmv::app {
namespace {

TEST_CASE("sizes: bytes, K/M/G/T as powers of 1000, KiB/MiB/GiB/TiB as powers of 1024") {
  CHECK(ParseByteSize("4096", "--x").value() == 4096);
  CHECK(ParseByteSize("8G", "--x").value() == 8'000'000'000ull);
  CHECK(ParseByteSize("8GB", "--x").value() == 8'000'000'000ull);
  CHECK(ParseByteSize("8GiB", "--x").value() == 8ull << 30);
  CHECK(ParseByteSize("8000M", "--x").value() == 8'000'000'000ull);
  CHECK(ParseByteSize("1.5GiB", "--x").value() == 3ull << 29);
  CHECK(ParseByteSize("2TiB", "--x").value() == 2ull << 40);
  for (const char* bad : {"", "0", "-1", "8g", "8 G", "GiB", "1.5", "8Gi", "abc", "0.0001K", "1e30"}) {
    CAPTURE(bad);
    const auto r = ParseByteSize(bad, "--kv-memory");
    REQUIRE(!r.ok());
    CHECK(r.status().message().find("--kv-memory") != std::string::npos);
  }
  // synth's --shard-size took B-suffixed units in any case: it still does (a bare lower-case unit does not).
  CHECK(ParseByteSize("500mb", "--x").value() == 500'000'000ull);
  CHECK(ParseByteSize("1.5KB", "--x").value() == 1500ull);
  CHECK(ParseByteSize("64kB", "--x").value() == 64'000ull);
  CHECK(!ParseByteSize("1.2.3GB", "--x").ok());
  CHECK(!ParseByteSize("4XB", "--x").ok());
  CHECK(!ParseByteSize("99999999999T", "--x").ok());  // past 2^63
}

TEST_CASE("--mem-budget's sizes: plain bytes, or a number with K, M, G or KiB, MiB, GiB, exactly") {
  auto budget = [](const char* text) { return ParseByteSize(text, "--mem-budget", SizeGrammar::kMemBudget); };
  CHECK(budget("8G").value() == 8'000'000'000ull);
  CHECK(budget("8GiB").value() == 8ull << 30);
  CHECK(budget("8000M").value() == 8'000'000'000ull);
  CHECK(budget("512K").value() == 512'000ull);
  CHECK(budget("512KiB").value() == 512ull << 10);
  CHECK(budget("3MiB").value() == 3ull << 20);
  CHECK(budget("1.5GiB").value() == 3ull << 29);
  CHECK(budget("123456789").value() == 123456789ull);
  for (const char* bad : {"", "0", "0G", "-8G", "+8G", "8g", "8GB", "8gib", "8T", "8TiB", "8B", "8 G", "8Gi", "G",
                          "1.5", "8.G", ".5G", "1e9", "0x10", "8G ", " 8G", "inf"}) {
    CAPTURE(bad);
    const auto r = budget(bad);
    REQUIRE(!r.ok());
    CHECK(r.status().message().find("--mem-budget") != std::string::npos);
  }
  // The refusal says what is expected.
  const std::string m = budget("8GB").status().message();
  CHECK(m.find("K, M, G (powers of 1000) or KiB, MiB, GiB (powers of 1024)") != std::string::npos);
  CHECK(m.find("TiB") == std::string::npos);  // T and TiB are not in this grammar
  CHECK(budget("0").status().message().find("more than 0 bytes") != std::string::npos);
}

}  // namespace
}  // namespace glmv::app
