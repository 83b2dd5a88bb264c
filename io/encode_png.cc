#include "io/encode_png.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <new>

#include <png.h>

namespace glmv {
namespace {

// libpng reports errors by longjmp to the setjmp in WriteRows; the callbacks and WriteRows hold plain data
// only (longjmp must not skip a C++ destructor). The output vector is owned by EncodePng.
struct PngWriteJob {
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::vector<uint8_t>* out = nullptr;
  char message[256] = {};
};

[[noreturn]] void OnError(png_structp png, png_const_charp message) {
  auto* job = static_cast<PngWriteJob*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof(job->message), "%s", message);
  png_longjmp(png, 1);
}

void OnWarning(png_structp, png_const_charp) {}

void AppendToVector(png_structp png, png_bytep data, size_t size) {
  auto* job = static_cast<PngWriteJob*>(png_get_io_ptr(png));
  bool grown = true;
  try {
    job->out->insert(job->out->end(), data, data + size);
  } catch (const std::bad_alloc&) {
    grown = false;  // do not let the exception unwind through libpng's C frames
  }
  if (!grown) png_error(png, "out of memory");
}

void FlushNothing(png_structp) {}

bool WriteRows(PngWriteJob* job, const RgbImage* image, png_bytepp rows) {
  if (setjmp(png_jmpbuf(job->png))) return false;
  png_set_write_fn(job->png, job, AppendToVector, FlushNothing);
  png_set_IHDR(job->png, job->info, static_cast<png_uint_32>(image->width), static_cast<png_uint_32>(image->height),
               8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(job->png, 6);
  png_write_info(job->png, job->info);
  png_write_image(job->png, rows);
  png_write_end(job->png, nullptr);
  return true;
}

// Writes all of `bytes` to `fd`, retrying short writes.
bool WriteAll(int fd, const std::vector<uint8_t>& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Result<std::vector<uint8_t>> EncodePng(const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0) return Status::Error("EncodePng: empty image");
  if (image.pixels.size() != static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * 3) {
    return Status::Error("EncodePng: pixel buffer holds " + std::to_string(image.pixels.size()) + " bytes, not " +
                         std::to_string(image.width) + "x" + std::to_string(image.height) + "x3");
  }
  std::vector<uint8_t> out;
  PngWriteJob job;
  job.out = &out;
  job.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job, OnError, OnWarning);
  if (job.png != nullptr) job.info = png_create_info_struct(job.png);
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  for (int y = 0; y < image.height; ++y) rows[y] = const_cast<png_bytep>(image.Row(y));  // libpng only reads
  const bool ok = job.info != nullptr && WriteRows(&job, &image, rows.data());
  if (job.png != nullptr) png_destroy_write_struct(&job.png, job.info ? &job.info : nullptr);
  if (!ok) return Status::Error(std::string("EncodePng: ") + (job.message[0] ? job.message : "cannot start libpng"));
  return out;
}

Status WritePng(const std::string& path, const RgbImage& image) {
  GLMV_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, EncodePng(image));
  // Same directory as `path`, so rename() is atomic (no cross-filesystem copy).
  std::string temp = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) return Status::Error(path + ": cannot create a temporary file (" + std::strerror(errno) + ")");
  bool ok = WriteAll(fd, bytes);
  int saved_errno = errno;
  // mkstemp makes the file 0600; a PNG is not secret, so give it the usual 0644. (Honouring the umask would
  // mean calling umask(), which changes it for every thread for a moment.)
  ::fchmod(fd, 0644);
  if (ok && ::fsync(fd) != 0) { ok = false; saved_errno = errno; }
  if (::close(fd) != 0 && ok) { ok = false; saved_errno = errno; }
  if (ok && std::rename(temp.c_str(), path.c_str()) != 0) { ok = false; saved_errno = errno; }
  if (!ok) {
    ::unlink(temp.c_str());
    return Status::Error(path + ": cannot write PNG (" + std::strerror(saved_errno) + ")");
  }
  return Status::Ok();
}

}  // namespace glmv
