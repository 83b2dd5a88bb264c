// --pdf flags (apps/pdf_inputs.h) on the media PDFs of ../shared (the executable skips, exit 77, without it):
// the errors a user sees, in the flags' words, come out as they did when apps/ loaded PDFs itself. The PDF loaded
// and made into requests by lib: tests/lib/pdf_inputs_shared_test.cc.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/input_limits.h"
#include "apps/pdf_inputs.h"
#include "io/decode_pdf.h"
#include "tests/test_util.h"

namespace glmv::app {
namespace {

// What `glmv run --pdf ...` reports: the flags parsed, the PDF loaded, the error in the flags' words.
std::string LoadError(std::vector<std::string> words) {
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  auto args = Args::Parse(PdfOptionSpecs(), static_cast<int>(argv.size()), argv.data(), 0);
  REQUIRE(args.ok());
  auto options = PdfOptionsFromArgs(*args);
  if (!options.ok()) return options.status().message();
  auto pdf = LoadPdf(args->Get("--pdf"), *options, ImagePreprocessConfig{});
  return pdf.ok() ? "OK" : Explain(InputLimits{}, pdf.status()).message();
}

TEST_CASE("pdf flags: option errors as the user sees them") {
  const std::string pdf = (test::SharedDir() / "media" / "pdf" / "forensics-a-text.pdf").string();
  CHECK(LoadError({"--pdf", pdf, "--dpi", "5"}) == "--dpi must be between 10 and 1200, got 5");
  CHECK(LoadError({"--pdf", pdf, "--dpi", "72x"}) == "--dpi expects an integer, got '72x'");
  CHECK(LoadError({"--pdf", pdf, "--max-pages", "0"}) == "--max-pages must be between 1 and 100000, got 0");
  CHECK(LoadError({"--pdf", pdf, "--pdf-max-tokens", "0"}) == "--pdf-max-tokens must be positive");
  if (!PdfSupportBuiltIn()) {
    MESSAGE("not run: " << PdfSupportNote());
    return;
  }
  CHECK(LoadError({"--pdf", pdf, "--pages", "3"}) == pdf + ": --pages: page 3 is past the end (the PDF has 2 pages)");
  CHECK(LoadError({"--pdf", pdf, "--pages", "1-2", "--max-pages", "1"}) == pdf + ": 2 pages selected, more than --max-pages 1");
  const std::string encrypted =
      (test::SharedDir() / "media" / "malformed" / "pdf" / "forensics-a-text-encrypted-pw-peanuts.pdf").string();
  CHECK(LoadError({"--pdf", encrypted}) ==
        encrypted + ": the PDF is encrypted and needs a password; none was given (give it with --password)");
  CHECK(LoadError({"--pdf", encrypted, "--password", "peanuts"}) == "OK");
}

}  // namespace
}  // namespace glmv::app
