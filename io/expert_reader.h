// Reads whole units of a .glmv file (io/model_file.h: a routed expert's gate, up and down matrices, one
// 4 KiB-aligned range) into buffers the caller owns: the mechanism under the expert cache that streams a model
// larger than memory from disk (issue 14).
//
// How it reads, best first, each step falling back to the next when the kernel or the filesystem refuses:
//   - O_DIRECT (no page cache: the cache's budget is the memory the experts take, and a cgroup limit does not
//     fill with cached file pages). A unit starts 4 KiB-aligned and the data section ends the file in whole
//     4 KiB blocks, so a read covers the unit rounded up to 4 KiB (UnitReadBytes) and buffers are 4 KiB-aligned.
//     Refused with EINVAL by filesystems without direct I/O, at open or at the first read: then buffered reads.
//   - io_uring (liburing; -Dio_uring=auto): a batch of units goes to the kernel in one submission and is
//     read in parallel. Refused with EPERM or ENOSYS (seccomp, kernel.io_uring_disabled, old kernels), or
//     when the build has no liburing: then pread, one unit after another.
// Each fallback is one line in notes() for the caller to print (io/ never prints).
//
// A short or failed read is an error naming the file, the unit and its offset; the reader stays usable.
// Thread-safe: any thread may call Read and ReadBatch at once. preads run in parallel; the one ring is used by
// one call at a time, and a single-unit Read that finds it busy uses pread instead of waiting for it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "io/model_file.h"
#include "io/status.h"

namespace glmv {

// Where one unit lies in the file.
struct UnitExtent {
  std::string name;     // the unit's name in the file ("model.language_model.layers.1.mlp.experts.3")
  uint64_t offset = 0;  // from the start of the file, a multiple of kExpertReadAlign
  uint64_t bytes = 0;   // the unit's own bytes (reads cover them rounded up to kExpertReadAlign)
};

// Every unit of `file`, in unit-table order (absolute offsets).
std::vector<UnitExtent> UnitExtents(const ModelFile& file);

// Whether this build has io_uring (liburing found at configure time). Without it, asking for io_uring gives
// the note "io_uring not built in".
bool IoUringBuiltIn();

inline constexpr size_t kExpertReadAlign = 4096;  // buffer address, file offset and length of a direct read

struct ExpertReaderOptions {
  bool direct = true;    // O_DIRECT when the filesystem allows it
  bool io_uring = true;  // io_uring when built with liburing and the kernel allows it
  unsigned ring_entries = 16;  // reads in flight per submission
  // Tests: behave as though the kernel refused io_uring's setup, or the filesystem refused O_DIRECT at open,
  // with this errno (EPERM, ENOSYS, EINVAL, ...); 0: ask the kernel.
  int simulate_io_uring_error = 0;
  int simulate_direct_error = 0;
};

struct ExpertReadStats {
  uint64_t reads = 0;          // units read
  uint64_t bytes = 0;          // bytes transferred (whole 4 KiB blocks)
  uint64_t uring_reads = 0;    // of `reads`, through io_uring
  double stall_seconds = 0;    // time callers spent inside Read and ReadBatch (waiting for the disk)
};

// One unit to read in a batch: `into` is 4 KiB-aligned and holds at least UnitReadBytes(unit).
struct UnitRead {
  size_t unit = 0;
  std::span<uint8_t> into;
  Status* result = nullptr;  // when set, receives this unit's own outcome
};

class ExpertReader {
 public:
  // Opens `path` (whose units are `units`, e.g. UnitExtents of its ModelFile) for reading. An error only when
  // the file cannot be opened at all or a unit is misaligned; refusals of O_DIRECT or io_uring are notes.
  static Result<std::unique_ptr<ExpertReader>> Open(const std::string& path, std::vector<UnitExtent> units,
                                                    const ExpertReaderOptions& options = {});
  ~ExpertReader();
  ExpertReader(const ExpertReader&) = delete;
  ExpertReader& operator=(const ExpertReader&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<UnitExtent>& units() const { return units_; }
  // Bytes a buffer for `unit` must hold: its bytes rounded up to kExpertReadAlign.
  size_t UnitReadBytes(size_t unit) const;

  // Reads unit `unit` into `into` (kExpertReadAlign-aligned, at least UnitReadBytes(unit) bytes); its first
  // units()[unit].bytes bytes are then the unit's.
  Status Read(size_t unit, std::span<uint8_t> into);
  // Reads several units, through io_uring in one submission when it is available. On an error the other
  // units of the batch are still read; the first error is returned.
  Status ReadBatch(std::span<const UnitRead> reads);

  bool direct() const { return direct_fd_ >= 0 && direct_ok_.load(); }
  bool uses_io_uring() const;
  // One line per fallback taken, oldest first ("io_uring refused (Operation not permitted): reading with pread").
  std::vector<std::string> notes() const;
  ExpertReadStats stats() const;

 private:
  struct Ring;  // io_uring state (empty without liburing)
  ExpertReader() = default;
  Status CheckRequest(size_t unit, std::span<uint8_t> into) const;
  // pread until the unit is read, the file ends (a short read) or an error; falls back from O_DIRECT on EINVAL.
  Status PreadUnit(size_t unit, std::span<uint8_t> into);
  Status UnitError(size_t unit, const std::string& what) const;
  void Note(std::string line);
  // Through the ring (its lock held by the caller). Units the ring could not read are read with pread.
  Status RingBatch(std::span<const UnitRead> reads);
  Status PreadBatch(std::span<const UnitRead> reads);
  // Hands `status` to the read's result and keeps the first error in `first`.
  static void Keep(const UnitRead& read, Status status, Status& first);
  void Count(uint64_t bytes, bool uring);

  std::string path_;
  std::vector<UnitExtent> units_;
  ExpertReaderOptions options_;
  int fd_ = -1;          // buffered
  int direct_fd_ = -1;   // O_DIRECT, or -1
  std::atomic<bool> direct_ok_{false};
  std::unique_ptr<Ring> ring_;
  std::atomic<bool> ring_ok_{false};
  std::mutex ring_mutex_;  // one submission at a time
  mutable std::mutex notes_mutex_;
  std::vector<std::string> notes_;
  std::atomic<uint64_t> reads_{0}, bytes_{0}, uring_reads_{0}, stall_ns_{0};
};

}  // namespace glmv
