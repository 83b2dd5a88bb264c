#include "io/decode_jpeg.h"

#include <algorithm>
#include <chrono>
#include <csetjmp>
#include <cstdio>  // jpeglib.h uses FILE and size_t without including their headers
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

// jpeglib.h first: jerror.h's list of codes depends on the version macros it defines.
#include <jpeglib.h>
#include <jerror.h>

#include "io/exif.h"

namespace glmv {
namespace {

// A progressive JPEG may legally carry any number of scans, and each one makes libjpeg walk the whole
// coefficient buffer: a small hostile file with 100k tiny scans runs for minutes. Real encoders emit about
// 10; libjpeg-turbo's own fuzz targets stop at 500 (TJPARAM_SCANLIMIT).
constexpr int kMaxScans = 500;

enum class Failure { kNone, kError, kTruncated, kCorrupt, kTooManyScans, kTimeUp };

using Clock = std::chrono::steady_clock;

// Everything libjpeg touches for one decode. libjpeg reports errors through callbacks that cannot return, so
// they longjmp back to the setjmp in ReadHeader/ReadRows. longjmp must not skip a C++ destructor, so those two
// functions and the callbacks keep only plain data here and on their stacks; C++ objects live in DecodeJpeg.
struct JpegJob {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  jpeg_progress_mgr progress;
  std::jmp_buf jump;
  bool created = false;
  Clock::time_point deadline;  // DecodeLimits::max_seconds from the start
  double max_seconds = 0;
  Failure failure = Failure::kNone;
  char message[JMSG_LENGTH_MAX + 64] = {};
};

JpegJob* JobOf(j_common_ptr cinfo) { return static_cast<JpegJob*>(cinfo->client_data); }

[[noreturn]] void Fail(j_common_ptr cinfo, Failure failure) {
  JpegJob* job = JobOf(cinfo);
  job->failure = failure;
  (*cinfo->err->format_message)(cinfo, job->message);
  std::longjmp(job->jump, 1);
}

// Replaces libjpeg's default, which prints and calls exit().
[[noreturn]] void OnError(j_common_ptr cinfo) { Fail(cinfo, Failure::kError); }

// Warnings (level -1) about missing or unusable entropy data mean libjpeg is about to paint grey or garbage
// where the picture should be; stopping at the first one also keeps a truncated huge file from running for
// minutes. Other warnings and all trace messages are ignored, as Pillow ignores them (it prints nothing).
void OnMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
      Fail(cinfo, Failure::kTruncated);
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
#if JPEG_LIB_VERSION >= 70 || defined(D_ARITH_CODING_SUPPORTED)  // the condition jerror.h declares it under
    case JWRN_ARITH_BAD_CODE:
#endif
    case JWRN_MUST_RESYNC:
      Fail(cinfo, Failure::kCorrupt);
    default:
      return;
  }
}

// libjpeg calls this once per row group while decoding and once per iMCU row while it reads a progressive
// file's scans, so both limits are checked often enough to stop hostile work early.
void OnProgress(j_common_ptr cinfo) {
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  JpegJob* job = JobOf(cinfo);
  if (d->input_scan_number > kMaxScans) {
    job->failure = Failure::kTooManyScans;
    std::snprintf(job->message, sizeof(job->message), "more than %d progressive scans", kMaxScans);
    std::longjmp(job->jump, 1);
  }
  if (Clock::now() > job->deadline) {
    job->failure = Failure::kTimeUp;
    std::snprintf(job->message, sizeof(job->message), "decoding took longer than %g s (DecodeLimits::max_seconds)",
                  job->max_seconds);
    std::longjmp(job->jump, 1);
  }
}

// Parses markers up to the first scan. Returns false with job->failure set on any libjpeg error.
bool ReadHeader(JpegJob* job, const uint8_t* data, size_t size) {
  job->cinfo.err = jpeg_std_error(&job->err);
  job->err.error_exit = OnError;
  job->err.emit_message = OnMessage;
  job->cinfo.client_data = job;
  if (setjmp(job->jump)) return false;
  jpeg_create_decompress(&job->cinfo);
  job->created = true;
  job->progress.progress_monitor = OnProgress;
  job->cinfo.progress = &job->progress;
  jpeg_mem_src(&job->cinfo, data, static_cast<unsigned long>(size));
  jpeg_save_markers(&job->cinfo, JPEG_APP0 + 1, 0xFFFF);  // APP1: Exif (and XMP, unused)
  jpeg_read_header(&job->cinfo, TRUE);
  return true;
}

// Pillow's CMYK path: the "CMYK;I" unpacker inverts what libjpeg returns (Adobe stores inverted ink), then
// Convert.c cmyk2rgb computes 255 - k - c * (255 - k) / 255 with MULDIV255 rounding.
inline uint8_t CmykChannel(uint8_t stored_ink, uint8_t stored_k) {
  const int c = 255 - stored_ink;
  const int nk = stored_k;  // 255 - (255 - stored_k)
  const int tmp = c * nk + 128;
  return static_cast<uint8_t>(nk - (((tmp >> 8) + tmp) >> 8));
}

