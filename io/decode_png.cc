#include "io/decode_png.h"

#include <algorithm>
#include <chrono>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <png.h>

#include "io/exif.h"

namespace glmv {
namespace {

enum class Stage { kHeader, kTooBig, kReady };

using Clock = std::chrono::steady_clock;

constexpr png_alloc_size_t kMaxAncillaryChunkBytes = png_alloc_size_t{64} << 20;

// Everything libpng touches for one decode. libpng reports errors by longjmp to the setjmp in ReadHeader or
// ReadRows; longjmp must not skip a C++ destructor, so those functions and the callbacks hold only plain
// data; C++ objects live in DecodePng.
struct PngJob {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  bool truncated = false;
  bool timed_out = false;
  Clock::time_point deadline;  // DecodeLimits::max_seconds from the start
  double max_seconds = 0;
  bool rows_done = false;  // every row is in; only the chunks up to IEND remain
  char message[256] = {};
  // From IHDR.
  png_uint_32 width = 0;
  png_uint_32 height = 0;
  int bit_depth = 0;
  int color_type = 0;
  // What ReadHeader set up: bytes per pixel in the rows libpng hands back (1: grey or palette index, 2: 16-bit
  // grey, 3: RGB).
  int out_bytes_per_pixel = 0;
};

// Replaces libpng's default, which prints to stderr before jumping.
[[noreturn]] void OnError(png_structp png, png_const_charp message) {
  auto* job = static_cast<PngJob*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof(job->message), "%s", message);
  png_longjmp(png, 1);
}

// Warnings cover ancillary trouble libpng has already worked around (a bad iCCP profile, a duplicate chunk);
// Pillow ignores such chunks too, so they are dropped rather than printed. One is not harmless: libpng reports
// a chunk longer than its chunk limit as a "benign" error (a warning when reading) and then allocates and
// clears the declared length anyway, so a 228-byte file declaring a 2 GB tEXt chunk made it clear 2 GB (found
// by fuzzing). That one becomes an error.
void OnWarning(png_structp png, png_const_charp message) {
  if (std::strstr(message, "chunk data is too large") != nullptr) png_error(png, message);
}

void ReadFromMemory(png_structp png, png_bytep out, size_t count) {
  auto* job = static_cast<PngJob*>(png_get_io_ptr(png));
  if (count > job->size - job->pos) {
    job->truncated = true;
    png_error(png, "the file ends early");
  }
  std::memcpy(out, job->data + job->pos, count);
  job->pos += count;
}

// libpng calls this after every row (of every Adam7 pass): a file made to be slow stops at the deadline.
void OnRow(png_structp png, png_uint_32, int) {
  auto* job = static_cast<PngJob*>(png_get_io_ptr(png));
  if (Clock::now() > job->deadline) {
    job->timed_out = true;
    png_error(png, "time limit");
  }
}

// Reads the chunks before the image data and sets up the conversions. Returns false on a libpng error;
// leaves kTooBig when the picture is over the pixel limit (nothing large has been allocated by then).
bool ReadHeader(PngJob* job, uint64_t max_pixels, Stage* stage) {
  png_structp png = job->png;
  png_infop info = job->info;
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, job, ReadFromMemory);
  png_set_read_status_fn(png, OnRow);
  // A CRC mismatch in any chunk is an error: libpng would otherwise drop a damaged ancillary chunk silently,
  // and Pillow rejects those files too.
  png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
  png_set_option(png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);  // profiles are ignored anyway
  // The longest ancillary chunk (OnWarning makes a longer one an error): Pillow keeps up to 64 MB of text
  // (MAX_TEXT_MEMORY), more than libpng's default of 8 MB. Image data (IDAT) has its own bound from IHDR.
  png_set_chunk_malloc_max(png, kMaxAncillaryChunkBytes);
  png_read_info(png, info);
  int interlace = 0;
  png_get_IHDR(png, info, &job->width, &job->height, &job->bit_depth, &job->color_type, &interlace, nullptr,
               nullptr);
  if (uint64_t{job->width} * job->height > max_pixels) {
    *stage = Stage::kTooBig;
    return true;
  }
  const int depth = job->bit_depth;
  switch (job->color_type) {
    case PNG_COLOR_TYPE_GRAY:
      if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);  // scaled (x255, x85, x17), as Pillow's L;2 and L;4
      job->out_bytes_per_pixel = depth == 16 ? 2 : 1;     // 16-bit grey is clipped by us, see the header
      break;
    case PNG_COLOR_TYPE_PALETTE:
      if (depth < 8) png_set_packing(png);  // one index per byte, looked up by us so bad indices are caught
      job->out_bytes_per_pixel = 1;
      break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      if (depth == 16) png_set_strip_16(png);  // high byte, as Pillow's LA;16B unpacker
      png_set_strip_alpha(png);
      job->out_bytes_per_pixel = 1;
      break;
    case PNG_COLOR_TYPE_RGB:
    case PNG_COLOR_TYPE_RGB_ALPHA:
      if (depth == 16) png_set_strip_16(png);  // high byte, as Pillow's RGB;16B and RGBA;16B unpackers
      png_set_strip_alpha(png);
      job->out_bytes_per_pixel = 3;
      break;
    default:
      png_error(png, "unknown colour type");
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != static_cast<size_t>(job->width) * job->out_bytes_per_pixel) {
    png_error(png, "unexpected row layout after conversion");
  }
  *stage = Stage::kReady;
  return true;
}

