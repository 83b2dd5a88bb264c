// PDF through MuPDF 1.21 (compiled only when meson finds it; see io/decode_pdf.h for the contract).
//
// MuPDF reports errors with setjmp/longjmp (fz_try/fz_catch). A longjmp must not skip a C++ destructor, so the
// fz_try bodies below hold MuPDF calls only; strings, vectors and guards live outside them. Locals written
// inside a fz_try and read after it are marked fz_var (setjmp may otherwise restore a stale register copy).
#include "io/decode_pdf.h"

#include <mupdf/fitz.h>
#include <mupdf/pdf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include "io/mapped_file.h"

namespace glmv {
namespace {

// ---- MuPDF's heap, capped: a file that makes MuPDF allocate without bound gets "malloc failed" instead. ----

struct HeapCap {
  uint64_t limit = 0;
  uint64_t used = 0;
  bool refused = false;  // an allocation hit the limit since this was last cleared
};

constexpr size_t kHeader = 16;  // holds the block's capacity and keeps malloc's 16-byte alignment

size_t CapacityOf(const char* block) {
  size_t capacity;
  std::memcpy(&capacity, block, sizeof capacity);
  return capacity;
}

void* CapMalloc(void* user, size_t size) {
  auto* cap = static_cast<HeapCap*>(user);
  if (size > cap->limit - cap->used) {  // used <= limit always holds
    cap->refused = true;
    return nullptr;
  }
  auto* block = static_cast<char*>(std::malloc(size + kHeader));
  if (block == nullptr) return nullptr;
  std::memcpy(block, &size, sizeof size);
  cap->used += size;
  return block + kHeader;
}

void CapFree(void* user, void* ptr) {
  if (ptr == nullptr) return;
  char* block = static_cast<char*>(ptr) - kHeader;
  static_cast<HeapCap*>(user)->used -= CapacityOf(block);
  std::free(block);
}

// MuPDF grows some arrays by a constant step (a text span by 36 glyphs per realloc), so each growth copies the
// whole array wherever realloc cannot extend in place (always under ASan; in glibc below its mmap threshold):
// one page showing a 300 000-glyph string ran for minutes (found by fuzzing). Blocks therefore grow by half
// at least, which makes such growth linear; the spare capacity counts against the cap like the rest.
void* CapRealloc(void* user, void* ptr, size_t size) {
  if (ptr == nullptr) return CapMalloc(user, size);
  auto* cap = static_cast<HeapCap*>(user);
  char* block = static_cast<char*>(ptr) - kHeader;
  const size_t capacity = CapacityOf(block);
  if (size <= capacity && size >= capacity / 4) return ptr;  // fits; a small shrink is not worth a copy
  size_t want = size > capacity ? std::max(size, capacity + capacity / 2) : size;
  if (want > capacity && want - capacity > cap->limit - cap->used) want = size;  // exact size may still fit
  if (want > capacity && want - capacity > cap->limit - cap->used) {
    cap->refused = true;
    return nullptr;
  }
  auto* grown = static_cast<char*>(std::realloc(block, want + kHeader));
  if (grown == nullptr) return nullptr;
  std::memcpy(grown, &want, sizeof want);
  cap->used = cap->used - capacity + want;
  return grown + kHeader;
}

// MuPDF hands OpenJPEG and HarfBuzz the current context through globals (opj_secret, fz_hb_secret), guarded by
// fz_lock. With MuPDF's default no-op locks, two documents rendering in two threads race on them, so every
// context gets the same process-wide mutexes.
std::mutex& MupdfMutex(int lock) {
  static std::mutex mutexes[FZ_LOCK_MAX];
  return mutexes[lock];
}
void LockMupdf(void*, int lock) { MupdfMutex(lock).lock(); }
void UnlockMupdf(void*, int lock) { MupdfMutex(lock).unlock(); }

// MuPDF's cache of decoded fonts and images; it is emptied before an allocation fails at the cap.
constexpr size_t kStoreBytes = size_t{128} << 20;
constexpr size_t kMaxMessages = 100;

// Sets the cookie's abort flag when a page takes too long; MuPDF polls it between content-stream operators
// and display-list items. Destroying the watchdog stops it.
class Watchdog {
 public:
  Watchdog(fz_cookie* cookie, double seconds)
      : thread_([this, cookie, seconds] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!done_cv_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return done_; })) {
            std::atomic_ref<int>(cookie->abort).store(1);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts after the members it uses exist
};

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

struct PdfDocument::Impl {
  std::string name;
  std::vector<uint8_t> bytes;  // MuPDF reads the document from here for as long as it is open
  PdfLimits limits;
  HeapCap heap;
  std::vector<std::string> messages;
  double seconds_spent = 0;  // in Render, all pages so far
  int page_count = 0;
  fz_context* ctx = nullptr;
  fz_stream* stream = nullptr;
  fz_document* doc = nullptr;

