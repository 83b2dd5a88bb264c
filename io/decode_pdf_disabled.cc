// The PDF API in a build without MuPDF (meson -Dpdf=disabled, or MuPDF not found with -Dpdf=auto): every call
// answers with an error that names the input and says why, so `glmv run --pdf` fails clearly instead of
// the build failing or the option vanishing.
#include "io/decode_pdf.h"

#include <utility>

namespace glmv {

std::string PdfSupportNote() {
#if GLMV_PDF_DISABLED_BY_OPTION
  return "this build has no PDF support (built with -Dpdf=disabled)";
#else
  return "this build has no PDF support (MuPDF was not found when it was configured: install libmupdf-dev "
         "and reconfigure)";
#endif
}

bool PdfSupportBuiltIn() { return false; }

// Never constructed: Open* fail before making one.
struct PdfDocument::Impl {
  std::string name;
  std::vector<std::string> messages;
};

PdfDocument::PdfDocument(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PdfDocument::PdfDocument(PdfDocument&& other) noexcept = default;
PdfDocument& PdfDocument::operator=(PdfDocument&& other) noexcept = default;
PdfDocument::~PdfDocument() = default;

Result<PdfDocument> PdfDocument::OpenFile(const std::string& path, const std::string& password,
                                          const PdfLimits& limits) {
  return Status::Error(path + ": " + PdfSupportNote());
}

Result<PdfDocument> PdfDocument::OpenBytes(std::span<const uint8_t> bytes, const std::string& name_for_messages,
                                           const std::string& password, const PdfLimits& limits) {
  return Status::Error(name_for_messages + ": " + PdfSupportNote());
}

int PdfDocument::page_count() const { return 0; }
const std::string& PdfDocument::name() const { return impl_->name; }
const std::vector<std::string>& PdfDocument::messages() const { return impl_->messages; }
Result<PdfPage> PdfDocument::RenderPage(int number, const PdfRenderOptions& options) {
  return Status::Error(impl_->name + ": " + PdfSupportNote());
}

Result<DecodedPdf> DecodePdfFile(const std::string& path, const PdfDecodeOptions& options) {
  return Status::Error(path + ": " + PdfSupportNote());
}

Result<DecodedPdf> DecodePdfBytes(std::span<const uint8_t> bytes, const std::string& name_for_messages,
                                  const PdfDecodeOptions& options) {
  return Status::Error(name_for_messages + ": " + PdfSupportNote());
}

}  // namespace glmv
