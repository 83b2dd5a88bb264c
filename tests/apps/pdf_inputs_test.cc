// --pdf options (apps/pdf_inputs.h): page lists. Option validation and a media PDF through LoadPdf and
// MakePdfRequest need ../shared/media: pdf_inputs_shared_test.cc.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/pdf_inputs.h"

namespace glmv::app {
namespace {

std::string Error(const Result<std::vector<int>>& r) { return r.ok() ? "OK" : r.status().message(); }

TEST_CASE("pdf inputs: page lists") {
  CHECK(ParsePageRanges("1-3,7", 10, 50).value() == std::vector<int>{1, 2, 3, 7});
  CHECK(ParsePageRanges(" 7 , 2-3 ", 10, 50).value() == std::vector<int>{7, 2, 3});
  CHECK(ParsePageRanges("8-", 10, 50).value() == std::vector<int>{8, 9, 10});
  CHECK(ParsePageRanges("", 3, 50).value() == std::vector<int>{1, 2, 3});
  CHECK(ParsePageRanges("4-4", 4, 50).value() == std::vector<int>{4});
  CHECK(Error(ParsePageRanges("0", 10, 50)) == "--pages: pages are numbered from 1");
  CHECK(Error(ParsePageRanges("11", 10, 50)) == "--pages: page 11 is past the end (the PDF has 10 pages)");
  CHECK(Error(ParsePageRanges("3-1", 10, 50)) == "--pages: the range 3-1 goes backwards");
  CHECK(Error(ParsePageRanges("1-3,2", 10, 50)) == "--pages: page 2 is listed twice");
  CHECK(Error(ParsePageRanges("1,,2", 10, 50)) == "--pages: '' is not a page number or a range like 2-5 or 7-");
  CHECK(Error(ParsePageRanges("a-b", 10, 50)) == "--pages: 'a-b' is not a page number or a range like 2-5 or 7-");
  CHECK(Error(ParsePageRanges("-3", 10, 50)) == "--pages: '-3' is not a page number or a range like 2-5 or 7-");
  CHECK(Error(ParsePageRanges("1-2-3", 10, 50)) != "OK");
  CHECK(Error(ParsePageRanges("99999999999999999999", 10, 50)) != "OK");
  CHECK(Error(ParsePageRanges("1-5", 10, 4)) == "5 pages selected, more than --max-pages 4");
  CHECK(Error(ParsePageRanges("", 75, 50)) ==
        "the PDF has 75 pages, more than --max-pages 50: choose some with --pages (e.g. --pages 1-50) or raise "
        "--max-pages");
  // A forged page count cannot make the list huge: the limit is checked before a range is expanded.
  CHECK(Error(ParsePageRanges("1-2000000000", 2000000000, 50)) == "2000000000 pages selected, more than --max-pages 50");
}

}  // namespace
}  // namespace glmv::app
