// Shared by decode_pdf_test.cc and decode_pdf_shared_test.cc: what a decoded PDF must look like.
#pragma once

#include <string>

#include "io/decode_pdf.h"
#include "io/image.h"
#include "io/status.h"

namespace glmv::test {

// An error whose message starts with "name: " and says something, or pages of sane size.
void CheckErrorOrSane(const Result<DecodedPdf>& r, const std::string& name);

// Fraction of pixels that are not white: a rendered page of text or pictures has some.
double InkFraction(const RgbImage& image);

}  // namespace glmv::test
