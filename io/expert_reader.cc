#include "io/expert_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#if GLMV_HAVE_IO_URING
#include <liburing.h>
#endif

namespace glmv {
namespace {

uint64_t RoundUp(uint64_t n) { return (n + kExpertReadAlign - 1) / kExpertReadAlign * kExpertReadAlign; }

uint64_t NowNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

// Adds the time from construction to destruction to a counter: the caller's wait.
class StallTimer {
 public:
  explicit StallTimer(std::atomic<uint64_t>& total) : total_(total), start_(NowNs()) {}
  ~StallTimer() { total_ += NowNs() - start_; }

 private:
  std::atomic<uint64_t>& total_;
  uint64_t start_;
};

}  // namespace

#if GLMV_HAVE_IO_URING
struct ExpertReader::Ring {
  io_uring ring{};
  bool live = false;  // io_uring_queue_init succeeded
  std::vector<uint8_t> redo;  // per read of one submission: to be read again by pread
  ~Ring() {
    if (live) io_uring_queue_exit(&ring);
  }
};
#else
struct ExpertReader::Ring {};
#endif

bool IoUringBuiltIn() { return GLMV_HAVE_IO_URING != 0; }

std::vector<UnitExtent> UnitExtents(const ModelFile& file) {
  std::vector<UnitExtent> out;
  out.reserve(file.units().size());
  const uint8_t* data = file.data().data();
  for (const UnitView& u : file.units()) {
    out.push_back({u.name, file.header().data_offset + static_cast<uint64_t>(u.bytes.data() - data), u.bytes.size()});
  }
  return out;
}

Result<std::unique_ptr<ExpertReader>> ExpertReader::Open(const std::string& path, std::vector<UnitExtent> units,
                                                         const ExpertReaderOptions& options) {
  for (const UnitExtent& u : units) {
    if (u.offset % kExpertReadAlign != 0) {
      return Status::Error(path + ": unit '" + u.name + "' at offset " + std::to_string(u.offset) + " is not " +
                           std::to_string(kExpertReadAlign) + "-byte aligned");
    }
  }
  std::unique_ptr<ExpertReader> r(new ExpertReader());
  r->path_ = path;
  r->units_ = std::move(units);
  r->options_ = options;
  r->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (r->fd_ < 0) return Status::Error(path + ": cannot open: " + std::strerror(errno));
  if (options.direct) {
    int err = options.simulate_direct_error;
    if (err == 0) {
      r->direct_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
      if (r->direct_fd_ < 0) err = errno;
    }
    if (r->direct_fd_ >= 0) {
      r->direct_ok_ = true;
    } else {
      r->Note("O_DIRECT refused for " + path + " (" + std::strerror(err) + "): reading through the page cache");
    }
  }
  if (options.io_uring) {
#if GLMV_HAVE_IO_URING
    int err = options.simulate_io_uring_error;
    if (err == 0) {
      auto ring = std::make_unique<Ring>();
      const int rc = io_uring_queue_init(std::max(1u, options.ring_entries), &ring->ring, 0);
      if (rc == 0) {
        ring->live = true;
        ring->redo.resize(std::max(1u, options.ring_entries));
        r->ring_ = std::move(ring);
        r->ring_ok_ = true;
      } else {
        err = -rc;
      }
    }
    if (!r->ring_ok_) r->Note(std::string("io_uring refused (") + std::strerror(err) + "): reading with pread");
#else
    r->Note("io_uring not built in (no liburing): reading with pread");
#endif
  }
  return r;
}

ExpertReader::~ExpertReader() {
  ring_.reset();
  if (direct_fd_ >= 0) ::close(direct_fd_);
  if (fd_ >= 0) ::close(fd_);
}

bool ExpertReader::uses_io_uring() const { return ring_ok_.load(); }

size_t ExpertReader::UnitReadBytes(size_t unit) const { return RoundUp(units_.at(unit).bytes); }

std::vector<std::string> ExpertReader::notes() const {
  std::lock_guard<std::mutex> lock(notes_mutex_);
  return notes_;
}

void ExpertReader::Note(std::string line) {
  std::lock_guard<std::mutex> lock(notes_mutex_);
  notes_.push_back(std::move(line));
}

ExpertReadStats ExpertReader::stats() const {
  return {reads_.load(), bytes_.load(), uring_reads_.load(), static_cast<double>(stall_ns_.load()) * 1e-9};
}

void ExpertReader::Count(uint64_t bytes, bool uring) {
  ++reads_;
  bytes_ += bytes;
  if (uring) ++uring_reads_;
}

Status ExpertReader::UnitError(size_t unit, const std::string& what) const {
  const UnitExtent& u = units_[unit];
  return Status::Error(path_ + ": unit '" + u.name + "' at offset " + std::to_string(u.offset) + " (" +
                       std::to_string(u.bytes) + " bytes): " + what);
}

Status ExpertReader::CheckRequest(size_t unit, std::span<uint8_t> into) const {
  if (unit >= units_.size()) {
    return Status::Error(path_ + ": unit " + std::to_string(unit) + " does not exist (the file has " +
                         std::to_string(units_.size()) + ")");
  }
  if (reinterpret_cast<uintptr_t>(into.data()) % kExpertReadAlign != 0 || into.size() < UnitReadBytes(unit)) {
    return UnitError(unit, "the buffer must be " + std::to_string(kExpertReadAlign) + "-byte aligned and hold " +
                               std::to_string(UnitReadBytes(unit)) + " bytes");
  }
  return Status::Ok();
}

Status ExpertReader::PreadUnit(size_t unit, std::span<uint8_t> into) {
  const UnitExtent& u = units_[unit];
  const uint64_t want = RoundUp(u.bytes);
  uint64_t done = 0;
  while (done < want) {
    const bool direct = direct_ok_.load();
    const int fd = direct ? direct_fd_ : fd_;
    const ssize_t got = ::pread(fd, into.data() + done, want - done, static_cast<off_t>(u.offset + done));
    if (got < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EINVAL && direct) {  // the filesystem takes O_DIRECT opens but not its reads
        if (direct_ok_.exchange(false)) {
          Note("O_DIRECT reads refused for " + path_ + " (" + std::strerror(err) + "): reading through the page cache");
        }
        continue;
      }
      return UnitError(unit, std::string("read failed: ") + std::strerror(err));
    }
    if (got == 0) break;
    done += static_cast<uint64_t>(got);
  }
  // The data section ends the file in whole blocks, so only the unit's own bytes must be there; a file cut
  // inside the padding after the last unit still reads.
  if (done < u.bytes) {
    return UnitError(unit, "short read: " + std::to_string(done) + " of " + std::to_string(u.bytes) +
                               " bytes (the file ends; truncated?)");
  }
  Count(done, false);
  return Status::Ok();
}

