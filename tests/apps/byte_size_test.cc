// --kv-memory's sizes: bytes, decimal and binary units; 0, junk and negative sizes are errors naming the flag.
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
}

}  // namespace
}  // namespace glmv::app