// Decodes every row into `pixels` ([height][width][3], sized by the caller from the header). `cmyk_row`
// holds width * 4 bytes for four-component files. Returns false with job->failure set on failure.
bool ReadRows(JpegJob* job, uint8_t* pixels, uint8_t* cmyk_row) {
  if (setjmp(job->jump)) return false;
  jpeg_decompress_struct& cinfo = job->cinfo;
  const JDIMENSION width = cinfo.image_width;
  const JDIMENSION height = cinfo.image_height;
  jpeg_start_decompress(&cinfo);
  if (cinfo.output_width != width || cinfo.output_height != height) {
    job->failure = Failure::kError;
    std::snprintf(job->message, sizeof(job->message), "output size differs from the header");
    return false;
  }
  const int components = cinfo.output_components;
  while (cinfo.output_scanline < height) {
    uint8_t* row = pixels + static_cast<size_t>(cinfo.output_scanline) * width * 3;
    JSAMPROW target = components == 4 ? cmyk_row : row;
    if (jpeg_read_scanlines(&cinfo, &target, 1) != 1) {
      job->failure = Failure::kTruncated;  // only a suspending source stops early; ours never suspends
      std::snprintf(job->message, sizeof(job->message), "decoder returned no row");
      return false;
    }
    if (components == 1) {
      for (JDIMENSION x = width; x-- > 0;) row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = row[x];
    } else if (components == 4) {
      for (JDIMENSION x = 0; x < width; ++x) {
        const uint8_t* in = cmyk_row + 4 * x;
        row[3 * x + 0] = CmykChannel(in[0], in[3]);
        row[3 * x + 1] = CmykChannel(in[1], in[3]);
        row[3 * x + 2] = CmykChannel(in[2], in[3]);
      }
    }
  }
  // No jpeg_finish_decompress: Pillow reports success once every row is out, so junk after the last scan
  // where EOI should be is accepted. (A file cut just before EOI still fails above: the Huffman decoder reads
  // ahead into the marker.)
  return true;
}

// Owns the libjpeg state so that every return path releases it.
class JpegJobHolder {
 public:
  JpegJobHolder() = default;
  JpegJobHolder(const JpegJobHolder&) = delete;
  JpegJobHolder& operator=(const JpegJobHolder&) = delete;
  ~JpegJobHolder() {
    if (job_.created) jpeg_destroy_decompress(&job_.cinfo);
  }
  JpegJob* get() { return &job_; }

 private:
  JpegJob job_;
};

Status JobError(const JpegJob& job, const std::string& name) {
  std::string what;
  switch (job.failure) {
    case Failure::kTruncated: what = "truncated JPEG: the data ends before the image is complete"; break;
    case Failure::kCorrupt: what = "corrupt JPEG data"; break;
    case Failure::kTooManyScans: what = "JPEG refused"; break;
    case Failure::kTimeUp: return Status::Error(name + ": JPEG refused: " + job.message);
    default: what = "invalid JPEG"; break;
  }
  return Status::Error(name + ": " + what + " (" + job.message + ")");
}

// Pillow 9.4 takes the first APP1 segment that starts with "Exif\0" as the image's EXIF data.
std::optional<uint32_t> FindOrientation(const jpeg_decompress_struct& cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m != nullptr; m = m->next) {
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 5 && std::memcmp(m->data, "Exif\0", 5) == 0) {
      return ExifOrientation({m->data, m->data_length});
    }
  }
  return std::nullopt;
}

}  // namespace

Result<RgbImage> DecodeJpeg(std::span<const uint8_t> bytes, const std::string& name, const DecodeLimits& limits) {
  JpegJobHolder holder;
  JpegJob* job = holder.get();
  job->max_seconds = limits.max_seconds;
  job->deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(std::clamp(limits.max_seconds, 0.0, 1e7)));
  if (!ReadHeader(job, bytes.data(), bytes.size())) return JobError(*job, name);

  jpeg_decompress_struct& cinfo = job->cinfo;
  const uint64_t width = cinfo.image_width;
  const uint64_t height = cinfo.image_height;
  if (width == 0 || height == 0) return Status::Error(name + ": invalid JPEG (empty image)");
  if (width * height > limits.max_pixels) {
    return Status::Error(name + ": JPEG is " + std::to_string(width) + "x" + std::to_string(height) + " = " +
                         std::to_string(width * height) + " pixels, over the limit of " +
                         std::to_string(limits.max_pixels) + " (DecodeLimits::max_pixels)");
  }
  switch (cinfo.num_components) {
    case 1: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case 3: cinfo.out_color_space = JCS_RGB; break;  // libjpeg tells YCbCr from RGB by JFIF/Adobe/component ids
    case 4: cinfo.out_color_space = JCS_CMYK; break;  // YCCK is converted to CMYK by libjpeg
    default:
      return Status::Error(name + ": unsupported JPEG with " + std::to_string(cinfo.num_components) +
                           " colour components (1, 3 and 4 are decoded)");
  }
  // libjpeg's defaults, which are what Pillow decodes with; spelled out because the golden pixels depend on them.
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  cinfo.do_block_smoothing = TRUE;
  cinfo.scale_num = cinfo.scale_denom = 1;

  RgbImage image = RgbImage::Black(static_cast<int>(width), static_cast<int>(height));
  std::vector<uint8_t> cmyk_row(cinfo.num_components == 4 ? width * 4 : 0);
  if (!ReadRows(job, image.pixels.data(), cmyk_row.data())) return JobError(*job, name);
  return ApplyExifOrientation(std::move(image), FindOrientation(cinfo).value_or(1));
}

}  // namespace glmv