Status ExpertReader::Read(size_t unit, std::span<uint8_t> into) {
  GLMV_RETURN_IF_ERROR(CheckRequest(unit, into));
  StallTimer timer(stall_ns_);
  if (ring_ok_.load()) {
    std::unique_lock<std::mutex> lock(ring_mutex_, std::try_to_lock);
    if (lock.owns_lock() && ring_ok_.load()) {
      const UnitRead one{unit, into};
      return RingBatch(std::span<const UnitRead>(&one, 1));
    }
  }
  return PreadUnit(unit, into);
}

Status ExpertReader::ReadBatch(std::span<const UnitRead> reads) {
  for (const UnitRead& r : reads) {
    Status bad = CheckRequest(r.unit, r.into);
    if (bad.ok()) continue;
    for (const UnitRead& each : reads) {  // nothing is read
      if (each.result) *each.result = bad;
    }
    return bad;
  }
  StallTimer timer(stall_ns_);
  if (ring_ok_.load()) {
    std::lock_guard<std::mutex> lock(ring_mutex_);
    if (ring_ok_.load()) return RingBatch(reads);
  }
  return PreadBatch(reads);
}

Status ExpertReader::PreadBatch(std::span<const UnitRead> reads) {
  Status first;
  for (const UnitRead& r : reads) Keep(r, PreadUnit(r.unit, r.into), first);
  return first;
}

void ExpertReader::Keep(const UnitRead& read, Status status, Status& first) {
  if (read.result) *read.result = status;
  if (first.ok() && !status.ok()) first = std::move(status);
}

