// main() of the test executables whose cases read ../shared (media, golden sets, reference files). meson sees
// only an executable's exit status, not doctest's cases, so a missing ../shared is reported for the whole
// executable: exit status 77, which meson counts as SKIP, never a pass of cases that did not run. With the
// folder present, doctest runs as usual; a case that then misses one file of it FAILs, naming the file.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "tests/test_util.h"

namespace {

// ../shared counts as present when it holds at least one of its three parts.
bool SharedDirPresent(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const char* part : {"golden", "media", "ref"}) {
    if (std::filesystem::is_directory(dir / part, ec)) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path shared = glmv::test::SharedDir();
  if (!SharedDirPresent(shared)) {
    std::printf("skipped: %s is absent (none of golden/, media/, ref/ in it); the cases of %s need it\n",
                shared.c_str(), argc > 0 ? argv[0] : "this test");
    std::fflush(stdout);
    return 77;  // meson's exit status for a skipped test
  }
  return doctest::Context(argc, argv).run();
}