  ~Impl() {
    if (ctx == nullptr) return;
    fz_drop_document(ctx, doc);
    fz_drop_stream(ctx, stream);
    fz_drop_context(ctx);
  }

  // MuPDF calls these from C; they must not throw.
  static void OnWarning(void* user, const char* message) noexcept {
    static_cast<Impl*>(user)->Note("warning", message);
  }
  static void OnError(void* user, const char* message) noexcept { static_cast<Impl*>(user)->Note("error", message); }
  void Note(const char* kind, const char* message) noexcept {
    try {
      if (messages.size() < kMaxMessages) messages.push_back(std::string(kind) + ": " + message);
    } catch (...) {  // out of memory while noting a warning: the note is lost, nothing else
    }
  }

  // The message of the error just caught. MuPDF reports a refused allocation in its own words ("malloc
  // failed", "inflateInit2 failed"), so the cause is added when the heap cap refused one.
  std::string Caught() const {
    std::string message = fz_caught_message(ctx);
    if (heap.refused) {
      message += " (MuPDF reached its memory limit of " + std::to_string(limits.max_library_bytes >> 20) +
                 " MB, PdfLimits::max_library_bytes)";
    }
    return message;
  }

  Status Open(const std::string& password);
  Result<PdfPage> Render(int number, const PdfRenderOptions& options);
};

Status PdfDocument::Impl::Open(const std::string& password) {
  if (bytes.empty()) return Status::Error(name + ": empty file, not a PDF");
  if (!LooksLikePdf(bytes)) return Status::Error(name + ": not a PDF (no %PDF- header in the first 1024 bytes)");
  heap.limit = limits.max_library_bytes;
  const fz_alloc_context alloc = {&heap, CapMalloc, CapRealloc, CapFree};
  const fz_locks_context locks = {nullptr, LockMupdf, UnlockMupdf};
  ctx = fz_new_context(&alloc, &locks, kStoreBytes);
  if (ctx == nullptr) return Status::Error(name + ": cannot start MuPDF (out of memory)");
  fz_set_warning_callback(ctx, &Impl::OnWarning, this);
  fz_set_error_callback(ctx, &Impl::OnError, this);

  int needs_password = 0;
  int authenticated = 0;
  fz_var(needs_password);
  fz_var(authenticated);
  fz_try(ctx) {
    stream = fz_open_memory(ctx, bytes.data(), bytes.size());
    // Straight to the PDF handler: no other document type (XPS, EPUB, HTML, images) is linked or tried.
    doc = &pdf_open_document_with_stream(ctx, stream)->super;
    needs_password = fz_needs_password(ctx, doc);
    if (needs_password && !password.empty()) authenticated = fz_authenticate_password(ctx, doc, password.c_str());
    if (!needs_password || authenticated) page_count = fz_count_pages(ctx, doc);
  }
  fz_catch(ctx) { return Status::Error(name + ": cannot read the PDF: " + Caught()); }
  if (needs_password && password.empty()) {
    return Status::Error(name + ": the PDF is encrypted and needs a password; none was given");
  }
  if (needs_password && !authenticated) return Status::Error(name + ": wrong password for the encrypted PDF");
  if (page_count <= 0) {  // after a repair this usually means the file is cut before its pages
    return Status::Error(name + ": the PDF has no pages" +
                         (messages.empty() ? std::string() : " (damaged; MuPDF: " + messages.front() + ")"));
  }
  return Status::Ok();
}

Result<PdfPage> PdfDocument::Impl::Render(int number, const PdfRenderOptions& options) {
  const std::string where = name + ": page " + std::to_string(number);
  if (number < 1 || number > page_count) {
    return Status::Error(where + " does not exist (the PDF has " + std::to_string(page_count) + " pages)");
  }
  if (!(options.dpi >= 0) || !(options.max_auto_dpi > 0) || options.target_pixels == 0) {
    return Status::Error(where + ": bad render options (dpi " + Fixed(options.dpi, 1) + ", max_auto_dpi " +
                         Fixed(options.max_auto_dpi, 1) + ", target_pixels " + std::to_string(options.target_pixels) +
                         ")");
  }
  const double seconds_left = limits.max_total_seconds - seconds_spent;
  if (seconds_left <= 0) {
    return Status::Error(where + ": the document's render time limit of " + Fixed(limits.max_total_seconds, 0) +
                         " s is used up (PdfLimits::max_total_seconds)");
  }
  const double allowed = std::min(limits.max_page_seconds, seconds_left);
  heap.refused = false;
  const auto start = std::chrono::steady_clock::now();

  fz_page* page = nullptr;
  fz_display_list* list = nullptr;
  fz_device* device = nullptr;
  fz_rect bounds = fz_empty_rect;
  fz_cookie cookie = {};
  fz_var(page);
  fz_var(list);
  fz_var(device);
  // Outside every fz_try: however this function ends, the page is released and its time counts against the
  // document's limit (failed and aborted pages too).
  struct PageScope {
    Impl* impl;
    fz_page** page;
    fz_display_list** list;
    std::chrono::steady_clock::time_point start;
    ~PageScope() {
      fz_drop_display_list(impl->ctx, *list);
      fz_drop_page(impl->ctx, *page);
      impl->seconds_spent += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  } scope{this, &page, &list, start};
  Watchdog watchdog(&cookie, allowed);
  const auto timed_out = [&] {
    if (allowed < limits.max_page_seconds) {
      return Status::Error(where + ": rendering ran past the document's time limit of " +
                           Fixed(limits.max_total_seconds, 1) + " s (PdfLimits::max_total_seconds)");
    }
    return Status::Error(where + ": rendering took longer than " + Fixed(allowed, 1) +
                         " s (PdfLimits::max_page_seconds)");
  };

  // Record the page once into a display list; rendering and text extraction both replay it.
  fz_try(ctx) {
    page = fz_load_page(ctx, doc, number - 1);
    bounds = fz_bound_page(ctx, page);
    list = fz_new_display_list(ctx, bounds);
    device = fz_new_list_device(ctx, list);
    fz_run_page(ctx, page, device, fz_identity, &cookie);
    fz_close_device(ctx, device);
  }
  fz_always(ctx) {
    fz_drop_device(ctx, device);
    device = nullptr;
  }
  fz_catch(ctx) { return Status::Error(where + ": cannot read the page: " + Caught()); }
  if (cookie.abort) return timed_out();

  PdfPage out;
  out.number = number;
  out.width_pt = bounds.x1 - bounds.x0;
  out.height_pt = bounds.y1 - bounds.y0;
  if (!std::isfinite(out.width_pt) || !std::isfinite(out.height_pt) || out.width_pt <= 0 || out.height_pt <= 0) {
    return Status::Error(where + ": the page box is empty or invalid (" + Fixed(out.width_pt, 1) + " x " +
                         Fixed(out.height_pt, 1) + " pt)");
  }
  // Pixel size at a DPI, as MuPDF will round it; computed in double first so a forged page box cannot overflow.
  const auto pixels_at = [&](double dpi, fz_irect* bbox) -> double {
    const double w = std::ceil(out.width_pt * dpi / 72) + 1, h = std::ceil(out.height_pt * dpi / 72) + 1;
    if (w * h > 4e18 || w > 1e9 || h > 1e9) return w * h;
    *bbox = fz_round_rect(fz_transform_rect(bounds, fz_scale(float(dpi / 72), float(dpi / 72))));
    return double(bbox->x1 - bbox->x0) * double(bbox->y1 - bbox->y0);
  };
  fz_irect bbox = fz_empty_irect;
  double dpi = options.dpi;
  if (dpi == 0) {
    dpi =
        std::min(options.max_auto_dpi, 72 * std::sqrt(double(options.target_pixels) / (out.width_pt * out.height_pt)));
    // Rounding up to whole pixels can overshoot the budget by a row or column: step down until it fits.
    for (int i = 0; i < 200 && pixels_at(dpi, &bbox) > double(options.target_pixels); ++i) dpi *= 0.995;
  }
  const double pixels = pixels_at(dpi, &bbox);
  if (pixels > double(limits.max_pixels_per_page)) {
    return Status::Error(where + ": " + Fixed(out.width_pt, 0) + " x " + Fixed(out.height_pt, 0) + " pt at " +
                         Fixed(dpi, 1) + " dpi is " + Fixed(pixels / 1e6, 1) + " M pixels, over the limit of " +
                         Fixed(double(limits.max_pixels_per_page) / 1e6, 1) + " M (PdfLimits::max_pixels_per_page)");
  }
  const int width = bbox.x1 - bbox.x0, height = bbox.y1 - bbox.y0;
  if (width <= 0 || height <= 0) {
    return Status::Error(where + ": rendering at " + Fixed(dpi, 2) + " dpi gives no pixels (the page is " +
                         Fixed(out.width_pt, 2) + " x " + Fixed(out.height_pt, 2) + " pt)");
  }
  out.dpi = dpi;
  out.image.width = width;
  out.image.height = height;
  out.image.pixels.resize(size_t(width) * size_t(height) * 3);
  const fz_matrix ctm = fz_scale(float(dpi / 72), float(dpi / 72));

  // MuPDF draws straight into the image's memory: an RGB pixmap without alpha is the same row-major layout.
  fz_pixmap* pixmap = nullptr;
  fz_var(pixmap);
  fz_try(ctx) {
    pixmap = fz_new_pixmap_with_bbox_and_data(ctx, fz_device_rgb(ctx), bbox, nullptr, 0, out.image.pixels.data());
    fz_clear_pixmap_with_value(ctx, pixmap, 255);
    device = fz_new_draw_device(ctx, fz_identity, pixmap);
    fz_run_display_list(ctx, list, device, ctm, fz_infinite_rect, &cookie);
    fz_close_device(ctx, device);
  }
  fz_always(ctx) {
    fz_drop_device(ctx, device);
    device = nullptr;
    fz_drop_pixmap(ctx, pixmap);
  }
  fz_catch(ctx) { return Status::Error(where + ": cannot render the page: " + Caught()); }
  if (cookie.abort) return timed_out();

  if (options.extract_text) {
    fz_stext_page* text_page = nullptr;
    fz_buffer* buffer = nullptr;
    fz_var(text_page);
    fz_var(buffer);
    // Text outside the page box is not on the page the model sees. No FZ_STEXT_DEHYPHENATE: in MuPDF 1.21 it
    // leaks the fonts of a joined line (ASan, nbsphinx-manual.pdf page 75), and the model reads hyphens anyway.
    const fz_stext_options text_options = {FZ_STEXT_MEDIABOX_CLIP, 1.0f};
    fz_try(ctx) {
      text_page = fz_new_stext_page(ctx, bounds);
      device = fz_new_stext_device(ctx, text_page, &text_options);
      fz_run_display_list(ctx, list, device, fz_identity, fz_infinite_rect, &cookie);
      fz_close_device(ctx, device);
      buffer = fz_new_buffer_from_stext_page(ctx, text_page);
    }
    fz_always(ctx) {
      fz_drop_device(ctx, device);
      device = nullptr;
      fz_drop_stext_page(ctx, text_page);
    }
    fz_catch(ctx) {
      fz_drop_buffer(ctx, buffer);
      return Status::Error(where + ": cannot extract the text: " + Caught());
    }
    unsigned char* data = nullptr;
    const size_t size = fz_buffer_storage(ctx, buffer, &data);
    out.text.assign(reinterpret_cast<const char*>(data), size);
    fz_drop_buffer(ctx, buffer);
    if (cookie.abort) return timed_out();
  }
  if (cookie.errors > 0) {
    Note("warning", ("page " + std::to_string(number) + ": " + std::to_string(cookie.errors) +
                     " errors while drawing; parts of the page may be missing")
                        .c_str());
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

PdfDocument::PdfDocument(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PdfDocument::PdfDocument(PdfDocument&& other) noexcept = default;
PdfDocument& PdfDocument::operator=(PdfDocument&& other) noexcept = default;
PdfDocument::~PdfDocument() = default;

Result<PdfDocument> PdfDocument::OpenBytes(std::span<const uint8_t> bytes, const std::string& name_for_messages,
                                           const std::string& password, const PdfLimits& limits) {
  if (bytes.size() > limits.max_bytes) {
    return Status::Error(name_for_messages + ": " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                         std::to_string(limits.max_bytes) + " (PdfLimits::max_bytes)");
  }
  auto impl = std::make_unique<Impl>();
  impl->name = name_for_messages;
  impl->bytes.assign(bytes.begin(), bytes.end());
  impl->limits = limits;
  GLMV_RETURN_IF_ERROR(impl->Open(password));
  return PdfDocument(std::move(impl));
}

Result<PdfDocument> PdfDocument::OpenFile(const std::string& path, const std::string& password,
                                          const PdfLimits& limits) {
  // Mapping reads nothing yet, so OpenBytes refuses an oversized file before its bytes are touched.
  GLMV_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  return OpenBytes(file.bytes(), path, password, limits);
}

int PdfDocument::page_count() const { return impl_->page_count; }
const std::string& PdfDocument::name() const { return impl_->name; }
const std::vector<std::string>& PdfDocument::messages() const { return impl_->messages; }
Result<PdfPage> PdfDocument::RenderPage(int number, const PdfRenderOptions& options) {
  return impl_->Render(number, options);
}

namespace {

Result<DecodedPdf> RenderRequested(PdfDocument doc, const PdfDecodeOptions& options) {
  DecodedPdf out;
  out.page_count = doc.page_count();
  // Checked before listing every page: a forged /Count can claim two billion of them.
  const size_t requested = options.pages.empty() ? size_t(doc.page_count()) : options.pages.size();
  if (requested > size_t(std::max(options.limits.max_pages, 0))) {
    return Status::Error(doc.name() + ": " + std::to_string(requested) + " pages requested, over the limit of " +
                         std::to_string(options.limits.max_pages) + " per document (PdfLimits::max_pages)");
  }
  std::vector<int> pages = options.pages;
  if (pages.empty()) {
    for (int i = 1; i <= doc.page_count(); ++i) pages.push_back(i);
  }
  for (int number : pages) {
    if (number < 1 || number > doc.page_count()) {
      return Status::Error(doc.name() + ": page " + std::to_string(number) + " does not exist (the PDF has " +
                           std::to_string(doc.page_count()) + " pages)");
    }
  }
  for (int number : pages) {
    GLMV_ASSIGN_OR_RETURN(PdfPage page, doc.RenderPage(number, options.render));
    out.pages.push_back(std::move(page));
  }
  out.messages = doc.messages();
  return out;
}

}  // namespace

Result<DecodedPdf> DecodePdfFile(const std::string& path, const PdfDecodeOptions& options) {
  GLMV_ASSIGN_OR_RETURN(PdfDocument doc, PdfDocument::OpenFile(path, options.password, options.limits));
  return RenderRequested(std::move(doc), options);
}

Result<DecodedPdf> DecodePdfBytes(std::span<const uint8_t> bytes, const std::string& name_for_messages,
                                  const PdfDecodeOptions& options) {
  GLMV_ASSIGN_OR_RETURN(PdfDocument doc,
                        PdfDocument::OpenBytes(bytes, name_for_messages, options.password, options.limits));
  return RenderRequested(std::move(doc), options);
}

bool PdfSupportBuiltIn() { return true; }
std::string PdfSupportNote() { return "PDF support: MuPDF " FZ_VERSION; }

}  // namespace glmv