#if GLMV_HAVE_IO_URING
Status ExpertReader::RingBatch(std::span<const UnitRead> reads) {
  io_uring* ring = &ring_->ring;
  const size_t depth = std::max(1u, options_.ring_entries);
  Status first;
  for (size_t begin = 0; begin < reads.size(); begin += depth) {
    const size_t end = std::min(reads.size(), begin + depth);
    if (!ring_ok_.load()) {  // it failed on an earlier submission of this batch
      for (size_t i = begin; i < end; ++i) Keep(reads[i], PreadUnit(reads[i].unit, reads[i].into), first);
      continue;
    }
    // Whether O_DIRECT was on when the batch went out (a fallback below changes it for the rest).
    const bool direct = direct_ok_.load();
    size_t queued = 0;
    for (size_t i = begin; i < end; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (!sqe) break;  // cannot happen with depth ≤ ring entries; the rest go by pread below
      const UnitExtent& u = units_[reads[i].unit];
      io_uring_prep_read(sqe, direct ? direct_fd_ : fd_, reads[i].into.data(), static_cast<unsigned>(RoundUp(u.bytes)),
                         u.offset);
      io_uring_sqe_set_data64(sqe, i);
      ++queued;
    }
    // Per read of the submission: 0 in flight, 1 to be read again by pread, 2 done (read or its error kept).
    std::vector<uint8_t>& redo = ring_->redo;  // guarded by ring_mutex_, held by the caller
    std::fill(redo.begin(), redo.end(), 0);
    for (size_t i = begin + queued; i < end; ++i) redo[i - begin] = 1;
    size_t submitted = 0;
    while (submitted < queued) {
      const int rc = io_uring_submit(ring);
      if (rc == -EINTR) continue;
      if (rc <= 0) {
        // Refused (seccomp on io_uring_enter, a full kernel queue): the ring is never used again, so the
        // requests left in it cannot land in buffers reused later; they go by pread.
        ring_ok_ = false;
        Note(std::string("io_uring submission refused (") + std::strerror(rc < 0 ? -rc : EAGAIN) + "): reading with pread");
        for (size_t i = begin + submitted; i < begin + queued; ++i) redo[i - begin] = 1;
        break;
      }
      submitted += static_cast<size_t>(rc);
    }
    for (size_t seen = 0; seen < submitted; ++seen) {
      io_uring_cqe* cqe = nullptr;
      int w = io_uring_wait_cqe(ring, &cqe);
      while (w == -EINTR) w = io_uring_wait_cqe(ring, &cqe);
      if (w < 0) {  // the ring broke: what did not complete is redone by pread (its reads are idempotent)
        ring_ok_ = false;
        Note(std::string("io_uring completion failed (") + std::strerror(-w) + "): reading with pread");
        for (size_t i = begin; i < end; ++i) {
          if (redo[i - begin] == 0) redo[i - begin] = 1;
        }
        break;
      }
      const size_t i = static_cast<size_t>(io_uring_cqe_get_data64(cqe));
      const int res = cqe->res;
      io_uring_cqe_seen(ring, cqe);
      const UnitExtent& u = units_[reads[i].unit];
      if (res == -EINVAL && direct) {
        if (direct_ok_.exchange(false)) {
          Note("O_DIRECT reads refused for " + path_ + " (" + std::strerror(EINVAL) + "): reading through the page cache");
        }
        redo[i - begin] = 1;
      } else if (res == -EOPNOTSUPP || res == -ENOSYS) {  // a kernel without IORING_OP_READ
        if (ring_ok_.exchange(false)) Note(std::string("io_uring reads refused (") + std::strerror(-res) + "): reading with pread");
        redo[i - begin] = 1;
      } else if (res < 0) {
        Keep(reads[i], UnitError(reads[i].unit, std::string("read failed: ") + std::strerror(-res)), first);
        redo[i - begin] = 2;
      } else if (static_cast<uint64_t>(res) < RoundUp(u.bytes)) {
        redo[i - begin] = 1;  // short: pread finishes it, or names the end of the file
      } else {
        Count(static_cast<uint64_t>(res), true);
        Keep(reads[i], Status::Ok(), first);
        redo[i - begin] = 2;
      }
    }
    for (size_t i = begin; i < end; ++i) {
      if (redo[i - begin] == 1) Keep(reads[i], PreadUnit(reads[i].unit, reads[i].into), first);
    }
  }
  return first;
}
#else
Status ExpertReader::RingBatch(std::span<const UnitRead> reads) { return PreadBatch(reads); }
#endif

}  // namespace glmv
