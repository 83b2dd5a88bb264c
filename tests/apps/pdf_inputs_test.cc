// --pdf options (apps/pdf_inputs.h): the flags as lib's PdfOptions. Page lists and the options' ranges are
// lib/media's (tests/lib/pdf_inputs_test.cc); their errors in the flags' words: media_inputs_test.cc. A media
// PDF through the flags needs ../shared/media: pdf_inputs_shared_test.cc.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/pdf_inputs.h"

namespace glmv::app {
namespace {

Result<Args> ParseArgs(std::vector<std::string> words) {
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  return Args::Parse(PdfOptionSpecs(), static_cast<int>(argv.size()), argv.data(), 0);
}

TEST_CASE("pdf flags: parsed into PdfOptions") {
  auto args = ParseArgs({"--pdf", "a.pdf", "--pages", "2,1", "--dpi", "150", "--password", "peanuts", "--per-page",
                         "--with-text", "--max-pages", "7", "--pdf-max-tokens", "900"});
  REQUIRE(args.ok());
  auto o = PdfOptionsFromArgs(*args);
  REQUIRE_MESSAGE(o.ok(), o.status().message());
  CHECK(o->pages == "2,1");
  REQUIRE(o->dpi.has_value());
  CHECK(*o->dpi == 150);
  CHECK(o->password == "peanuts");
  CHECK(o->per_page);
  CHECK(o->with_text);
  CHECK(o->max_pages == 7);
  CHECK(o->max_tokens == 900);

  auto defaults_args = ParseArgs({"--pdf", "a.pdf"});
  REQUIRE(defaults_args.ok());
  auto d = PdfOptionsFromArgs(*defaults_args);
  REQUIRE(d.ok());
  CHECK(d->pages.empty());
  CHECK(!d->dpi.has_value());  // automatic, per page
  CHECK(!d->per_page);
  CHECK(!d->with_text);
  CHECK(d->max_pages == PdfOptions{}.max_pages);
  CHECK(d->max_tokens == kDefaultPdfMaxTokens);

  auto bad = ParseArgs({"--dpi", "72x"});
  REQUIRE(bad.ok());
  CHECK(PdfOptionsFromArgs(*bad).status().message() == "--dpi expects an integer, got '72x'");
  // Ranges are lib's to check, when the PDF is loaded: parsing keeps the value.
  auto zero = ParseArgs({"--max-pages", "0"});
  REQUIRE(zero.ok());
  CHECK(PdfOptionsFromArgs(*zero)->max_pages == 0);
}

}  // namespace
}  // namespace glmv::app
