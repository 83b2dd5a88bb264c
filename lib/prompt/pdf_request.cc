#include "lib/prompt/pdf_request.h"

#include <string_view>
#include <utility>

namespace glmv {
namespace {

std::string_view TrimBlank(std::string_view s) {
  constexpr std::string_view kBlank = " \t\r\n\f";
  const size_t begin = s.find_first_not_of(kBlank);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kBlank) - begin + 1);
}

}  // namespace

Result<PdfRequest> MakePdfRequest(LoadedPdf& pdf, size_t first, size_t last, const std::string& question) {
  PdfRequest out;
  GLMV_ASSIGN_OR_RETURN(out.pages, PreprocessPdfPages(pdf, first, last));
  for (size_t i = first; i < last; ++i) {
    const std::string number = std::to_string(pdf.page_numbers[i]);
    out.page_numbers.push_back(pdf.page_numbers[i]);
    out.parts.push_back({ChatContentPart::Type::kImage, ""});
    if (pdf.with_text) {
      const std::string_view text = TrimBlank(pdf.pages[i].text);
      out.parts.push_back({ChatContentPart::Type::kText, text.empty()
                                                             ? "(Page " + number + " has no text layer.)\n"
                                                             : "Text layer of page " + number + ":\n" +
                                                                   std::string(text) + "\n"});
    }
  }
  out.parts.push_back({ChatContentPart::Type::kText, question});
  return out;
}

}  // namespace glmv