// Reads all rows (every Adam7 pass) and the chunks after the image data up to IEND.
bool ReadRows(PngJob* job, png_bytepp rows) {
  if (setjmp(png_jmpbuf(job->png))) return false;
  png_read_image(job->png, rows);
  job->rows_done = true;
  png_read_end(job->png, job->info);  // into `info`, so an eXIf or text chunk after IDAT counts as well
  return true;
}

class PngJobHolder {
 public:
  PngJobHolder() {
    job_.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job_, OnError, OnWarning);
    if (job_.png != nullptr) job_.info = png_create_info_struct(job_.png);
  }
  PngJobHolder(const PngJobHolder&) = delete;
  PngJobHolder& operator=(const PngJobHolder&) = delete;
  ~PngJobHolder() {
    if (job_.png != nullptr) png_destroy_read_struct(&job_.png, job_.info ? &job_.info : nullptr, nullptr);
  }
  PngJob* get() { return &job_; }

 private:
  PngJob job_;
};

Status JobError(const PngJob& job, const std::string& name) {
  if (job.timed_out) {
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%g", job.max_seconds);
    return Status::Error(name + ": PNG refused: decoding took longer than " + seconds + " s (DecodeLimits::max_seconds)");
  }
  if (job.truncated) {
    return Status::Error(name + (job.rows_done ? ": truncated PNG: the file ends before its IEND chunk"
                                               : ": truncated PNG: the file ends before the image is complete"));
  }
  return Status::Error(name + ": invalid PNG (" + job.message + ")");
}

// In place, right to left so that no source byte is overwritten before it is read: rows were read at their
// packed width (1, 2 or 3 bytes a pixel) into buffers sized for 3.
Status ExpandRows(const PngJob& job, RgbImage& image, const std::string& name) {
  png_colorp palette = nullptr;
  int palette_size = 0;
  if (job.color_type == PNG_COLOR_TYPE_PALETTE &&
      png_get_PLTE(job.png, job.info, &palette, &palette_size) != PNG_INFO_PLTE) {
    return Status::Error(name + ": invalid PNG (palette image without PLTE)");
  }
  const int w = image.width;
  for (int y = 0; y < image.height; ++y) {
    uint8_t* row = image.Row(y);
    switch (job.out_bytes_per_pixel) {
      case 1:
        if (palette != nullptr) {
          for (int x = w; x-- > 0;) {
            const int index = row[x];
            if (index >= palette_size) {
              return Status::Error(name + ": invalid PNG (pixel uses palette index " + std::to_string(index) +
                                   " but PLTE has " + std::to_string(palette_size) + " entries)");
            }
            row[3 * x + 0] = palette[index].red;
            row[3 * x + 1] = palette[index].green;
            row[3 * x + 2] = palette[index].blue;
          }
        } else {
          for (int x = w; x-- > 0;) row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = row[x];
        }
        break;
      case 2:
        for (int x = w; x-- > 0;) {
          const int v = row[2 * x] << 8 | row[2 * x + 1];  // PNG samples are big-endian
          row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = static_cast<uint8_t>(std::min(v, 255));
        }
        break;
      default:
        break;  // already RGB
    }
  }
  return Status::Ok();
}

// Pillow 9.4 PngImageFile.getexif: the eXIf chunk; without one, ImageMagick's "Raw profile type exif" text;
// then, if that EXIF has no Orientation, XMP in an "XML:com.adobe.xmp" text chunk.
uint32_t FindOrientation(png_structp png, png_infop info) {
  std::optional<uint32_t> orientation;
  png_uint_32 exif_size = 0;
  png_bytep exif = nullptr;
  png_textp texts = nullptr;
  const int num_texts = png_get_text(png, info, &texts, nullptr);
  auto text_of = [&](std::string_view key) -> std::optional<std::string_view> {
    std::optional<std::string_view> found;  // Pillow keeps the last chunk with a key
    for (int i = 0; i < num_texts; ++i) {
      if (texts[i].key != nullptr && key == texts[i].key && texts[i].text != nullptr) {
        found = std::string_view(texts[i].text,
                                 texts[i].compression > 0 ? texts[i].itxt_length : texts[i].text_length);
      }
    }
    return found;
  };
  if (png_get_eXIf_1(png, info, &exif_size, &exif) != 0 && exif != nullptr) {
    orientation = ExifOrientation({exif, exif_size});
  } else if (auto raw = text_of("Raw profile type exif")) {
    orientation = ExifOrientationFromRawProfile(*raw);
  }
  if (!orientation) {
    if (auto xmp = text_of("XML:com.adobe.xmp")) orientation = XmpOrientation(*xmp);
  }
  return orientation.value_or(1);
}

}  // namespace

Result<RgbImage> DecodePng(std::span<const uint8_t> bytes, const std::string& name, const DecodeLimits& limits) {
  PngJobHolder holder;
  PngJob* job = holder.get();
  if (job->png == nullptr || job->info == nullptr) return Status::Error(name + ": cannot start the PNG decoder");
  job->data = bytes.data();
  job->size = bytes.size();
  job->max_seconds = limits.max_seconds;
  job->deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(std::clamp(limits.max_seconds, 0.0, 1e7)));

  Stage stage = Stage::kHeader;
  if (!ReadHeader(job, limits.max_pixels, &stage)) return JobError(*job, name);
  if (stage == Stage::kTooBig) {
    const uint64_t pixels = uint64_t{job->width} * job->height;
    return Status::Error(name + ": PNG is " + std::to_string(job->width) + "x" + std::to_string(job->height) +
                         " = " + std::to_string(pixels) + " pixels, over the limit of " +
                         std::to_string(limits.max_pixels) + " (DecodeLimits::max_pixels)");
  }

  RgbImage image = RgbImage::Black(static_cast<int>(job->width), static_cast<int>(job->height));
  std::vector<png_bytep> rows(job->height);
  for (png_uint_32 y = 0; y < job->height; ++y) rows[y] = image.Row(static_cast<int>(y));
  if (!ReadRows(job, rows.data())) return JobError(*job, name);
  GLMV_RETURN_IF_ERROR(ExpandRows(*job, image, name));
  return ApplyExifOrientation(std::move(image), FindOrientation(job->png, job->info));
}

}  // namespace glmv
